"""Transposes lifted out of elementwise algebra, so that an entry meets its own inverse.

A softmax by rows is a softmax by columns of the transposed scores, and its derivative
multiplies entry by entry things such as Y', (1 ./ S')' and S'. The polynomial reading of
:mod:`matdiff.notation.identities` takes every operand that is not a sum, product or power
for an atom, and a transposed operand is one: S'.*(1 ./ S')' would not cancel to ones.
Here a transpose moves up past elementwise algebra instead:

- f(X') = f(X)' for an elementwise f (a power included);
- a Hadamard product whose matrix operands are all transposed is the transpose of the
  product of the originals.

An operand that is itself a transpose is read through (its labels swapped), so S' beside
(1 ./ S)' is S beside 1 ./ S in the other orientation. The transpose that is left meets
the contraction above it, which reads it as an index order.
"""

from __future__ import annotations

from collections import Counter

from matdiff.engine.ir import Tensor, einsum, transpose
from matdiff.engine.primitives import is_elementwise, reapply
from matdiff.notation import mtree
from matdiff.notation.printing import cost
from matdiff.notation.rewrite import rebuild


def transposed_of(node: Tensor) -> Tensor | None:
    """X for a node that is X' (one matrix operand, its two axes swapped); None otherwise."""
    if node.op != "einsum" or len(node.args) != 1 or node.rank != 2:
        return None
    (labels,), output = node.params
    return node.args[0] if len(set(output)) == 2 and labels == output[::-1] else None


def oriented(node: Tensor) -> tuple[Tensor, bool] | None:
    """(X, True) for a matrix node that is X' with a transpose moved out of its elementwise
    algebra; (X, False) for a Hadamard product X = node whose operands are now each in its
    orientation (a transposed one an explicit transpose, an atom of the polynomial reading);
    None when nothing changes."""
    if node.rank != 2:
        return None
    if is_elementwise(node.op) and len(node.args) == 1:
        inner = transposed_of(node.args[0])
        return None if inner is None else (reapply(node, [inner]), True)
    if node.op == "einsum" and _is_elementwise_product(node):
        return _product_oriented(node)
    return None


def _is_elementwise_product(node: Tensor) -> bool:
    output = node.params[1]
    return len(set(output)) == 2 and all(not labels or sorted(labels) == sorted(output)
                                         for labels in node.params[0])


def _product_oriented(node: Tensor) -> tuple[Tensor, bool] | None:
    """A Hadamard product with each transposed operand read through: lifted when its matrix
    operands all run against its axes, else with the ones that do made explicit transposes."""
    output = node.params[1]
    operands, changed = [], False
    for operand, labels in zip(node.args, node.params[0]):
        inner = transposed_of(operand) if labels else None
        changed |= inner is not None
        operands.append((inner, labels[::-1]) if inner is not None else (operand, labels))
    sizes = dict(zip(output, node.shape))
    if all(not labels or labels == output[::-1] for _, labels in operands):
        return einsum(output[::-1], *operands, sizes=sizes), True
    against = [bool(labels) and labels != output for _, labels in operands]
    if not changed and not any(against):
        return None
    return einsum(output, *((transpose(x) if turned else x, output if turned else labels)
                            for (x, labels), turned in zip(operands, against)), sizes=sizes), False


# ----- printed bindings -------------------------------------------------------------------------


def oriented_bindings(bindings: list, values: list, keep: set | frozenset = frozenset()) -> tuple[list, list]:
    """A binding S = softmax(W'*X') used mostly as S' is bound the other way round, S =
    softmax(X*W, 2), and its uses become S: the orientation the uses read in, where the body is
    no longer for it (one ``, 2`` allowed). One pass counts the uses, one rewrites them."""
    plain: Counter = Counter()
    turned: Counter = Counter()
    for tree in [body for _, body in bindings] + list(values):
        for node in _nodes(tree):
            if node.op == "leaf":
                plain[node.name] += 1
            elif node.op == "transpose" and node.args[0].op == "leaf":
                turned[node.args[0].name] += 1
                plain[node.args[0].name] -= 1
    flips = {}
    for name, body in bindings:  # the user's own names (``keep``) mean what the user wrote
        if body.shape_class == "matrix" and turned[name] > plain[name] and name not in keep:
            flipped = mtree.transpose(body)
            if cost(flipped) <= cost(body) + 2:
                flips[name] = flipped
    if not flips:
        return bindings, values
    return ([(name, _uses_flipped(flips.get(name, body), flips)) for name, body in bindings],
            [_uses_flipped(value, flips) for value in values])


def _nodes(tree):
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.args)


def _uses_flipped(x, flips: dict):
    """x with each use of a flipped name S read as S' (and S' as S)."""
    if x.op == "leaf":
        return mtree.transpose(x) if x.name in flips else x
    if x.op == "transpose" and x.args[0].op == "leaf" and x.args[0].name in flips:
        return x.args[0]
    if not x.args:
        return x
    args = tuple(_uses_flipped(a, flips) for a in x.args)
    return x if all(new is old for new, old in zip(args, x.args)) else rebuild(x, args)
