"""The polynomial algebra behind the elementwise normal forms (notation/identities.py): an
elementwise expression read as a sum of monomials in atoms (tensors) with integer exponents, and
multiplied out within a bound on the terms."""

from __future__ import annotations

import hashlib
import weakref

from matdiff.engine.ir import Tensor

Monomial = tuple  # ((atom, exponent), …) in a fixed order
Polynomial = dict  # monomial → coefficient

MAX_TERMS = 64  # expansions past this many terms are not simpler: leave the expression as it is


def monomial_of(factors) -> Monomial:
    merged: dict[int, list] = {}
    for atom, exponent in factors:
        entry = merged.setdefault(id(atom), [atom, 0])
        entry[1] += exponent
    return tuple(sorted(((a, e) for a, e in merged.values() if e != 0), key=lambda f: id(f[0])))


def _merged(m1: Monomial, m2: Monomial) -> Monomial:
    """The product of two monomials (each in id order): merged in one pass, exponents added."""
    if not m1 or not m2:
        return m1 or m2
    out = []
    i = j = 0
    while i < len(m1) and j < len(m2):
        (a, e), (b, f) = m1[i], m2[j]
        if a is b:
            if e + f:
                out.append((a, e + f))
            i, j = i + 1, j + 1
        elif id(a) < id(b):
            out.append(m1[i])
            i += 1
        else:
            out.append(m2[j])
            j += 1
    out.extend(m1[i:])
    out.extend(m2[j:])
    return tuple(out)


_KEYS: "weakref.WeakKeyDictionary[Tensor, bytes]" = weakref.WeakKeyDictionary()


def structural_key(root: Tensor) -> bytes:
    """A digest of the node's structure, the same in every process: monomials are ordered by id()
    (fast, but an accident of memory), so a normal form is printed with its factors ordered by this."""
    stack = [root]
    while stack:  # iterative: operands first, each node once, however deep
        node = stack[-1]
        if node in _KEYS:
            stack.pop()
            continue
        missing = [a for a in node.args if a not in _KEYS]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        digest = hashlib.blake2b(repr((node.op, node.params, node.shape)).encode(), digest_size=8)
        for a in node.args:
            digest.update(_KEYS[a])
        _KEYS[node] = digest.digest()
    return _KEYS[root]


class TooManyTerms(ArithmeticError):
    """A product multiplied out past :data:`MAX_PRODUCT_TERMS`: the expansion is abandoned (it would
    not print shorter), before it costs time exponential in the program (a value reused 3× a step)."""


MAX_PRODUCT_TERMS = 16 * MAX_TERMS


def times(*polynomials: Polynomial) -> Polynomial:
    result: Polynomial = {(): 1.0}
    for p in polynomials:
        if len(result) * len(p) > MAX_PRODUCT_TERMS:
            raise TooManyTerms
        product: Polynomial = {}
        for m1, c1 in result.items():
            for m2, c2 in p.items():
                key = _merged(m1, m2)
                product[key] = product.get(key, 0.0) + c1 * c2
        result = {m: c for m, c in product.items() if c != 0.0}
    return result


def plus(*polynomials: Polynomial) -> Polynomial:
    result: Polynomial = {}
    for p in polynomials:
        for m, c in p.items():
            result[m] = result.get(m, 0.0) + c
    return {m: c for m, c in result.items() if c != 0.0}


def power_of(atom: Tensor, exponent: int) -> Polynomial:
    return {monomial_of(((atom, exponent),)): 1.0} if exponent else {(): 1.0}


def substitute(p: Polynomial, atom: Tensor, value: Polynomial) -> Polynomial:
    result: Polynomial = {}
    for m, c in p.items():
        exponent = next((e for a, e in m if a is atom), 0)
        expanded = {m: c} if exponent <= 0 else \
            times({monomial_of((a, e) for a, e in m if a is not atom): c}, *([value] * exponent))
        for k, v in expanded.items():  # summed in place: one pass, not a copy of the sum per term
            result[k] = result.get(k, 0.0) + v
    return {m: c for m, c in result.items() if c != 0.0}
