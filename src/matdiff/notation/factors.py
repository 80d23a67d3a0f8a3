"""A function of a whole matrix applied to a product of square matrices, split into its factors where
that prints shorter.

Each such function's record says how it acts on a product (``of_a_product``): inv(ABC) = C⁻¹B⁻¹A⁻¹,
det(ABC) = det(A)·det(B)·det(C), and the log-determinant of ABC is the sum of each factor's,
when every factor is square; a scalar factor comes out of inv and det (inv(cX) = c⁻¹·X⁻¹,
det(cX) = cⁿ·det(X) for n×n X). Split, the gradient of log det(A*X*B), Aᵀ·inv(A*X*B)ᵀ·Bᵀ,
becomes Aᵀ·A⁻ᵀ·X⁻ᵀ·B⁻ᵀ·Bᵀ, which the rule inverse-cancels of the rewrite table reduces to
X⁻ᵀ; the gradient of det(X^3) becomes 3·det(X)³·X⁻ᵀ. The split is kept only when the
whole derivative prints shorter, compacted (:func:`matdiff.notation.rewrite.compact`), than it
did; elsewhere inv(A*X) stays as written.
"""

from __future__ import annotations

from matdiff.engine.ir import Tensor, add, apply, einsum, matmul, postorder, scale, transpose
from matdiff.engine.functions import FUNCTIONS
from matdiff.engine.primitives import reapply
from matdiff.engine.simplify import simplify
from matdiff.notation.matrixform import Recovery
from matdiff.notation.printing import cost
from matdiff.notation.rewrite import compact


def splits(op: str) -> str:
    """How the function ``op`` acts on a product of square matrices ("inverse", "product", "sum"), or ""."""
    return FUNCTIONS[op].of_a_product if op in FUNCTIONS else ""


def square_chain(node: Tensor) -> list[Tensor] | None:
    """The square factors F1, F2, … of node = F1·F2·…, each oriented (transposed as used), or None."""
    if node.op != "einsum" or node.rank != 2 or len(node.args) < 2:
        return None
    operands = list(zip(node.args, node.params[0]))
    if any(a.rank != 2 or a.shape[0] != a.shape[1] for a, _ in operands):
        return None
    start, end = node.params[1]
    chain, label = [], start
    remaining = operands[:]
    while remaining:
        step = next(((a, ls) for a, ls in remaining if label in ls and ls[0] != ls[1]), None)
        if step is None:
            return None
        remaining.remove(step)
        a, (first, second) = step
        inner = square_chain(a)  # (X*X)*X: the factors of a factor
        if inner is None:
            chain.append(a if first == label else transpose(a))
        else:
            chain.extend(inner if first == label else [transpose(f) for f in reversed(inner)])
        label = second if first == label else first
    return chain if label == end else None


def split(node: Tensor) -> Tensor | None:
    """A function of a square chain, by its factors (:func:`splits`); None when node is not one. A
    scalar factor c of an n×n chain comes out too: inv(c·X) = c⁻¹·inv(X), det(c·X) = cⁿ·det(X)."""
    how = splits(node.op)
    if not how:
        return None
    function = FUNCTIONS[node.op]
    argument, scalars = _scalars_taken_out(node.args[0])
    chain = square_chain(argument) if argument.op == "einsum" else [argument] if scalars else None
    if chain is None or (scalars and (how == "sum" or not isinstance(argument.shape[0], int))):
        return None
    if how == "inverse":
        result = function(chain[-1])
        for factor in reversed(chain[:-1]):
            result = matmul(result, function(factor))
        return scale(apply("constant_power", _product(scalars), -1.0), result) if scalars else result
    if how == "sum":
        return add(*(function(f) for f in chain))
    powers = [(apply("constant_power", _product(scalars), float(argument.shape[0])), ())] if scalars else []
    return einsum((), *powers, *((function(f), ()) for f in chain))


def _scalars_taken_out(node: Tensor) -> tuple[Tensor, list[Tensor]]:
    """(the matrix part, its scalar factors) of a scaled matrix c·A·B (an einsum with rank-0 operands)."""
    if node.op != "einsum" or node.rank != 2 or not any(a.rank == 0 for a in node.args):
        return node, []
    scalars = [a for a in node.args if a.rank == 0]
    rest = [(a, ls) for a, ls in zip(node.args, node.params[0]) if a.rank]
    if not rest:
        return node, []
    return einsum(node.params[1], *rest, sizes=dict(zip(node.params[1], node.shape))), scalars


def _product(scalars: list[Tensor]) -> Tensor:
    return scalars[0] if len(scalars) == 1 else einsum((), *((s, ()) for s in scalars))


def split_all(root: Tensor) -> Tensor | None:
    """root with every function of a square chain that :func:`splits` split into its factors; None if none is."""
    memo: dict[int, Tensor] = {}
    changed = False
    for node in postorder(root):
        args = [memo[id(a)] for a in node.args]
        new = node if all(n is o for n, o in zip(args, node.args)) else reapply(node, args)
        parts = split(new)
        if parts is not None:
            new, changed = parts, True
        memo[id(node)] = new
    return simplify(memo[id(root)]) if changed else None


def shorter(first: Tensor, second: Tensor) -> Tensor:
    """Whichever of two equal tensors prints shorter, compacted (the first on a tie)."""
    a, b = Recovery()(first), Recovery()(second)
    if b is None or (a is not None and cost(compact(b)) >= cost(compact(a))):
        return first
    return second
