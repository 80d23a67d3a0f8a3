"""inv, det and logdet of a product of square matrices, split into its factors where that prints shorter.

inv(ABC) = C⁻¹B⁻¹A⁻¹, det(ABC) = det(A)·det(B)·det(C) and logdet(ABC) = Σ logdet of each,
when every factor is square. Split, the gradient of logdet(A*X*B), Aᵀ·inv(A*X*B)ᵀ·Bᵀ,
becomes Aᵀ·A⁻ᵀ·X⁻ᵀ·B⁻ᵀ·Bᵀ, which the rule inverse-cancels of the rewrite table reduces to
X⁻ᵀ; the gradient of det(X^3) becomes 3·det(X)³·X⁻ᵀ. The split is kept only when the
whole derivative prints shorter, compacted (:func:`matdiff.notation.rewrite.compact`), than it
did; elsewhere inv(A*X) stays as written.
"""

from __future__ import annotations

from matdiff.engine.ir import Tensor, add, einsum, matmul, postorder, transpose
from matdiff.engine.primitives import FUNCTIONS, reapply
from matdiff.engine.simplify import simplify
from matdiff.notation.matrixform import Recovery
from matdiff.notation.mtree import cost
from matdiff.notation.rewrite import compact

SPLIT = ("inv", "det", "logdet")


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
    """inv, det or logdet of a square chain, by its factors; None when node is not one."""
    chain = square_chain(node.args[0]) if node.op in SPLIT else None
    if chain is None:
        return None
    if node.op == "inv":
        result = FUNCTIONS["inv"](chain[-1])
        for factor in reversed(chain[:-1]):
            result = matmul(result, FUNCTIONS["inv"](factor))
        return result
    if node.op == "logdet":
        return add(*(FUNCTIONS["logdet"](f) for f in chain))
    return einsum((), *((FUNCTIONS["det"](f), ()) for f in chain))


def split_all(root: Tensor) -> Tensor | None:
    """root with every inv, det and logdet of a square chain split into its factors; None if none is."""
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
