"""Generated NumPy, JAX and PyTorch source for a derivative, and compiling it."""
