"""A summand read as coefficient · scalar factors · chain of matrices: how the rewrite rules
(:mod:`matdiff.notation.rewrite`, :mod:`matdiff.notation.algebra`) take sums and products apart."""

from __future__ import annotations

from dataclasses import dataclass

from matdiff.engine.ir import folds
from matdiff.notation.mtree import MatrixExpr, number, product


@dataclass(frozen=True)
class Summand:
    """A summand as coefficient · scalar factors · chain of matrices (possibly empty)."""

    coefficient: float
    scalars: tuple
    chain: tuple

    def build(self) -> MatrixExpr:
        return product(number(self.coefficient), *self.scalars, *self.chain)


def summand_of(x: MatrixExpr) -> Summand:
    if x.op == "negate":
        inner = summand_of(x.args[0])
        return Summand(-inner.coefficient, inner.scalars, inner.chain)
    if x.op == "number":
        return Summand(x.value, (), ())
    if x.op == "product":
        coefficient, scalars, chain = 1.0, [], []
        for f in x.args:
            if f.op == "number" and folds(coefficient * f.value):
                coefficient *= f.value
            elif f.shape_class == "scalar" and x.shape_class != "scalar":
                scalars.append(f)
            else:
                chain.append(f)
        return Summand(coefficient, tuple(scalars), tuple(chain))
    if x.shape_class == "scalar":
        return Summand(1.0, (x,), ())
    return Summand(1.0, (), (x,))
