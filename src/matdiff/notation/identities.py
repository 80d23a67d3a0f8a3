"""Elementwise algebra before printing: the IR rewritten the way a textbook would simplify it.

Differentiation leaves elementwise expressions a person would cancel: the logistic loss
gives ((1 - y)./(1 - s) - y./s).*s.*(1 - s), which is s - y; log(1 + exp(t)) gives
exp(t)./(1 + exp(t)), which is sigmoid(t). These are identities of the algebra of
elementwise functions, so they are applied to the IR (where shared parts are still
visible as one node) before the matrix form is recovered, and only for printing: the
numbers come from the unrewritten tensor.

An elementwise expression (sums, Hadamard products, integer powers and constants over
operands of one shape) is read as a Laurent polynomial in its *atoms*, the operands that
are not sums, products or powers; a sum is an atom too until it is expanded. Each rule of
:data:`RULES` rewrites a monomial; :func:`normal_form` then expands the sums that remain,
cancelling x·x⁻¹ as it goes, collects like terms, and keeps the result only when it is
smaller than what it replaces. Everything is exact: each rule's identity is in its
docstring and tests/test_literature.py checks each one numerically.
"""

from __future__ import annotations

from collections import Counter

from functools import lru_cache

from matdiff.engine.rules import Rule
from matdiff.engine.ir import Tensor, add, apply, const, einsum, folds, transpose
from matdiff.engine.primitives import reapply
from matdiff.engine.simplify import simplify
from matdiff.notation.factors import shorter, split_all, splits
from matdiff.notation.orientation import oriented
from matdiff.notation.polynomials import (MAX_TERMS, Monomial, Polynomial, TooManyTerms, monomial_of, plus, power_of,
                                          structural_key, substitute, times)
from matdiff.notation.unflatten import unflattened

# A monomial: ((atom, exponent), ...) sorted by id(atom); a polynomial: monomial → coefficient.
MAX_FACTORS = 32  # a longer elementwise product (a chain rule through a thousand layers) is left as it is


def _is_one_plus_exp(atom: Tensor) -> Tensor | None:
    """t for an atom 1 + exp(t) (either order); None otherwise."""
    if atom.op != "add" or len(atom.args) != 2:
        return None
    constant = next((a for a in atom.args if a.op == "const" and a.params[0] == 1.0), None)
    other = next((a for a in atom.args if a is not constant), None)
    if constant is None or other is None or other.op != "exp":
        return None
    return other.args[0]


@lru_cache(maxsize=4096)
def _canonical(node: Tensor) -> Tensor:
    """A contraction with its operands in a fixed order, so -X*w and X*w*(-1) are one node."""
    if node.op != "einsum":
        return node
    operands = sorted(zip(node.args, node.params[0]), key=lambda pair: (id(pair[0]), pair[1]))
    return einsum(node.params[1], *operands, sizes=dict(zip(node.params[1], node.shape)))


def _negated(t: Tensor) -> Tensor | None:
    """u for a contraction t = -u (a factor -1 among its operands), else None."""
    if t.op != "einsum":
        return None
    operands = list(zip(t.args, t.params[0]))
    minus = [k for k, (a, _) in enumerate(operands) if a.op == "const" and a.rank == 0 and a.params[0] == -1.0]
    if not minus:
        return None
    del operands[minus[0]]
    return einsum(t.params[1], *operands, sizes=dict(zip(t.params[1], t.shape)))


def sigmoid_of_exp(monomial: Monomial) -> Polynomial | None:
    """(1 + exp(-t))⁻¹ = sigmoid(t) and exp(t)·(1 + exp(t))⁻¹ = sigmoid(t). In general, with σ = sigmoid(t):
    exp(t)^m·(1 + exp(t))^-k = σ^m·(1 - σ)^(k-m), and exp(-t)^m·(1 + exp(-t))^-k = σ^(k-m)·(1 - σ)^m."""
    for atom, exponent in monomial:
        t = _is_one_plus_exp(atom)
        if t is None or exponent >= 0:
            continue
        inner = atom.args[0] if atom.args[0].op == "exp" else atom.args[1]
        same = [(a, e) for a, e in monomial if a.op == "exp" and _canonical(a.args[0]) is _canonical(t)]
        inner, m = same[0] if same else (inner, 0)
        u = _negated(t)
        rest = [(a, e) for a, e in monomial if a is not atom and a is not inner]
        k = -int(exponent)
        if u is not None:  # e = exp(-u) = (1 - σ)/σ, 1 + e = 1/σ, σ = sigmoid(u)
            s = apply("sigmoid", u)
            return times({monomial_of(rest): 1.0}, power_of(s, k - m), power_of(_one_minus(s), m))
        if m >= 0:  # e = exp(t) = σ/(1 - σ), 1 + e = 1/(1 - σ), σ = sigmoid(t)
            s = apply("sigmoid", t)
            return times({monomial_of(rest): 1.0}, power_of(s, m), power_of(_one_minus(s), k - m))
    return None


def exp_beside_sigmoid(monomial: Monomial) -> Polynomial | None:
    """exp(-t) = (1 - σ)/σ and exp(t) = σ/(1 - σ) beside σ = sigmoid(t): σ²·exp(-t) = σ·(1 - σ)."""
    if not any(a.op == "exp" for a, _ in monomial):
        return None
    for atom, k in monomial:
        if atom.op != "sigmoid":
            continue
        t = _canonical(atom.args[0])
        for other, m in monomial:
            if other.op != "exp":
                continue
            u = _canonical(other.args[0])
            negated = _negated(u)
            sign = 1 if u is t else -1 if negated is not None and _canonical(negated) is t else 0
            if sign:
                rest = [(a, e) for a, e in monomial if a is not atom and a is not other]
                return times({monomial_of(rest): 1.0}, power_of(atom, k + sign * m),
                              power_of(_one_minus(atom), -sign * m))
    return None


RULES: tuple[Rule, ...] = (
    Rule("sigmoid-of-exp", sigmoid_of_exp),  # 1/(1 + exp(-t)) = e/(1 + e) = sigmoid(t), e = exp(t)
    Rule("exp-beside-sigmoid", exp_beside_sigmoid),  # exp(-t) = (1 - σ)/σ, exp(t) = σ/(1 - σ), σ = sigmoid(t)
)


def _one_minus(x: Tensor) -> Tensor:
    return add(const(1.0, x.shape), einsum(tuple(range(x.rank)), (const(-1.0), ()), (x, tuple(range(x.rank)))))


def _is_hadamard(node: Tensor) -> bool:
    """An einsum that multiplies operands of its own shape entry by entry (scalars allowed), and not
    too many of them to read as a polynomial."""
    if node.op != "einsum" or len(node.args) > MAX_FACTORS:
        return False
    output = node.params[1]
    return len(set(output)) == len(output) and all(labels == output or not labels for labels in node.params[0])


def _read(node: Tensor, shape: tuple, memo: dict | None = None) -> Polynomial:
    """node as a polynomial in atoms of ``shape`` (sums of this shape stay atoms, to be expanded);
    ``memo`` (id → polynomial, for nodes kept alive by the caller) reads a shared node once."""
    if memo is None:
        return _read_uncached(node, shape, {})
    key = (id(node), shape)
    if key not in memo:  # the node is kept with its reading, so its id stays its own
        memo[key] = (node, _read_uncached(node, shape, memo))
    return memo[key][1]


def _read_uncached(node: Tensor, shape: tuple, memo: dict) -> Polynomial:
    if node.op == "const" and (node.rank == 0 or node.shape == shape):
        return {(): node.params[0]} if node.params[0] else {}
    if node.shape != shape and node.rank:
        return power_of(node, 1)  # not elementwise here: an atom
    if node.op == "einsum" and all(a.op == "const" for a in node.args) and \
            {x for labels in node.params[0] for x in labels} == set(node.params[1]):
        value = 1.0  # 1[i]·1[j]: the constant matrix of ones
        for a in node.args:
            value *= a.params[0]
        return {(): value} if value else {}
    if _is_hadamard(node):
        return times(*(_read(a, shape, memo) for a in node.args))
    if node.op == "constant_power" and float(node.params[0]).is_integer() and abs(node.params[0]) <= 4:
        inner = _read(node.args[0], shape, memo)
        if len(inner) == 1:  # a monomial's power: exponents multiply
            ((m, c),) = inner.items()
            return {monomial_of((a, e * int(node.params[0])) for a, e in m): c ** node.params[0]}
        return power_of(node.args[0], int(node.params[0]))
    return power_of(node, 1)


def _expand(p: Polynomial, shape: tuple, *, multiply_out: bool, memo: dict | None = None) -> Polynomial | None:
    """The rules applied and, with ``multiply_out``, every sum with a positive exponent multiplied
    out, sums that carry inverses first (so that x⁻¹ meets x before x is expanded); None past
    MAX_TERMS."""
    settled: set = set()
    for _ in range(4 * MAX_TERMS):
        if len(p) > MAX_TERMS:
            return None
        ruled = _apply_rules(p, settled)
        if ruled is not None:
            p = ruled
            continue
        sums = [(a, e) for m in p for a, e in m if a.op == "add" and e > 0 and a.shape == shape]
        if not sums or not multiply_out:
            return p
        memo = {} if memo is None else memo
        atom, _ = max(sums, key=lambda f: _has_inverse(f[0], shape, memo))
        expanded = memo.get(("expanded", id(atom), shape))  # multiplied out already, as a node of its own
        p = substitute(p, atom, expanded[1] if expanded else plus(*(_read(t, shape, memo) for t in atom.args)))
    return None


def _has_inverse(atom: Tensor, shape: tuple, memo: dict) -> bool:
    return any(e < 0 for t in atom.args for m in _read(t, shape, memo) for _, e in m)


def _apply_rules(p: Polynomial, settled: set | None = None) -> Polynomial | None:
    """The first rule that applies to a monomial of ``p``, applied; ``settled`` holds the monomials
    no rule applies to (a rule reads its monomial alone), which are not tried again."""
    for m, c in p.items():
        if settled is not None and m in settled:
            continue
        for rule in RULES:
            replaced = rule.apply(m)
            if replaced is not None:
                rest = {k: v for k, v in p.items() if k != m}
                return plus(rest, {k: v * c for k, v in replaced.items()})
        if settled is not None:
            settled.add(m)
    return None


def _build(p: Polynomial, shape: tuple) -> Tensor:
    labels = tuple(range(len(shape)))
    terms = []
    for m, c in p.items():
        operands: list[tuple[Tensor, tuple]] = [(const(c), ())] if c != 1.0 else []
        for atom, exponent in sorted(m, key=lambda f: structural_key(f[0])):  # the same order in every run
            factor = atom if exponent == 1 else apply("constant_power", atom, float(exponent))
            operands.append((factor, labels if atom.rank else ()))
        terms.append(einsum(labels, *operands, sizes=dict(zip(labels, shape))) if operands else const(c, shape))
    return add(*terms) if terms else const(0.0, shape)


def _size(node: Tensor, shape: tuple, memo: dict) -> tuple:
    """How big the elementwise expression at node prints: occurrences of atoms (x.^3 counting
    three), then operators and constants. ``memo`` maps (id, shape) to (node, size): the node is
    kept with its size, so a memo may outlive the expression it was made for."""
    key = (id(node), shape)
    if key not in memo:
        if node.op == "const":
            size = (0, 1)
        elif node.shape != shape and node.rank or node.op not in ("add", "constant_power", "einsum") or \
                (node.op == "einsum" and not _is_hadamard(node)):
            size = (1, 1)
        else:
            parts = [_size(a, shape, memo) for a in node.args]
            weight = abs(int(node.params[0])) if node.op == "constant_power" and float(node.params[0]).is_integer() else 1
            size = (weight * sum(p[0] for p in parts), 1 + sum(p[1] for p in parts))
        memo[key] = (node, size)
    return memo[key][1]


class Normalizer:
    """root ↦ root with each elementwise expression replaced by its normal form, where that is
    smaller, and with inverses and determinants of products split into factors, where that prints
    shorter. One memo serves every call, so a program's roots, which share most of their nodes, cost
    what one does."""

    def __init__(self):
        self.memo: dict[int, tuple[Tensor, Tensor, bool]] = {}  # id → (node, normal form, holds inv/det)
        self.readings: dict = {}  # (id, shape) → (node, polynomial): what _simplest read, for every root

    def __call__(self, root: Tensor) -> Tensor:
        simpler, splittable = self._normal(root)
        split = split_all(simpler) if splittable else None
        return simpler if split is None else shorter(simpler, self._normal(split)[0])

    def _normal(self, root: Tensor) -> tuple[Tensor, bool]:
        for node in self._unseen(root):
            args = [self.memo[id(a)][1] for a in node.args]
            splittable = bool(splits(node.op)) or any(self.memo[id(a)][2] for a in node.args)
            new = node if all(n is o for n, o in zip(args, node.args)) else reapply(node, args)
            if new.op == "inv" and new.args[0].op == "inv":  # inv(inv(X)) = X
                new = new.args[0].args[0]
            if new.op in ("reshape", "einsum"):
                split = unflattened(new)
                new = new if split is None else simplify(split)  # the split factors fused in
            turned = oriented(new)  # X' .* (1 ./ X)': a transpose moved out of elementwise algebra
            if turned is not None:
                new = turned[0]
            if new.op == "add":
                new = _common_factored(new) or new
            if _is_hadamard(new) and new.rank and sum(a.rank == 0 and a.op != "const" for a in new.args) > 1:
                new = _simplest_groups(new)  # the scalar factors as one product of their own: (1 - t)/(1 - s)·s·…
            if new.op in ("add", "constant_power") or _is_hadamard(new) and not _holds_diagonal(new):
                new = _simplest(new, self.readings)
            elif new.op == "einsum":
                new = _simplest_groups(new)
            if turned is not None and turned[1]:
                new = transpose(new)
            self.memo[id(node)] = (node, new, splittable)
        _, normal, splittable = self.memo[id(root)]
        return normal, splittable

    def _unseen(self, root: Tensor) -> list[Tensor]:
        """The nodes under root not normalised yet, operands first (a program's roots share most of
        their nodes: each is visited once in all)."""
        order: list[Tensor] = []
        stack: list[tuple[Tensor, bool]] = [(root, False)]
        queued: set[int] = set()
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in self.memo or id(node) in queued:
                continue
            queued.add(id(node))
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args) if id(a) not in self.memo)
        return order


def normal_form(root: Tensor) -> Tensor:
    """One root's normal form (see :class:`Normalizer`)."""
    return Normalizer()(root)


def _estimate(p: Polynomial) -> tuple:
    """About what :func:`_size` would say of the polynomial built (never more): atoms, then nodes."""
    atoms = sum(abs(e) for m in p for _, e in m)
    nodes = max(len(p) - 1, 0) + sum(len(m) + (len(m) > 1) for m in p)
    return atoms, nodes


def _simplest(node: Tensor, memo: dict | None = None) -> Tensor:
    """The smallest of node, its form with the rules applied, and that form multiplied out (never one
    whose constants do not fold: 1e300·1e300 stays as written); ``memo`` keeps the readings of
    parts shared with other calls (a Normalizer's)."""
    memo = {} if memo is None else memo
    try:
        read = _read(node, node.shape, memo)
    except (OverflowError, TooManyTerms):
        return node
    sizes = memo.setdefault("sizes", {})  # _size's memo, shared like the readings
    best, best_size = node, _size(node, node.shape, sizes)
    for multiply_out in (False, True):
        try:
            p = _expand(read, node.shape, multiply_out=multiply_out, memo=memo)
        except (OverflowError, TooManyTerms):
            p = None
        if multiply_out and p is not None and node.op == "add":  # a sum that contains it reuses this
            memo[("expanded", id(node), node.shape)] = (node, p)
        if p is None or not all(map(folds, p.values())) or _estimate(p) >= best_size:
            continue
        candidate = _build(p, node.shape)
        size = _size(candidate, node.shape, sizes)
        if size < best_size:
            best, best_size = candidate, size
    return best


def _simplest_groups(node: Tensor) -> Tensor:
    """In a contraction, the operands over the same indices are one elementwise product: simplified
    as one (X'·(e ⊙ (1 + e)⁻¹) is X'·σ)."""
    pairs = _products_read_through(list(zip(node.args, node.params[0])))
    for eye, (a, b) in [(n, ls) for n, ls in pairs if n.op == "eye" and ls[0] != ls[1]]:
        pairs = [(n, ls if n is eye else tuple(a if x == b else x for x in ls)) for n, ls in pairs]  # δ_ab f_b = δ_ab f_a
    pairs = [(einsum((0,), (n, (0, 0))), ls[:1]) if len(ls) == 2 and ls[0] == ls[1] else (n, ls)
             for n, ls in pairs]  # S[a,a] is diag(S)[a], to meet the 1 ./ diag(S) beside it
    groups: dict[tuple, list[Tensor]] = {}
    for operand, labels in pairs:
        groups.setdefault(tuple(labels), []).append(operand)
    operands: list[tuple[Tensor, tuple]] = []
    changed = False
    for labels, members in groups.items():
        if len(members) < 2 or len(set(labels)) < len(labels):
            operands.extend((m, labels) for m in members)
            continue
        own = tuple(range(len(labels)))
        product = einsum(own, *((m, own) for m in members))
        simpler = _simplest(product) if _is_hadamard(product) else product
        changed |= simpler is not product
        operands.extend([(simpler, labels)] if simpler is not product else ((m, labels) for m in members))
    if not changed:
        return node
    return einsum(node.params[1], *operands, sizes=dict(zip(node.params[1], node.shape)))


def _holds_diagonal(node: Tensor) -> bool:
    """A Hadamard product with a diagonal matrix among its factors (diag(v) ⊙ S = diag(v ⊙ diag(S))),
    which :func:`_simplest_groups` reads entry by entry."""
    return any(a.op == "einsum" and any(b.op == "eye" for b in a.args) for a in node.args)


def _products_read_through(pairs: list) -> list:
    """Operands that are products summing over nothing (X'·(s ⊙ y), taken out of a sum by
    :func:`_common_factored`) read as their factors, so that s meets the exp(-t) beside it."""
    out: list = []
    for operand, labels in pairs:
        output = operand.params[1] if operand.op == "einsum" else ()
        place = dict(zip(output, labels))
        if operand.op == "einsum" and len(place) == len(output) and \
                all(x in place for ls in operand.params[0] for x in ls):
            out.extend((a, tuple(place[x] for x in ls)) for a, ls in zip(operand.args, operand.params[0]))
        else:
            out.append((operand, labels))
    return out


def _common_factored(node: Tensor) -> Tensor | None:
    """Σ_t C·g_t = C·Σ_t g_t for products without sums (X[i,k]·g1[i] + X[i,k]·g2[i] = X[i,k]·(g1 + g2)[i]):
    the factors every term shares taken out, the rest summed as one elementwise expression."""
    terms: list[list] = []
    for summand in node.args:
        products = _products(summand, tuple(range(summand.rank)))
        if products is None:
            return None
        terms.extend(products)
    shared = Counter(f for f in terms[0] if f[0].rank)  # a factor twice in every term is common twice
    for other in terms[1:]:
        shared &= Counter(other)
    common = list(shared.elements())
    if not common or len(terms) < 2:
        return None
    rests = []
    for factors in terms:
        rest = list(factors)
        for f in common:
            rest.remove(f)
        rests.append(rest)
    numbers = [all(a.op in ("const", "eye") for a, _ in rest) for rest in rests]
    if all(numbers) or any(n and any(a.op == "eye" for a, _ in rest) for n, rest in zip(numbers, rests)):
        return None  # 2·G - G⊙I and diag(s) - s·sᵀ stay as the book writes them (s·(1 - s) - s is -s²)
    axes = sorted({k for rest in rests for _, ks in rest for k in ks})
    sizes = {k: node.shape[k] for k in axes}
    summed = add(*(einsum(axes, *rest, sizes=sizes) if rest else const(1.0, tuple(sizes[k] for k in axes))
                   for rest in rests))
    return einsum(tuple(range(node.rank)), *common, (_simplest(summed), tuple(axes)),
                  sizes=dict(enumerate(node.shape)))


def _products(t: Tensor, axes: tuple) -> list[list] | None:
    """t[axes] as a sum of products [(factor, its axes)]: reading through sums, c·(a + b), and products
    that sum over nothing; a sum inside a product stays one factor (1 - s beside (1 - s)⁻¹ must cancel,
    not be multiplied out). None past MAX_TERMS products."""
    if t.op == "add":
        parts = [_products(term, axes) for term in t.args]
        return None if any(p is None for p in parts) else [p for part in parts if part for p in part]
    place = dict(zip(t.params[1], axes)) if t.op == "einsum" else {}
    if t.op != "einsum" or len(place) != t.rank or any(x not in place for ls in t.params[0] for x in ls):
        return [[(t, axes)]]  # a factor of its own (a leaf, a function, a contraction that sums)
    operands = [(a, tuple(place[x] for x in labels)) for a, labels in zip(t.args, t.params[0])]
    scalars = [(a, ks) for a, ks in operands if a.op == "const" and not ks]
    rest = [(a, ks) for a, ks in operands if not (a.op == "const" and not ks)]
    if len(rest) == 1 and rest[0][0].op == "add":  # c·(a + b) = c·a + c·b
        inner = _products(*rest[0])
        return None if inner is None else [scalars + p for p in inner]
    result: list[list] = [scalars]
    for a, ks in rest:
        inner = _products(a, ks) if a.op == "einsum" else [[(a, ks)]]
        if inner is None:
            return None
        result = [r + p for r in result for p in inner]
        if len(result) > MAX_TERMS:
            return None
    return result
