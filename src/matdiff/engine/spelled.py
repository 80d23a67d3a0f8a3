"""Functions spelled out by hand, recognised as the primitives they are: a named table.

A user may write ``exp(z)./sum(exp(z))`` for ``softmax(z)`` and ``log(sum(exp(z)))`` for
``logsumexp(z)``. Differentiated as written, these give ``(eye(n)/sum(exp(z)))*diag(exp(z)) -
sum(exp(z))^(-2)*exp(z)*exp(z)'`` where the book has ``diag(s) - s*s'``, and no printing rule
can put every such derivative (a cross-entropy's gradient, a Jacobian, a Hessian, a network's
backward pass) back together afterwards. Recognised as the lowering builds them, they are
differentiated as the primitives, so every derivative comes out as it does for ``softmax`` and
``logsumexp`` (tests/test_literature.py holds both spellings to the same closed forms). The
value is the same function, computed the stable way (no overflow for large z).

Each rule sees one freshly built IR node and returns an equal node or None. Only vectors are
recognised: ``sum`` adds every entry, so of a matrix ``exp(Z)./sum(exp(Z))`` is not the
language's column-by-column ``softmax(Z)``.
"""

from __future__ import annotations


from matdiff.engine.rules import Rule, first_rewrite
from matdiff.engine.ir import Tensor, einsum
from matdiff.engine.functions import FUNCTIONS


def _summed_exp(node: Tensor) -> Tensor | None:
    """t for node = sum(exp(t)), t a vector (a contraction of exp(t) over its one index); else None."""
    if node.op != "einsum" or node.params[1] or len(node.args) != 1:
        return None
    (inner,) = node.args
    if inner.op != "exp" or inner.rank != 1:
        return None
    return inner.args[0]


def softmax_of_exp(node: Tensor) -> Tensor | None:
    """exp(t) ./ sum(exp(t)) = exp(t) / sum(exp(t)) = softmax(t), for a vector t (a constant or scalar
    factor beside them stays: c·exp(t)/sum(exp(t)) = c·softmax(t))."""
    if node.op != "einsum" or node.rank != 1:
        return None
    operands = list(zip(node.args, node.params[0]))
    for k, (factor, labels) in enumerate(operands):
        if labels or factor.op != "constant_power" or factor.params[0] != -1.0:
            continue
        t = _summed_exp(factor.args[0])
        if t is None:
            continue
        numerator = next((j for j, (a, ls) in enumerate(operands) if _scaled_exp(a, t) is not None
                          and ls == node.params[1]), None)
        if numerator is None:
            continue
        scalars = _scaled_exp(operands[numerator][0], t) or []
        rest = [pair for j, pair in enumerate(operands) if j not in (k, numerator)] + scalars
        return einsum(node.params[1], (FUNCTIONS["softmax"](t), node.params[1]), *rest)
    return None


def _scaled_exp(node: Tensor, t: Tensor) -> list | None:
    """The scalar factors c of node = c·exp(t) ([] for exp(t) itself); None for anything else."""
    if node.op == "exp":
        return [] if node.args[0] is t else None
    if node.op != "einsum" or node.rank != 1:
        return None
    pairs = list(zip(node.args, node.params[0]))
    vectors = [(a, labels) for a, labels in pairs if labels]
    if len(vectors) != 1 or vectors[0] != (FUNCTIONS["exp"](t), node.params[1]):
        return None
    return [(a, ()) for a, labels in pairs if not labels]


def logsumexp_of_exp(node: Tensor) -> Tensor | None:
    """log(sum(exp(t))) = logsumexp(t), for a vector t."""
    if node.op != "log":
        return None
    t = _summed_exp(node.args[0])
    return None if t is None else FUNCTIONS["logsumexp"](t)


# name                    identity (see each docstring)
RULES: tuple[Rule, ...] = (
    Rule("softmax-of-exp",   softmax_of_exp),     # exp(t)./sum(exp(t)) = softmax(t)
    Rule("logsumexp-of-exp", logsumexp_of_exp),   # log(sum(exp(t))) = logsumexp(t)
)


def recognised(node: Tensor) -> Tensor:
    """node, or the primitive it spells out (the first rule of :data:`RULES` that applies)."""
    found = first_rewrite(RULES, node)
    return node if found is None else found
