"""matdiff: matrix calculus that gets the shapes right.

The pipeline, one module per arrow:
    syntax (parse) -> lowering (shapes, IR) -> differentiate -> simplify -> layout
    -> matrixform / indexform (print) | numeric (numbers) | codegen (compile)

Public API (stable: tests outside the project rely on it): :func:`diff`, :func:`evaluate`,
:func:`gradients` (every gradient of a scalar from one backward pass), :class:`Derivative`,
:class:`MatdiffError` and its subclasses.
"""


from matdiff.errors import (
    DomainError,
    InternalError,
    LayoutError,
    LimitError,
    MatdiffError,
    ParseError,
    ShapeError,
    UnknownNameError,
    ValueMismatchError,
)
from matdiff.api import Derivative, diff, evaluate, infer_shapes
from matdiff.backward import Gradients, gradients


# The understanding tools and interop load on first use, so `import matdiff` and the CLI stay fast.
_LAZY = {
    "explain": ("matdiff.tools.explanation", "explain"),
    "check": ("matdiff.tools.checking", "check"),
    "entries": ("matdiff.tools.componentwise", "entries"),
    "from_sympy": ("matdiff.interop.sympy_bridge", "from_sympy"),
}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        module, attribute = _LAZY[name]
        return getattr(import_module(module), attribute)
    raise AttributeError(f"module 'matdiff' has no attribute {name!r}")

__all__ = [
    "Derivative",
    "DomainError",
    "Gradients",
    "InternalError",
    "LayoutError",
    "LimitError",
    "MatdiffError",
    "ParseError",
    "ShapeError",
    "UnknownNameError",
    "ValueMismatchError",
    "diff",
    "evaluate",
    "gradients",
    "infer_shapes",
    "explain",
    "check",
    "entries",
    "from_sympy",
]
__version__ = "0.1.0"
