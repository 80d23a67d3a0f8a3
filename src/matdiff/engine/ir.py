"""The tensor IR: immutable, hash-consed nodes in index (Einstein) form.

Every value, derivative and Hessian is a DAG of :class:`Tensor` nodes. A node is
an operation name (``op``), its operands (``args``), operation parameters
(``params``) and its shape. Dimensions are ints or names (``"m"``, or products
``"m*n"`` for vec/kron shapes).

Nodes are interned: building the same node twice returns the same object, so
structural equality is identity, shared subexpressions are found for free and
passes can memoise on ``id``. Nothing here evaluates or differentiates; the
meaning of each op lives in :mod:`matdiff.engine.primitives`.

The op set is small on purpose (everything else is rewritten into it):

- ``var`` (params: name), ``const`` (params: value; every entry equals it),
  ``eye`` (identity / Kronecker delta, shape (n, n)),
- ``einsum`` (params: input labels per operand, output labels): products,
  transposes, traces, sums, Hadamard and outer products, scaling,
- ``add`` (n-ary sum of same-shaped terms),
- elementwise functions (``exp``, ``log``, ..., ``constant_power``: x.^p with the number p in params),
  and ``power`` (x .^ e with e a tensor of x's shape),
- the other functions of :data:`matdiff.engine.functions.FUNCTIONS`: ``inv``, ``det`` … (of square
  matrices), ``softmax`` … (column by column),
- ``reshape`` (row-major, to ``shape``): vec, kron and the vec layout.
"""

from __future__ import annotations

import math
import weakref
from typing import Callable, Iterable, Sequence, Union

Dim = Union[int, str]
Shape = tuple


class Tensor:
    """An immutable IR node. Build with the factories below, never directly."""

    __slots__ = ("op", "args", "params", "shape", "__weakref__")

    op: str
    args: tuple["Tensor", ...]
    params: tuple
    shape: Shape

    def __setattr__(self, name, value):
        raise AttributeError("Tensor nodes are immutable")

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        if self.op == "var":
            return f"var({self.params[0]})"
        if self.op == "const":
            return f"const({self.params[0]}, {self.shape})"
        inner = ", ".join(repr(a) for a in self.args)
        extra = f"{self.params}; " if self.params else ""
        return f"{self.op}({extra}{inner})"


_interned: "weakref.WeakValueDictionary[tuple, Tensor]" = weakref.WeakValueDictionary()


def make(op: str, args: Sequence[Tensor], params: tuple, shape: Shape) -> Tensor:
    """The one constructor: returns the existing node when an identical one is alive.

    Keys use the ids of the (already interned) operands; an entry can only be
    alive while its node is, and the node keeps its operands alive, so ids in
    live keys never refer to recycled objects.
    """
    args = tuple(args)
    key = (op, tuple(id(a) for a in args), params, tuple(shape))
    node = _interned.get(key)
    if node is None:
        node = object.__new__(Tensor)
        object.__setattr__(node, "op", op)
        object.__setattr__(node, "args", args)
        object.__setattr__(node, "params", params)
        object.__setattr__(node, "shape", tuple(shape))
        _interned[key] = node
    return node


# ----- dimensions -------------------------------------------------------------


def dim_product(dims: Iterable[Dim]) -> Dim:
    """The size of a block of dimensions: an int when all are known, else 'm*n'."""
    number, names = 1, []
    dims = list(dims)
    unknown = [d for d in dims if not isinstance(d, (int, str))]
    if unknown:  # a dimension still being solved for: the product is a new unknown
        return unknown[0] if len(dims) == 1 else type(unknown[0])("*".join(map(str, dims)))
    for d in dims:
        if isinstance(d, int):
            number *= d
        else:
            names.extend(dim_factors(d))
    if not names:
        return number
    if number == 0:
        return 0
    factors = ([str(number)] if number != 1 else []) + sorted(names)
    return "*".join(factors)


def dim_factors(dim: Dim) -> list[str]:
    """The factors of a symbolic dimension: "m*n" → ["m", "n"], "2*n" → ["2", "n"] (this module
    writes and reads the products; no other splits them)."""
    return [factor.strip() for factor in str(dim).split("*")]


def dim_value(dim: Dim, sizes: dict) -> int:
    """The integer size of a dimension, with symbol sizes taken from ``sizes``."""
    if isinstance(dim, int):
        return dim
    total = 1
    for factor in dim_factors(dim):
        total *= int(factor) if factor.isdigit() else sizes[factor]
    return total


SMALL_SIZES = (2, 3, 4, 5, 6, 7, 8, 9)  # given in turn to symbolic dimensions: distinct, so a swap shows


def small_sizes(shapes) -> dict:
    """A distinct small size for each symbolic dimension of ``shapes`` (shape tuples, by name or
    in a list), in order of appearance: how ``check``, the page's check and generated scripts
    make a symbolic shape concrete."""
    sizes: dict = {}
    free = iter(SMALL_SIZES)
    for shape in shapes.values() if isinstance(shapes, dict) else shapes:
        for d in shape:
            for factor in dim_factors(d) if isinstance(d, str) else ():
                if not factor.isdigit() and factor not in sizes:
                    sizes[factor] = next(free, 10 + len(sizes))
    return sizes


def is_all_ones(shape: Shape) -> bool:
    return all(d == 1 for d in shape)


# ----- leaves -------------------------------------------------------------------


def var(name: str, shape: Shape) -> Tensor:
    return make("var", (), (name,), shape)


def folds(value: float) -> bool:
    """Whether constants may be folded into ``value``: only a finite one. An overflow stays
    written as the user wrote it (``1e300*1e300``, ``10^400``), so that printed forms stay in
    the language and evaluating them gives what NumPy gives: inf."""
    return math.isfinite(value)


def const(value: float, shape: Shape = ()) -> Tensor:
    value = float(value)
    if value == 0.0:
        value = 0.0  # one zero, never -0.0
    return make("const", (), (value,), shape)


def eye(n: Dim) -> Tensor:
    return make("eye", (), (), (n, n))


def is_const(node: Tensor, value: float | None = None) -> bool:
    return node.op == "const" and (value is None or node.params[0] == value)


def is_zero(node: Tensor) -> bool:
    """The one symbolic zero: a constant 0 of any shape (never None)."""
    return is_const(node, 0.0)


# ----- einsum -------------------------------------------------------------------


def einsum(output: Sequence, *operands: tuple[Tensor, Sequence], sizes: dict | None = None) -> Tensor:
    """Contract ``operands`` (pairs of node and labels, one label per axis) into ``output``.

    Labels are any hashable values. Repeated output labels become Kronecker
    deltas and output labels no operand carries become broadcasts over ones, so
    derivative rules can be written as the index formulas of a textbook.
    Scalar constants are multiplied into one coefficient; a zero makes the
    result a zero constant. ``sizes`` gives the sizes of output labels that no
    operand carries.
    """
    sizes = dict(sizes or {})
    items: list[tuple[Tensor, tuple]] = []
    coefficient = 1.0
    for node, labels in operands:
        labels = tuple(labels)
        if len(labels) != node.rank:
            raise ValueError(f"{len(labels)} labels for a rank-{node.rank} operand")
        for label, size in zip(labels, node.shape):
            sizes.setdefault(label, size)
        if node.op == "const" and (node.rank == 0 or node.params[0] == 0.0) \
                and folds(coefficient * node.params[0]):
            coefficient *= node.params[0]
            continue
        items.append((node, labels))

    output = list(output)
    seen: set = set()
    for position, label in enumerate(output):
        if label in seen:  # repeated output label: a delta links it to a fresh copy
            fresh = ("copy", label, position)
            output[position] = fresh
            items.append((eye(sizes[label]), (label, fresh)))
            sizes[fresh] = sizes[label]
        seen.add(output[position])
    carried = {label for _, labels in items for label in labels}
    for label in output:
        if label not in carried:  # broadcast: multiply by a vector of ones
            items.append((const(1.0, (sizes[label],)), (label,)))
    shape = tuple(sizes[label] for label in output)
    if coefficient == 0.0:
        return const(0.0, shape)
    if coefficient != 1.0:
        items.append((const(coefficient), ()))
    if not items:
        return const(coefficient, shape)
    if len(items) == 1 and items[0][1] == tuple(output) and len(set(output)) == len(output):
        return items[0][0]  # the identity contraction
    return _canonical_einsum(items, tuple(output), shape)


def _canonical_einsum(items, output, shape) -> Tensor:
    """Relabel to 0, 1, 2, ... in order of appearance so equal contractions intern equal."""
    names: dict = {}
    for label in output:
        names.setdefault(label, len(names))
    for _, labels in items:
        for label in labels:
            names.setdefault(label, len(names))
    inputs = tuple(tuple(names[label] for label in labels) for _, labels in items)
    return make("einsum", [node for node, _ in items], (inputs, tuple(names[label] for label in output)), shape)


def einsum_operands(node: Tensor) -> list[tuple[Tensor, tuple]]:
    """The (operand, labels) pairs of an einsum node."""
    return list(zip(node.args, node.params[0]))


def scale(factor: float | Tensor, node: Tensor) -> Tensor:
    """factor · node, for a number or a scalar node."""
    labels = tuple(range(node.rank))
    factor_node = factor if isinstance(factor, Tensor) else const(factor)
    return einsum(labels, (factor_node, ()), (node, labels))


def transpose(node: Tensor, permutation: Sequence[int] | None = None) -> Tensor:
    """Axes permuted (reversed by default)."""
    labels = tuple(range(node.rank))
    permutation = tuple(reversed(labels)) if permutation is None else tuple(permutation)
    return einsum(permutation, (node, labels))


def matmul(left: Tensor, right: Tensor) -> Tensor:
    """The matrix product of rank-1/rank-2 tensors, a vector being a column on the right
    and a row on the left."""
    left_labels: tuple[str, ...] = ("i", "k") if left.rank == 2 else ("k",)
    right_labels: tuple[str, ...] = ("k", "j") if right.rank == 2 else ("k",)
    output = tuple(x for x in (left_labels[0] if left.rank == 2 else None,
                               right_labels[1] if right.rank == 2 else None) if x)
    return einsum(output, (left, left_labels), (right, right_labels))


def hadamard(left: Tensor, right: Tensor) -> Tensor:
    labels = tuple(range(left.rank))
    return einsum(labels, (left, labels), (right, labels))


# ----- sums, functions, reshapes -------------------------------------------------


# A sum inside a sum is flattened into it only when it is this short: a longer one may be shared
# (s_k = s_{k-1}.^2 + s_{k-1}), and copying its terms into every sum that uses it would make a
# program of n such statements n² terms long.
MAX_FLATTENED_TERMS = 4


def add(*terms: Tensor, named: frozenset | set = frozenset()) -> Tensor:
    """The sum of same-shaped terms; zeros dropped, short nested sums flattened (not those whose id
    is in ``named``: a program's named values, which must stay nodes of their own for the
    statement-by-statement views), repeated terms merged into a multiple, constants folded."""
    flat: list[Tensor] = []
    shape = None
    for term in terms:
        shape = term.shape
        if term.op == "add" and len(term.args) <= MAX_FLATTENED_TERMS and id(term) not in named:
            flat.extend(term.args)
        elif not is_const(term, 0.0):
            flat.append(term)
    if shape is None:
        raise ValueError("add() of nothing")
    constant = 0.0
    counts: dict[int, list] = {}
    unmerged: list[Tensor] = []  # what would overflow if folded, kept as written
    for term in flat:
        if term.op == "const":
            if folds(constant + term.params[0]):
                constant += term.params[0]
            else:
                unmerged.append(term)
            continue
        base, factor = split_coefficient(term)
        entry = counts.setdefault(id(base), [base, 0.0])
        if folds(entry[1] + factor):
            entry[1] += factor
        else:
            unmerged.append(term)
    merged = [base if factor == 1.0 else scale(factor, base) for base, factor in counts.values() if factor != 0.0]
    merged += unmerged
    if constant != 0.0:
        merged.append(const(constant, shape))
    if not merged:
        return const(0.0, shape)
    if len(merged) == 1:
        return merged[0]
    return make("add", merged, (), shape)


def split_coefficient(node: Tensor) -> tuple[Tensor, float]:
    """node = factor · base, with the numeric coefficient of an einsum pulled out."""
    if node.op != "einsum":
        return node, 1.0
    operands = einsum_operands(node)
    factor = 1.0
    rest = []
    for operand, labels in operands:
        if operand.op == "const" and operand.rank == 0 and folds(factor * operand.params[0]):
            factor *= operand.params[0]
        else:
            rest.append((operand, labels))
    if factor == 1.0:
        return node, 1.0
    return einsum(node.params[1], *rest), factor


def apply(function: str, argument: Tensor, *params) -> Tensor:
    """An elementwise function; constants are folded where that is exact and cheap."""
    if function == "constant_power":
        exponent = params[0]
        if exponent == 1.0:
            return argument
        if exponent == 0.0:
            return const(1.0, argument.shape)
        if argument.op == "sqrt" and exponent == 2.0:  # sqrt(x)^2 = x, as in norm2(r)^2
            return argument.args[0]
        if argument.op == "constant_power":  # (x^a)^b = x^(ab) is safe for the integer b we create
            inner = argument.params[0]
            if float(exponent).is_integer() and float(inner).is_integer():
                return apply("constant_power", argument.args[0], inner * exponent)
    if argument.op == "const" and function in _FOLDABLE:
        try:
            value = _FOLDABLE[function](argument.params[0], *params)
        except (ValueError, OverflowError, ZeroDivisionError):
            value = None
        if value is not None and folds(value):
            return const(value, argument.shape)
    return make(function, (argument,), tuple(float(p) for p in params), argument.shape)


def _fold_pow(x: float, p: float) -> float:
    """x^p for real numbers only: math.pow refuses (-1)^0.5 where ** would return a complex."""
    return math.pow(x, p)


_FOLDABLE: dict[str, Callable[..., float]] = {"constant_power": _fold_pow, "step": lambda x: float(x > 0), "sign": lambda x: float((x > 0) - (x < 0))}


def power(base: Tensor, exponent: Tensor) -> Tensor:
    """base .^ exponent, elementwise; either may be a scalar (broadcast), and a constant
    exponent is ``constant_power``."""
    shape = base.shape if base.rank else exponent.shape
    if exponent.op == "const" and (exponent.rank == 0 or exponent.shape == base.shape):
        return apply("constant_power", base, exponent.params[0]) if base.rank or not exponent.rank else \
            make("power", (base, exponent), (), shape)
    return make("power", (base, exponent), (), shape)


def reshape(node: Tensor, shape: Shape) -> Tensor:
    """Row-major reshape; reshaping twice is one reshape, to the same shape none."""
    shape = tuple(shape)
    if shape == node.shape:
        return node
    if node.op == "reshape":
        node = node.args[0]
        if shape == node.shape:
            return node
    if node.op == "const":
        return const(node.params[0], shape)
    if node.op == "einsum" and all(a.op == "const" for a in node.args) \
            and {label for labels in node.params[0] for label in labels} <= set(node.params[1]):
        value = 1.0  # an outer product of constants (ones(m)·ones(n)ᵀ) is a constant, however reshaped
        for a in node.args:
            value *= a.params[0]
        return const(value, shape)
    return make("reshape", (node,), (), shape)


def postorder(root: Tensor, stop=None) -> list[Tensor]:
    """Every node of the DAG once, operands before users; iterative, so deep graphs are fine.
    ``stop(node)`` true: the node is listed but not looked into (it is replaced, or done already)."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if stop is not None and stop(node):
            continue
        for arg in reversed(node.args):
            if id(arg) not in visited:
                stack.append((arg, False))
    return order


def variables(root: Tensor) -> dict[str, Tensor]:
    return {n.params[0]: n for n in postorder(root) if n.op == "var"}
