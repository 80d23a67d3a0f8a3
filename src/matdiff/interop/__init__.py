"""Bridges to other libraries (SymPy)."""
