"""Algebraic clean-up of an IR DAG after differentiation: fusion and delta elimination.

Reverse mode leaves chains of small contractions and Kronecker deltas (the seed
∂Y/∂Y is a product of deltas). Three rewrites turn them into the forms a person
writes, without ever duplicating shared work:

- ``fuse``: an einsum operand that is itself an einsum used only here (or a mere
  transpose/scaling) is inlined: (A_ij B_jk) C_kl is one contraction.
- ``eliminate deltas``: δ_ab with a summed index renames that index and
  disappears (A_ij δ_jk = A_ik); a delta whose indices are both free stays — it
  is real structure (∂(AB)/∂B = A_ik δ_jl).
- ``distribute a transpose over a sum``: (A + B)ᵀ = Aᵀ + Bᵀ, so layouts can
  rearrange a sum term by term.

Shared nodes (used twice or more) are never inlined: that is what keeps the
output of a 32-layer network linear in its depth.

Given assumptions (``assume``), the rules of :mod:`matdiff.engine.structure` apply too:
S' is S for a symmetric S, D*x is diag(D).*x for a diagonal D, |x| is x for a positive x.
"""

from __future__ import annotations

import weakref
from collections import Counter
from itertools import count

from matdiff.engine.ir import Tensor, add, apply, const, einsum, eye, postorder
from matdiff.engine.primitives import reapply
from matdiff.engine.structure import CONTRACTION_RULES, Structured, rewrite_node
from matdiff.language.assumptions import Assumptions


# A chain a1*a2*…*an is a left-deep nest of contractions; fusing it level by level copies
# 1, 2, … n operands, quadratic in n. Contractions larger than this stay nested instead, so a
# 3,000-factor product simplifies in linear time (printed forms flatten nested products anyway).
MAX_FUSED_OPERANDS = 16


# Roots already simplified, and results by root: the pipeline simplifies a derivative, then its
# reshape and its arrangement, which are often the same node, so a large DAG is simplified once,
# not three times. Weak: a result lives no longer than its root (a result that is its own root
# is only in the set, lest the dictionary's value keep its key alive).
_finished: "weakref.WeakSet[Tensor]" = weakref.WeakSet()
_simplified: "weakref.WeakKeyDictionary[Tensor, Tensor]" = weakref.WeakKeyDictionary()


def simplify(root: Tensor, assume: Assumptions | None = None) -> Tensor:
    """``root`` cleaned up; with ``assume``, also rewritten by what the assumed structure allows
    (only after differentiating: see :mod:`matdiff.engine.structure`). Only plain results are
    remembered: a root simplified plainly may still have structure to use."""
    if assume:
        return _simplify(root, Structured(assume))
    if root in _finished:
        return root
    result = _simplified.get(root)
    if result is None:
        result = _simplify(root, None)
        _finished.add(result)
        if result is not root:
            _simplified[root] = result
    return result


def _simplify(root: Tensor, facts: Structured | None) -> Tensor:
    # Plainly, a result simplified already is not looked into: simplifying the n-th step of a chain
    # then costs the step, not the chain before it.
    done = None if facts is not None else (lambda node: node is not root and node in _finished)
    nodes = postorder(root, stop=done)
    uses: Counter = Counter(id(arg) for node in nodes for arg in node.args)
    memo: dict[int, Tensor] = {}
    for node in nodes:
        if done is not None and done(node):
            memo[id(node)] = node
            continue
        args = [memo[id(a)] for a in node.args]
        if node.op == "einsum":
            single_use = [uses[id(a)] <= 1 for a in node.args]
            new = simplify_einsum(node.params[1], list(zip(args, node.params[0])), single_use, facts)
        elif node.op == "reshape" and args[0].op == "einsum" and _drops_unit_axes(args[0].shape, node.shape):
            new = _squeeze_einsum(args[0], node.shape)
        elif all(new is old for new, old in zip(args, node.args)):
            new = node
        else:
            new = reapply(node, args)
        memo[id(node)] = new if facts is None else rewrite_node(new, facts)
    return memo[id(root)]


def _drops_unit_axes(source: tuple, target: tuple) -> bool:
    """True when ``target`` is ``source`` with some axes of size 1 left out."""
    position = 0
    for d in source:
        if position < len(target) and target[position] == d:
            position += 1
        elif d != 1:
            return False
    return position == len(target) and len(target) < len(source)


def _squeeze_einsum(node: Tensor, target: tuple) -> Tensor:
    """Dropping an axis of size 1 from a contraction is summing over it."""
    inputs, output = node.params
    kept, position = [], 0
    for label, d in zip(output, node.shape):
        if position < len(target) and target[position] == d:
            kept.append(label)
            position += 1
    return einsum(kept, *zip(node.args, inputs))


def _is_view(node: Tensor) -> bool:
    """A transpose or scaling of one tensor: free to inline however often it is used."""
    return node.op == "einsum" and sum(1 for a in node.args if not (a.op == "const" and a.rank == 0)) <= 1


def simplify_einsum(output, operands: list[tuple[Tensor, tuple]], single_use: list[bool],
                    facts: Structured | None = None) -> Tensor:
    fresh = count()
    if len(operands) == 1 and operands[0][0].op == "add":  # (A + B)ᵀ = Aᵀ + Bᵀ
        term_sum, labels = operands[0]
        return add(*(simplify_einsum(output, [(t, labels)], [True], facts) for t in term_sum.args))
    flat: list[tuple[Tensor, tuple]] = []
    for (node, labels), alone in zip(operands, single_use):
        if node.op == "einsum" and (_is_view(node) or all(a.op == "const" for a in node.args)
                                    or (alone and len(node.args) <= MAX_FUSED_OPERANDS)):
            flat.extend(_inline(node, labels, fresh))
        else:
            flat.append((node, tuple(labels)))
    # an output index may lose its last operand (Σ_j δ_ij is a vector of ones): keep its size
    sizes = {label: size for node, labels in flat for label, size in zip(labels, node.shape)}
    output, flat = _eliminate_deltas(list(output), _cancel_inverses(output, flat))
    if facts is not None:
        for rule in CONTRACTION_RULES:
            output, flat = _eliminate_deltas(output, rule.apply(tuple(output), flat, facts))
    flat = _fold_filled_constants(output, flat)
    flat = _merge_powers(flat)
    return einsum(output, *flat, sizes={label: sizes[label] for label in output if label in sizes})


def _inline(node: Tensor, labels, fresh) -> list[tuple[Tensor, tuple]]:
    """The operands of einsum ``node``, relabelled into the enclosing contraction."""
    inputs, inner_output = node.params
    rename = dict(zip(inner_output, labels))
    for inner_labels in inputs:
        for label in inner_labels:
            if label not in rename:
                rename[label] = ("fused", next(fresh))
    return [(arg, tuple(rename[label] for label in inner_labels)) for arg, inner_labels in zip(node.args, inputs)]


def _cancel_inverses(output, operands: list[tuple[Tensor, tuple]]) -> list[tuple[Tensor, tuple]]:
    """inv(A)_ij A_jk = δ_ik and A_ki inv(A)_ij = δ_kj, where j is summed over these two alone: so
    tr(inv(X)·X) = n, which the delta elimination then counts (∂det(aX)/∂a = 3a²det(X))."""
    changed = True
    while changed:
        changed = False
        for m, (inverse, inverse_labels) in enumerate(operands):
            if inverse.op != "inv" or len(inverse_labels) != 2:
                continue
            p, q = inverse_labels
            for k, (matrix, labels) in enumerate(operands):
                if k == m or matrix is not inverse.args[0] or len(labels) != 2:
                    continue
                r, t = labels
                for summed, kept in ((q, (p, t)), (p, (r, q))):
                    if (summed, summed) != ((q, r) if summed == q else (t, p)) or summed in output \
                            or sum(labels_.count(summed) for _, labels_ in operands) != 2:
                        continue
                    rest = [operand for j, operand in enumerate(operands) if j not in (m, k)]
                    operands = rest + [(eye(inverse.shape[0]), kept)]
                    changed = True
                    break
                if changed:
                    break
            if changed:
                break
    return operands


def _eliminate_deltas(output: list, operands: list[tuple[Tensor, tuple]]):
    """A_ij δ_jk = A_ik: rename the summed index of a delta and drop it.

    Where the summed index occurs on nothing else, Σ_j δ_jk = 1 for each k: the delta becomes
    a vector of ones (so Σ_jk δ_jk = n, and diag(I) is ones), or the number n when k is summed
    too (tr(I) = n)."""
    changed = True
    while changed:
        changed = False
        for position, (node, labels) in enumerate(operands):
            if node.op != "eye":
                continue
            a, b = labels
            if a == b and not isinstance(node.shape[0], int):
                continue
            if a in output and b in output and a != b:
                continue
            old, new = (a, b) if a not in output else (b, a)
            others = [ls for k, (_, ls) in enumerate(operands) if k != position]
            if a == b or not any(old in ls for ls in others):
                n = node.shape[0]
                if new in output or any(new in ls for ls in others) or not isinstance(n, int):
                    operands[position] = (const(1.0, (n,)), (new,))
                else:
                    operands[position] = (const(float(n)), ())
                changed = True
                break
            del operands[position]
            operands = [(n, tuple(new if x == old else x for x in ls)) for n, ls in operands]
            changed = True
            break
    return output, operands


def _merge_powers(operands):
    """x^a · x^b = x^(a+b) for factors over the same indices (so 2·r^1·0.5·r^-1 → 1)."""
    powers: dict = {}
    order = []
    for node, labels in operands:
        base, exponent = (node.args[0], node.params[0]) if node.op == "constant_power" else (node, 1.0)
        key = (id(base), labels)
        if key not in powers:
            powers[key] = [base, labels, 0.0]
            order.append(key)
        powers[key][2] += exponent
    if len(order) == len(operands):
        return operands
    merged = []
    for key in order:
        base, labels, exponent = powers[key]
        if exponent != 0.0:
            merged.append((apply("constant_power", base, exponent), labels))
    return merged


def _fold_filled_constants(output, operands):
    """A constant tensor c·ones whose indices all appear elsewhere is just the number c; one of order
    > 2 is c times a vector of ones for each index of its own (a number, its size, where that index
    is summed), which a matrix form can write: Σ_kl 1_kilj·A_kl = sum(A)·1_i·1_j."""
    result = []
    elsewhere = {x for node, labels in operands if not (node.op == "const" and node.rank > 0) for x in labels}
    for node, labels in operands:
        if node.op == "const" and node.rank > 0:
            if set(labels) <= elsewhere:
                result.append((const(node.params[0]), ()))
                continue
            if node.rank > 2:
                result.append((const(node.params[0]), ()))
                sizes = dict(zip(labels, node.shape))
                for label in dict.fromkeys(labels):
                    if label in elsewhere:
                        continue
                    size = sizes[label]
                    summed = label not in output and isinstance(size, int)
                    result.append((const(float(size)), ()) if summed else (const(1.0, (size,)), (label,)))
                continue
        result.append((node, labels))
    return result
