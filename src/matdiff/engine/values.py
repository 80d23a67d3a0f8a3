"""A lowered value: an IR tensor plus how the language sees it (a vector is a column unless it is a
row). Shared by the lowering and its function calls."""

from __future__ import annotations

from dataclasses import dataclass

from matdiff.engine.ir import Tensor


@dataclass(frozen=True)
class Value:
    """An IR tensor plus how the language sees it: a rank-1 tensor is a column unless ``row``."""

    node: Tensor
    row: bool = False

    @property
    def kind(self) -> str:
        return ("scalar", "row" if self.row else "column", "matrix")[min(self.node.rank, 2)]

    def surface(self) -> tuple:
        """The MATLAB-view shape: () for a scalar, (n,) column, (1, n) row, (a, b) matrix."""
        shape = self.node.shape
        return (1,) + shape if self.row else shape

    def as_matrix(self) -> tuple:
        """The 2-D view used by products: a column is n×1, a row 1×n, a scalar 1×1."""
        shape = self.node.shape
        if not shape:
            return (1, 1)
        if len(shape) == 1:
            return (1, shape[0]) if self.row else (shape[0], 1)
        return shape


