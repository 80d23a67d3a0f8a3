"""matdiff: matrix calculus that gets the shapes right.

The pipeline, one module per arrow:
    syntax (parse) -> lowering (shapes, IR) -> differentiate -> simplify -> layout
    -> matrixform / indexform (print) | evaluate (numbers) | codegen (compile)

Public API (stable, see SPEC §3): :func:`diff`, :func:`evaluate`, :class:`Derivative`,
:class:`MatdiffError` and its subclasses.
"""

from matdiff.errors import (
    DomainError,
    LayoutError,
    LimitError,
    MatdiffError,
    ParseError,
    ShapeError,
    UnknownNameError,
    ValueMismatchError,
)
from matdiff.api import Derivative, diff, evaluate

__all__ = [
    "Derivative",
    "DomainError",
    "LayoutError",
    "LimitError",
    "MatdiffError",
    "ParseError",
    "ShapeError",
    "UnknownNameError",
    "ValueMismatchError",
    "diff",
    "evaluate",
]
__version__ = "0.1.0"
