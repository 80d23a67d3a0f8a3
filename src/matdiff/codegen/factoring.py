"""Sums that share a factor, computed once: Σ_t F·R_t = F·(Σ_t R_t) before code is written."""

from __future__ import annotations

from matdiff.engine import ir
from matdiff.engine.primitives import reapply
from matdiff.codegen.contraction import SYMBOLIC_SIZE


def postorder_of(roots: list[ir.Tensor]) -> list[ir.Tensor]:
    """Every node under ``roots`` once, operands before the nodes that read them."""
    seen: set[int] = set()
    order: list[ir.Tensor] = []
    for root in roots:
        for node in ir.postorder(root):
            if id(node) not in seen:
                seen.add(id(node))
                order.append(node)
    return order


def _cost(dims) -> int:
    total = 1
    for d in dims:
        total *= d if isinstance(d, int) else SYMBOLIC_SIZE
    return total


def factor_sums(roots: list[ir.Tensor]) -> list[ir.Tensor]:
    """Σ_t F·R_t = F·(Σ_t R_t) for a factor F every term of a sum shares, indexed the same way.

    Reverse mode leaves sums such as X'·diag(a) + X'·diag(b) (a logistic Hessian); computing
    X'·diag(a + b) instead saves a pass over X per term. Only factors whose indices are all
    free are moved, so no summation is reordered.
    """
    from matdiff.engine.simplify import simplify

    memo: dict[int, ir.Tensor] = {}
    order = postorder_of(roots)
    for node in order:
        args = [memo[id(a)] for a in node.args]
        new = node if all(a is b for a, b in zip(args, node.args)) else reapply(node, args)
        if new.op == "add":
            new = _factor_sum(new)
        memo[id(node)] = new
    return [simplify(memo[id(root)]) for root in roots]


def _factor_sum(node: ir.Tensor) -> ir.Tensor:
    from matdiff.engine.simplify import simplify_einsum

    if len(node.args) < 2 or any(t.op != "einsum" for t in node.args):
        return node
    # a term that scales or transposes a shared product is looked at as that product
    terms = [simplify_einsum(t.params[1], list(zip(t.args, t.params[0])), [True] * len(t.args))
             for t in node.args]
    if any(t.op != "einsum" for t in terms):
        return node
    rank = node.rank

    def free_factors(term):
        """(id, operand, output positions) of each operand whose every index is free."""
        inputs, output = term.params
        position = {label: k for k, label in enumerate(output)}
        found = {}
        for operand, labels in zip(term.args, inputs):
            if operand.rank and all(label in position for label in labels):
                key = (id(operand), tuple(position[label] for label in labels))
                found[key] = operand
        return found

    common = free_factors(terms[0])
    for term in terms[1:]:
        others = free_factors(term)
        common = {key: operand for key, operand in common.items() if key in others}
    if not common:
        return node
    (key, factor), *_ = sorted(common.items(), key=lambda item: -_cost(item[1].shape))
    positions = key[1]
    rests, kept = [], set()
    for term in terms:
        inputs, output = term.params
        operands = list(zip(term.args, inputs))
        for k, (operand, labels) in enumerate(operands):
            if id(operand) == key[0] and all(label in output for label in labels) \
                    and tuple(output.index(label) for label in labels) == positions:
                del operands[k]
                break
        rests.append((operands, output))
        kept |= {output.index(label) for _, labels in operands for label in labels if label in output}
    kept_positions = sorted(kept)
    sizes = {("out", k): d for k, d in enumerate(node.shape)}
    summands = []
    for operands, output in rests:
        rename = {label: ("out", k) for k, label in enumerate(output)}
        relabelled = [(operand, tuple(rename.get(label, label) for label in labels)) for operand, labels in operands]
        summands.append(ir.einsum([("out", k) for k in kept_positions], *relabelled, sizes=sizes))
    inner = ir.add(*summands)
    return ir.einsum([("out", k) for k in range(rank)], (factor, [("out", k) for k in positions]),
                     (inner, [("out", k) for k in kept_positions]), sizes=sizes)
