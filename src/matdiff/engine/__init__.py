"""The engine: the tensor IR, the table of primitives, lowering from syntax to IR, reverse-mode
differentiation, simplification, layouts and numeric evaluation. Knows nothing of printing."""
