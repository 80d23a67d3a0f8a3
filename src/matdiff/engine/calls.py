"""Function calls of the language, lowered: the table's primitives with their shape rules, the
notation for contractions and reshapes (tr, diag, sum, norm2, norm1, vec, kron), constant matrices
(eye, ones), and the reductions and column functions along a dimension (engine/along.py). A mixin
of the lowering, which provides what is declared below."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Callable

from matdiff.engine import ir
from matdiff.engine.along import columnwise_along, mean_along, sum_along
from matdiff.engine.ir import Tensor, const, einsum, eye, is_all_ones
from matdiff.engine.functions import COLUMNS, ENTRIES, FUNCTIONS, Function
from matdiff.engine.values import Value
from matdiff.errors import MatdiffError, UnknownNameError
from matdiff.language.shapes import Dims
from matdiff.language.syntax import Call, Name, Number


class Calls:
    """How a call becomes IR; mixed into the lowering."""

    dims: Dims
    error: Callable[..., MatdiffError]
    show: Callable[[Value], str]
    record: Callable[[Tensor, int], Tensor]
    expression: Callable[..., Value]
    squeeze: Callable[[Value], Tensor]

    def lower_Call(self, node: Call) -> Value:
        name, position = node.function, node.position
        if name in ("eye", "ones"):
            return self.constant_matrix(node)
        if name not in FUNCTION_NAMES:
            raise self.error(f"unknown function {name}(); known: {', '.join(sorted(FUNCTION_NAMES))}",
                             position, UnknownNameError)
        if name in _ALONG_A_DIMENSION and (len(node.arguments) != 1 or name == "mean"):
            return self.along(node)
        arity = 2 if name == "kron" else 1
        if len(node.arguments) != arity:
            raise self.error(f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, "
                             f"not {len(node.arguments)}", position, MatdiffError)
        arguments = [self.expression(a) for a in node.arguments]
        if name in FUNCTIONS:
            return self.primitive(FUNCTIONS[name], arguments[0], position)
        return _SUGAR[name](self, *arguments, position=position)

    def along(self, node: Call) -> Value:
        """``sum(X, d)``, ``mean(X[, d])``, ``softmax(Z, d)``, ``logsumexp(Z, d)``: d is 1 (down the
        columns) or 2 (along the rows), written as a number (engine/along.py)."""
        name, position = node.function, node.position
        if len(node.arguments) not in (1, 2):
            raise self.error(f"{name}() takes 1 or 2 arguments (X, or X and a dimension 1 or 2), "
                             f"not {len(node.arguments)}", position, MatdiffError)
        dimension = None
        if len(node.arguments) == 2:
            given = node.arguments[1]
            if not (isinstance(given, Number) and given.value in (1.0, 2.0)):
                raise self.error(f"the dimension of {name}(X, dimension) is 1 (down each column) or 2 (along "
                                 "each row)", getattr(given, "position", position), MatdiffError)
            dimension = int(given.value)
        x = self.expression(node.arguments[0])
        if name == "mean":
            result, row = mean_along(x, dimension)
        elif name == "sum":
            result, row = sum_along(x, dimension or 1)
        else:
            if not x.node.rank:
                raise self.error(f"{name}() takes a vector or a matrix, not a scalar", position)
            result, row = columnwise_along(name, x, dimension or 1)
        return Value(self.record(result, position), row)

    def primitive(self, function: Function, x: Value, position: int) -> Value:
        """A function of the table, its shape rule checked here: entries keep the shape; a column
        function takes a vector or a matrix (reducing: a number per column, a row); the matrix
        functions take a square matrix and of a scalar are what they mean for numbers."""
        if function.acts == ENTRIES:
            return Value(self.record(function(x.node), position), x.row)
        if function.acts == COLUMNS:
            if x.node.rank == 0:
                raise self.error(f"{function.name}() takes a vector or a matrix, not a scalar", position)
            row = x.node.rank == 2 if function.reduces else x.row
            return Value(self.record(function(x.node), position), row)
        if x.node.rank == 0:
            assert function.of_a_number is not None, function.name  # every matrix function's record says
            return Value(self.record(function.of_a_number(x.node), position))
        return Value(self.record(function(self.square(x, function.name, position)), position))

    def square(self, value: Value, name: str, position: int) -> Tensor:
        if value.node.rank != 2 or not self.dims.unify(*value.node.shape):
            if value.node.rank == 1 and is_all_ones(value.node.shape):
                return self.squeeze(value)
            raise self.error(f"{name}() needs a square matrix, not {self.show(value)}", position)
        return value.node

    def function_tr(self, x: Value, position: int) -> Value:
        if x.node.rank == 0:
            return x
        return Value(self.record(einsum((), (self.square(x, "tr", position), ("i", "i"))), position))

    def function_diag(self, x: Value, position: int) -> Value:
        if x.node.rank == 0:
            return x
        if x.node.rank == 2 and x.node.shape.count(1) == 1:  # a 1×n or n×1 matrix is a vector here, as in MATLAB
            x = Value(ir.reshape(x.node, tuple(d for d in x.node.shape if d != 1)))
        if x.node.rank == 1:
            n = x.node.shape[0]
            return Value(self.record(einsum(("i", "j"), (x.node, ("i",)), (eye(n), ("i", "j"))), position))
        return Value(self.record(einsum(("i",), (self.square(x, "diag", position), ("i", "i"))), position))

    def function_sum(self, x: Value, position: int) -> Value:
        labels = tuple(range(x.node.rank))
        return Value(self.record(einsum((), (x.node, labels)), position))

    def function_norm2(self, x: Value, position: int) -> Value:
        labels = tuple(range(x.node.rank))
        squares = self.record(einsum((), (x.node, labels), (x.node, labels)), position)
        return Value(self.record(ir.apply("sqrt", squares), position))

    def function_norm1(self, x: Value, position: int) -> Value:
        return self.function_sum(Value(self.record(ir.apply("abs", x.node), position), x.row), position)

    def function_vec(self, x: Value, position: int) -> Value:
        if x.node.rank < 2:
            return Value(x.node)
        rows, columns = x.node.shape
        stacked = ir.reshape(ir.transpose(x.node), (ir.dim_product((rows, columns)),))
        return Value(self.record(stacked, position))

    def function_kron(self, a: Value, b: Value, position: int) -> Value:
        """kron(A, B)[(i,k), (j,l)] = A_ij·B_kl, on the 2-D views (a column is n×1)."""
        def axes(value: Value, tag: str):
            kind = value.kind
            row = (tag + "r") if kind in ("matrix", "column") else None
            column = (tag + "c") if kind in ("matrix", "row") else None
            return row, column

        (ar, ac), (br, bc) = axes(a, "a"), axes(b, "b")
        sizes: dict = {}
        for value, labels in ((a, [x for x in (ar, ac) if x]), (b, [x for x in (br, bc) if x])):
            sizes.update(zip(labels, value.node.shape))
        output = [x for x in (ar, br, ac, bc) if x]
        product = einsum(output, (a.node, [x for x in (ar, ac) if x]), (b.node, [x for x in (br, bc) if x]))
        row_dims = [sizes[x] for x in (ar, br) if x]
        column_dims = [sizes[x] for x in (ac, bc) if x]
        shape = tuple(ir.dim_product(ds) for ds in (row_dims, column_dims) if ds)
        is_row = not row_dims and bool(column_dims)
        return Value(self.record(ir.reshape(product, shape), position), is_row)

    def dimension(self, argument, position: int):
        if isinstance(argument, Number) and argument.value.is_integer() and argument.value >= 1:
            return int(argument.value)
        if isinstance(argument, Name):
            return argument.name
        raise self.error("eye() and ones() take sizes: positive integers or dimension names", position,
                         MatdiffError)

    def constant_matrix(self, node: Call) -> Value:
        count_ok = (1,) if node.function == "eye" else (1, 2)
        if len(node.arguments) not in count_ok:
            raise self.error(f"{node.function}() takes {' or '.join(map(str, count_ok))} size argument(s)",
                             node.position, MatdiffError)
        dims = tuple(self.dimension(a, node.position) for a in node.arguments)
        if node.function == "eye":
            return Value(eye(dims[0]))
        return Value(const(1.0, dims))


# The functions that are notation for contractions and reshapes, not ops of their own.
_SUGAR: dict[str, Callable[..., Value]] = {
    "tr": Calls.function_tr,
    "diag": Calls.function_diag,
    "sum": Calls.function_sum,
    "norm2": Calls.function_norm2,
    "norm1": Calls.function_norm1,
    "vec": Calls.function_vec,
    "kron": Calls.function_kron,
}

_ALONG_A_DIMENSION = ("sum", "mean", "softmax", "logsumexp")  # take an optional dimension, 1 or 2


class _FunctionNames(Collection):
    """Every function name of the language: the records' (read live, so a function registered later
    is one), the notation for contractions, and mean, eye and ones."""

    _OTHERS = (*_SUGAR, "mean", "eye", "ones")

    def __contains__(self, name: object) -> bool:
        return name in FUNCTIONS or name in self._OTHERS

    def __iter__(self) -> Iterator[str]:
        return iter((*FUNCTIONS, *self._OTHERS))

    def __len__(self) -> int:
        return len(FUNCTIONS) + len(self._OTHERS)


FUNCTION_NAMES = _FunctionNames()
"""Every function name of the language."""
