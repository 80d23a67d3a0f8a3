"""Matrix-form recovery: an IR tensor of rank ≤ 2 back to matrix notation.

An einsum whose operands are scalars, vectors and matrices is a tensor network
in which every index joins two places. Followed from an output index, a chain
of matrices is a matrix product (transposed where an index is met from the
column side); a chain that closes on itself is a trace; a chain between two
vectors is a scalar u'·M·v; two chains ending in vectors make an outer product.
Operands over the same indices are Hadamard products, and a vector whose index
appears three times becomes diag(v). Anything else (a rank-3 tensor, an index
shared by three matrices) has no matrix form, and the printer says so by
returning None.

The result is a small tree of :class:`M` nodes, printed as re-parseable text in
the input language (:func:`text`) and as LaTeX (:func:`latex`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import count

from matdiff.engine.ir import Tensor, dim_product, einsum_operands, folds
from matdiff.engine.primitives import COLUMNS, ENTRIES, FUNCTIONS

# ----- the matrix-notation tree ----------------------------------------------------------------


@dataclass(frozen=True)
class M:
    """A matrix expression: op in leaf, number, product, hadamard, sum, negate, transpose,
    call, power (elementwise .^ or scalar ^), divide (./), quotient (by a scalar, /);
    ``kind`` is scalar, column, row or matrix; ``symmetric`` marks a leaf assumed symmetric
    (``assume={"S": "symmetric"}``), which is then its own transpose."""

    op: str
    args: tuple = ()
    name: str = ""
    kind: str = "matrix"
    value: float = 0.0
    symmetric: bool = False


def leaf(name: str, kind: str, *, symmetric: bool = False) -> M:
    return M("leaf", (), name, kind, symmetric=symmetric)


def number(value: float) -> M:
    return M("number", (), "", "scalar", float(value))


def call(function: str, arguments: tuple, kind: str) -> M:
    return M("call", tuple(arguments), function, kind)


def _product_kind(factors) -> str:
    shaped = [f.kind for f in factors if f.kind != "scalar"]
    if not shaped:
        return "scalar"
    first, last = shaped[0], shaped[-1]
    has_rows = first in ("matrix", "column")
    has_columns = last in ("matrix", "row")
    return {(True, True): "matrix", (True, False): "column", (False, True): "row"}.get((has_rows, has_columns),
                                                                                   "scalar")


def _is_identity(f: M) -> bool:
    if f.op == "transpose":
        f = f.args[0]
    if f.op != "call":
        return False
    return f.name == "eye" or (f.name == "ones" and all(a.op == "leaf" and a.name == "1" for a in f.args))


# A product nested in a product is flattened into it up to this length; a longer one stays one
# factor, lest a 10,000-factor chain, recovered a few factors at a time, be copied at each step.
MAX_FLATTENED_FACTORS = 1024


def product(*factors: M) -> M:
    """The matrix product, flattened; a scalar-valued product (x'*y) inside a product of
    matrices stays one factor, so the chain of matrices is always the non-scalar factors."""
    shaped = any(f.kind != "scalar" for f in factors)
    flat: list[M] = []
    for f in factors:
        nested = f.op == "product" and not (shaped and f.kind == "scalar") and len(f.args) <= MAX_FLATTENED_FACTORS
        flat.extend(f.args if nested else (f,))
    coefficient = 1.0
    rest = []
    for f in flat:
        if f.op == "number" and folds(coefficient * f.value):
            coefficient *= f.value
        else:
            rest.append(f)
    negate = False
    moved = []
    for f in rest:  # pull signs out of factors: A*(-B) = -(A*B)
        if f.op == "negate":
            negate = not negate
            f = f.args[0]
        moved.append(f)
    rest = [f for f in moved if f.kind == "scalar"] + [f for f in moved if f.kind != "scalar"]
    matrices = [f for f in rest if f.kind != "scalar"]
    if len(matrices) > 1:  # I·A = A, and a 1×1 ones(1) only reshapes: x*ones(1)' = x
        identities = [f for f in matrices if _is_identity(f)]
        if identities:
            keep = [f for f in matrices if not _is_identity(f)] or identities[:1]
            rest = [f for f in rest if f.kind == "scalar"] + keep
    if coefficient < 0:
        coefficient, negate = -coefficient, not negate
    if coefficient != 1.0 or not rest:
        rest.insert(0, number(coefficient))
    result = rest[0] if len(rest) == 1 else M("product", tuple(rest), "", _product_kind(rest))
    return negate_(result) if negate else result


def hadamard(*factors: M) -> M:
    flat: list[M] = []
    for f in factors:
        flat.extend(f.args if f.op == "hadamard" else (f,))
    if len(flat) == 1:
        return flat[0]
    return M("hadamard", tuple(flat), "", flat[0].kind)


def negate_(x: M) -> M:
    if x.op == "negate":
        return x.args[0]
    if x.op == "number":
        return number(-x.value)
    return M("negate", (x,), "", x.kind)


def total(*terms: M) -> M:
    flat: list[M] = []
    for t in terms:
        flat.extend(t.args if t.op == "sum" else (t,))
    if len(flat) == 1:
        return flat[0]
    flat.sort(key=lambda t: t.op == "negate")  # positive terms first reads better
    kind = next((t.kind for t in flat if t.kind != "scalar"), "scalar")
    return M("sum", tuple(flat), "", kind)


_FLIP = {"column": "row", "row": "column", "matrix": "matrix", "scalar": "scalar"}


def transpose(x: M) -> M:
    """(AB)ᵀ = BᵀAᵀ, (A + B)ᵀ = Aᵀ + Bᵀ, Aᵀᵀ = A; scalars and assumed-symmetric leaves are their
    own transpose."""
    if x.kind == "scalar" or x.symmetric:
        return x
    if x.op == "transpose":
        return x.args[0]
    if x.op == "product":
        return product(*[transpose(f) for f in reversed(x.args)])
    if x.op == "negate":
        return negate_(transpose(x.args[0]))
    if x.op == "hadamard":
        return hadamard(*[transpose(f) for f in x.args])
    return M("transpose", (x,), "", _FLIP[x.kind])


# ----- IR → matrix notation ---------------------------------------------------------------------


def format_number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


def _kind(node: Tensor) -> str:
    return ("scalar", "column", "matrix")[node.rank] if node.rank <= 2 else "tensor"


def _dim_text(d) -> str:
    return str(d).replace("*", "*") if isinstance(d, str) else str(d)


def _orientation(shape: tuple) -> str:
    """How a shape reads once its 1s are ignored: a rank-1 tensor and n×1 are columns, 1×n a row."""
    if len(shape) == 2 and shape[0] == 1 and shape[1] != 1:
        return "row"
    if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1 and shape[0] != 1):
        return "column"
    return "other"


class Recovery:
    """Memoised IR → M translation (None where no matrix form exists).

    ``names`` (id of an IR node → name) binds shared subexpressions: such a node is
    translated once, its body recorded in ``bindings`` (dependencies first), and every
    use prints as the name.
    """

    def __init__(self, names: dict[int, str] | None = None, symmetric: frozenset = frozenset()):
        self.symmetric = symmetric  # inputs assumed symmetric
        self.memo: dict[int, tuple[Tensor, M | None]] = {}  # the node is kept so its id stays its own
        self.names = dict(names or {})
        self.bindings: list[tuple[str, M]] = []

    def __call__(self, node: Tensor) -> M | None:
        key = id(node)
        if key not in self.memo:
            body = None if node.rank > 2 else self._translate(node)
            if body is not None and key in self.names and body.op not in ("leaf", "number"):
                self.bindings.append((self.names[key], body))
                body = leaf(self.names[key], body.kind)
            self.memo[key] = (node, body)
        return self.memo[key][1]

    def _translate(self, node: Tensor) -> M | None:
        op = node.op
        if op == "var":
            return leaf(node.params[0], _kind(node), symmetric=node.params[0] in self.symmetric)
        if op == "const":
            return self._constant(node)
        if op == "eye":
            return call("eye", (leaf(_dim_text(node.shape[0]), "scalar"),), "matrix")
        if op == "add":  # a constant term broadcasts as a number: 1 - s
            terms = [number(t.params[0]) if t.op == "const" else self(t) for t in node.args]
            present = [t for t in terms if t is not None]
            return None if len(present) < len(terms) else total(*present)
        if op == "einsum":
            return self._einsum(node)
        if op == "reshape":
            return self._reshape(node)
        argument = self(node.args[0])
        if argument is None:
            return None
        if op in FUNCTIONS and FUNCTIONS[op].acts != ENTRIES:
            if FUNCTIONS[op].acts == COLUMNS and FUNCTIONS[op].reduces and node.rank == 1:
                return transpose(call(op, (argument,), "row"))  # a number per column: a row, here stood up
            return call(op, (argument,), argument.kind if FUNCTIONS[op].acts == COLUMNS else _kind(node))
        if op == "power":
            exponent = self(node.args[1])
            kind = argument.kind if argument.kind != "scalar" else exponent.kind if exponent else "scalar"
            return None if exponent is None else M("power", (argument, exponent), ".^", kind)
        if op == "constant_power":
            exponent = node.params[0]
            if exponent == -1.0:
                one = number(1.0)
                return M("power", (argument, number(-1.0)), ".^", argument.kind) if argument.kind == "scalar" \
                    else M("divide", (one, argument), "./", argument.kind)
            return M("power", (argument, number(exponent)), ".^", argument.kind)
        return call(op, (argument,), argument.kind)

    def _constant(self, node: Tensor) -> M:
        value = node.params[0]
        if node.rank == 0:
            return number(value)
        ones = call("ones", tuple(leaf(_dim_text(d), "scalar") for d in node.shape), _kind(node))
        return ones if value == 1.0 else product(number(value), ones)

    def _reshape(self, node: Tensor) -> M | None:
        (inner,) = node.args
        target, source = node.shape, inner.shape
        if [d for d in target if d != 1] == [d for d in source if d != 1]:  # adding or dropping 1s
            x = self(inner)
            if x is None:
                return None
            if {_orientation(source), _orientation(target)} == {"row", "column"}:
                return transpose(x)  # a column laid out as a row, or a 1×n matrix read as a column
            return x
        if len(target) == 1 and inner.op == "einsum" and len(inner.args) == 1 and inner.rank == 2 \
                and inner.params[0][0] == (inner.params[1][1], inner.params[1][0]):
            x = self(inner.args[0])  # vec(X) = reshape(Xᵀ) row-major
            return None if x is None else call("vec", (x,), "column")
        if inner.op == "einsum" and len(inner.args) == 2 and inner.rank == 4 and len(target) == 2:
            (a, la), (b, lb) = einsum_operands(inner)
            out = inner.params[1]
            if la == (out[0], out[2]) and lb == (out[1], out[3]) and a.rank == b.rank == 2:
                x, y = self(a), self(b)
                return None if x is None or y is None else call("kron", (x, y), "matrix")
        return None

    def _einsum(self, node: Tensor) -> M | None:
        output = list(node.params[1])
        operands = einsum_operands(node)
        if any(a.rank > 2 for a, _ in operands):
            return None
        return _network(output, [(self(a), a, tuple(ls)) for a, ls in operands])


def _network(output: list, operands: list) -> M | None:
    """Matrix notation for a contraction of scalars, vectors and matrices."""
    fresh = count()
    scalars: list[M] = []
    items: list[tuple[M | None, tuple, tuple]] = []  # (expression, labels, sizes); None: dropped
    for expression, node, labels in operands:
        if expression is None:
            return None
        if not labels:
            scalars.append(expression)
            continue
        items.append((expression, labels, node.shape))

    # A repeated index on one matrix: its diagonal, or its trace when used nowhere else.
    def occurrences(label) -> int:
        return sum(ls.count(label) for _, ls, _ in items) + output.count(label)

    for position, (expression, labels, sizes) in enumerate(list(items)):
        if len(labels) == 2 and labels[0] == labels[1]:
            if occurrences(labels[0]) > 2:
                items[position] = (call("diag", (expression,), "column"), labels[:1], sizes[:1])
            else:
                items[position] = (None, (), ())
                scalars.append(call("tr", (expression,), "scalar"))
    items = [item for item in items if item[0] is not None]

    # A matrix axis of size 1 summed alone: the matrix is really a vector.
    for position, (expression, labels, sizes) in enumerate(list(items)):
        if len(labels) == 2 and labels[0] != labels[1]:
            assert expression is not None  # dropped entries were filtered out above
            for axis in (0, 1):
                if sizes[axis] == 1 and occurrences(labels[axis]) == 1 and labels[axis] not in output:
                    vector = transpose(expression) if axis == 0 else expression
                    items[position] = (M(vector.op, vector.args, vector.name, "column", vector.value)
                                       if vector.op != "transpose" else vector, labels[1 - axis:2 - axis],
                                       sizes[1 - axis:2 - axis])
                    break

    # Operands over the same indices multiply elementwise.
    grouped: dict[tuple[frozenset, int], list] = {}
    for expression, labels, sizes in items:
        grouped.setdefault((frozenset(labels), len(labels)), []).append((expression, labels, sizes))
    items = []
    for group in grouped.values():
        base_labels, base_sizes = group[0][1], group[0][2]
        parts = [e if ls == base_labels else transpose(e) for e, ls, _ in group]
        items.append((hadamard(*parts), base_labels, base_sizes))

    # An index met once and summed is a sum over that axis.
    for position, (expression, labels, sizes) in enumerate(list(items)):
        for axis, label in enumerate(labels):
            if occurrences(label) == 1 and label not in output:
                if len(labels) == 1:
                    items[position] = (None, (), ())
                    scalars.append(call("sum", (expression,), "scalar"))
                else:  # A·1: a column of ones closes the lone index
                    items.append((call("ones", (leaf(_dim_text(sizes[axis]), "scalar"),), "column"),
                                  (label,), (sizes[axis],)))
    items = [item for item in items if item[0] is not None]

    # An index in three places: a vector on it becomes diag(v) linking it to a fresh copy.
    for _ in range(len(items) + len(output) + 2):
        crowded = next((label for label in {l for _, ls, _ in items for l in ls} if occurrences(label) > 2), None)
        if crowded is None:
            break
        vector_at = next((k for k, (_, ls, _) in enumerate(items) if ls == (crowded,)), None)
        if vector_at is None:
            return None
        expression, _, sizes = items[vector_at]
        copy = ("diag", next(fresh))
        items[vector_at] = (call("diag", (expression,), "matrix"), (crowded, copy), sizes * 2)
        if crowded in output:
            output[output.index(crowded)] = copy
        else:
            other = next(k for k, (_, ls, _) in enumerate(items) if k != vector_at and crowded in ls)
            e, ls, s = items[other]
            index = ls.index(crowded)
            items[other] = (e, ls[:index] + (copy,) + ls[index + 1:], s)
    else:
        return None

    # Follow chains of indices.
    attachments: dict = {}
    for k, (_, labels, _) in enumerate(items):
        for axis, label in enumerate(labels):
            attachments.setdefault(label, []).append((k, axis))
    used = [False] * len(items)

    def walk(label, start_factor=None):
        """Follow from ``label`` (already entered) until an output index or a vector end."""
        factors = [start_factor] if start_factor is not None else []
        while True:
            nexts = [(k, axis) for k, axis in attachments.get(label, []) if not used[k]]
            if not nexts:
                return factors, label
            k, axis = nexts[0]
            used[k] = True
            expression, labels, _ = items[k]
            if len(labels) == 1:
                factors.append(expression)  # a column vector closes the chain
                return factors, None
            factors.append(expression if axis == 0 else transpose(expression))
            label = labels[1 - axis]
            if label in output:
                return factors, label

    paths: list[tuple[list[M], object, object]] = []  # (factors, start label, end label or None)
    for label in list(output):
        if any(label in (p[1], p[2]) for p in paths):
            continue
        factors, end = walk(label)
        paths.append((factors, label, end))
    for k, (expression, labels, _) in enumerate(items):  # chains between two vectors: scalars
        if not used[k] and len(labels) == 1:
            assert expression is not None  # dropped entries were filtered out above
            used[k] = True
            factors, end = walk(labels[0], transpose(expression))
            scalars.append(product(*factors))
    for k, (expression, labels, _) in enumerate(items):  # closed loops: traces
        if not used[k]:
            used[k] = True
            factors, _ = walk(labels[1], expression)
            scalars.append(call("tr", (product(*factors),), "scalar"))

    if len(output) == 0:
        return product(*scalars) if scalars else number(1.0)
    if len(output) == 1:
        factors, _, _ = paths[0]
        return product(*scalars, *factors)
    first, second = output
    for factors, start, end in paths:
        if {start, end} == {first, second}:
            matrix = product(*factors)
            return product(*scalars, matrix if start == first else transpose(matrix))
    left = next(f for f, s, _ in paths if s == first)
    right = next(f for f, s, _ in paths if s == second)
    return product(*scalars, product(*left), transpose(product(*right)))


# ----- printing ------------------------------------------------------------------------------------

_LEVEL = {"sum": 1, "product": 2, "hadamard": 2, "divide": 2, "quotient": 2, "negate": 3, "power": 4,
          "transpose": 5}


def _level(x: M) -> int:
    if x.op == "number" and x.value < 0:
        return 3
    return _LEVEL.get(x.op, 6)




def text(x: M, memo: dict | None = None) -> str:
    """Re-parseable text in the input language. ``memo`` (id → text, for trees whose nodes stay
    alive) lets a caller that prints every subtree, as the rewriter does, do so in linear time."""
    if memo is None:
        return _text(x, {})
    key = id(x)
    if key not in memo:
        memo[key] = _text(x, memo)
    return memo[key]


def _text(x: M, memo: dict) -> str:
    def show(y: M) -> str:
        return text(y, memo) if memo is not None else _text(y, memo)

    def wrap(y: M, minimum: int) -> str:
        s = show(y)
        return f"({s})" if _level(y) < minimum else s

    op = x.op
    if op == "leaf":
        return x.name
    if op == "number":
        return format_number(x.value)
    if op == "call":
        return f"{x.name}({', '.join(show(a) for a in x.args)})"
    if op == "transpose":
        return wrap(x.args[0], 6) + "'"
    if op == "negate":
        return "-" + wrap(x.args[0], 2)
    if op == "power":
        base, exponent = x.args
        operator = "^" if base.kind == "scalar" else ".^"
        return f"{wrap(base, 5)}{operator}{wrap(exponent, 6)}"
    if op == "quotient":  # division by a scalar: x/norm2(x)
        return f"{wrap(x.args[0], 2)}/{wrap(x.args[1], 3)}"
    if op in ("product", "hadamard", "divide"):
        joiner = {"product": "*", "hadamard": ".*", "divide": " ./ "}[op]
        # A later factor "-a*w" would lose its sign to "a" alone: u.*-a*w reads (u.*-a)*w.
        return joiner.join(wrap(f, 3 if position == 0 else 4) for position, f in enumerate(x.args))
    if op == "sum":
        parts = [show(x.args[0])]
        for t in x.args[1:]:
            if t.op == "number" and t.value < 0:
                parts.append(f"- {format_number(-t.value)}")
            else:
                parts.append(f"- {wrap(t.args[0], 2)}" if t.op == "negate" else f"+ {wrap(t, 2)}")
        return " ".join(parts)
    raise AssertionError(op)


_LATEX_FUNCTIONS = {"tr": r"\operatorname{tr}", "diag": r"\operatorname{diag}", "vec": r"\operatorname{vec}",
                    "sum": r"\operatorname{sum}"}


def latex_name(name: str) -> str:
    """W2 → W_{2}, x_hat → x_{hat}, alpha → \\alpha."""
    greek = {"alpha", "beta", "gamma", "delta", "epsilon", "lambda", "mu", "sigma", "theta", "tau", "phi", "omega"}
    match = re.fullmatch(r"([A-Za-z]+?)_?(\d+|_\w+)?", name)
    if not match:
        return r"\mathrm{" + name.replace("_", r"\_") + "}"
    base, subscript = match.group(1), match.group(2)
    base_tex = "\\" + base if base in greek else (base if len(base) == 1 else r"\mathrm{" + base + "}")
    if subscript:
        return f"{base_tex}_{{{subscript.lstrip('_')}}}"
    return base_tex


def function_latex(name: str, argument: str, atomic: str) -> str:
    """The LaTeX of a function of the table applied to ``argument`` (``atomic``: the argument
    parenthesised unless it is atomic already)."""
    return FUNCTIONS[name].latex.replace("{x!}", atomic).replace("{x}", argument)


def latex(x: M) -> str:
    def wrap(y: M, minimum: int) -> str:
        s = latex(y)
        return f"\\left({s}\\right)" if _level(y) < minimum else s

    op = x.op
    if op == "leaf":
        return latex_name(x.name) if not x.name.replace("*", "").isdigit() else x.name
    if op == "number":
        return format_number(x.value)
    if op == "call":
        if x.name in FUNCTIONS:
            return function_latex(x.name, latex(x.args[0]), wrap(x.args[0], 6))
        if x.name == "eye":
            return f"I_{{{latex(x.args[0])}}}"
        if x.name == "ones":
            return r"\mathbf{1}_{" + r"\times ".join(latex(a) for a in x.args) + "}"
        if x.name == "kron":
            return f"{wrap(x.args[0], 3)} \\otimes {wrap(x.args[1], 3)}"
        if x.name == "norm2":
            return r"\left\|" + latex(x.args[0]) + r"\right\|"
        name = _LATEX_FUNCTIONS.get(x.name, r"\operatorname{" + x.name + "}")
        return f"{name}\\left({', '.join(latex(a) for a in x.args)}\\right)"
    if op == "transpose":
        return wrap(x.args[0], 6) + r"^{\top}"
    if op == "negate":
        return "-" + wrap(x.args[0], 4)
    if op == "power":
        base, exponent = x.args
        if base.kind != "scalar":
            return f"{wrap(base, 5)}^{{\\circ {latex(exponent)}}}"
        return f"{wrap(base, 5)}^{{{latex(exponent)}}}"
    if op == "product":
        return " ".join(wrap(f, 3) for f in x.args)
    if op == "hadamard":
        return r" \odot ".join(wrap(f, 3) for f in x.args)
    if op == "quotient":
        return rf"\frac{{{latex(x.args[0])}}}{{{latex(x.args[1])}}}"
    if op == "divide":
        return r" \oslash ".join(wrap(f, 3) for f in x.args)
    if op == "sum":
        parts = [latex(x.args[0])]
        for t in x.args[1:]:
            if t.op == "number" and t.value < 0:
                parts.append(f"- {format_number(-t.value)}")
            else:
                parts.append(f"- {wrap(t.args[0], 2)}" if t.op == "negate" else f"+ {wrap(t, 2)}")
        return " ".join(parts)
    raise AssertionError(op)


__all__ = ["M", "Recovery", "text", "latex", "latex_name", "dim_product"]
