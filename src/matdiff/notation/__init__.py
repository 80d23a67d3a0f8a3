"""Printed forms of an IR tensor: matrix notation (recovery, rewrites, bindings), Kronecker/vec
form, index notation, LaTeX, and the shared shape-text and report helpers."""
