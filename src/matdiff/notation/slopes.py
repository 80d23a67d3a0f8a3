"""An elementwise function's derivative f'(z), printed in terms of its value a = f(z) and its argument z.

Backprop texts write a layer's local derivative through the activation it already computed:
a.*(1 - a) for a sigmoid, step(z) for a rectifier. Those forms are not
written here: each is the function's own ``derivative`` (its record in engine/functions.py),
built on two placeholder variables and printed by the matrix printer, so a new function brings its
own. ``bindings`` names the delta a factor belongs to; ``check``'s repairs say which derivative a
factor of a claim is.
"""

from __future__ import annotations

from functools import lru_cache

from matdiff.engine import ir
from matdiff.engine.functions import ENTRIES, FUNCTIONS
from matdiff.engine.simplify import simplify
from matdiff.notation.matrixform import Recovery
from matdiff.notation.mtree import MatrixExpr
from matdiff.notation.rewrite import rebuild

_VALUE, _ARGUMENT = "_value", "_argument"  # the placeholders: not names of the language
_SHAPES = {"scalar": (), "column": (2,), "matrix": (2, 3)}


@lru_cache(maxsize=None)
def _template(function: str, shape_class: str) -> MatrixExpr | None:
    record = FUNCTIONS.get(function)
    if record is None or record.acts != ENTRIES or record.derivative is None or shape_class not in _SHAPES:
        return None
    shape = _SHAPES[shape_class]
    derivative = simplify(record.derivative(ir.var(_ARGUMENT, shape), ir.var(_VALUE, shape)))
    if derivative.op == "const":  # step and sign: nothing to name
        return None
    return Recovery()(derivative)


def slope(function: str, value: MatrixExpr, argument: MatrixExpr) -> MatrixExpr | None:
    """f'(z) for a = f(z) with ``value`` standing for a and ``argument`` for z (a.*(1 - a) for a
    sigmoid); None when ``function`` is not elementwise or its derivative is a constant."""
    template = _template(function, value.shape_class)
    return None if template is None else _placed(template, {_VALUE: value, _ARGUMENT: argument})


def _placed(x: MatrixExpr, table: dict[str, MatrixExpr]) -> MatrixExpr:
    if x.op == "leaf":
        return table.get(x.name, x)
    return rebuild(x, tuple(_placed(a, table) for a in x.args))
