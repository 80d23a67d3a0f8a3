"""The slips found by repairing a claim's text: a sign, a factor of two, a missing or an extra
Hadamard factor (named as the textbook names it), a missing transpose, a reversed product, a
product whose shapes do not chain. Each is a search over edits of the claim's syntax tree, every
candidate compared numerically with the true derivative within the check's trial budget; the
table that orders them is :data:`matdiff.tools.diagnoses.DIAGNOSES`."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Iterator


from matdiff.errors import MatdiffError
from matdiff.language.shapes import shape_text
from matdiff.language.syntax import Call, Chain, Name, Node, Number, Program, Signed, Transpose, parse, unparse
from matdiff.language.syntax import with_child
from matdiff.notation.mtree import leaf
from matdiff.notation.printing import text as matrix_text
from matdiff.notation.slopes import slope
from matdiff.tools.claims import close, parts, subformulas


from matdiff.tools.evidence import ClaimSearch
from matdiff.tools.findings import Finding


# ----- slips inside the claim: found by repairing its text ------------------------------------------------


def sign(check: ClaimSearch) -> Finding | None:
    """Minus the derivative; else one term's sign flipped, or a unary minus too many."""
    if all(close(-got, expected) for _, expected, got in check.points):
        return Finding("sign", "a sign error: the claim is minus the derivative (a difference taken the other "
                       "way round, such as y - a for a - y?)")
    return _repaired(check, "sign", _sign_flips, "a sign error: {new} in place of {old}")


def factor_of_two(check: ClaimSearch) -> Finding | None:
    """Twice or half the derivative; else one coefficient or one term of a sum off by 2."""
    for scale, what in ((2.0, "half the derivative: a factor of 2 is missing"),
                        (0.5, "twice the derivative: a factor of 2 too many (or a ½ left out)")):
        if all(close(scale * got, expected) for _, expected, got in check.points):
            return Finding("factor_of_two", f"the claim is {what}")
    return _repaired(check, "factor_of_two", _doublings, "a factor of 2: {new} in place of {old}")


def missing_factor(check: ClaimSearch) -> Finding | None:
    """Put back one Hadamard factor of the true derivative (or its transpose, in a row), next to a part
    of the claim of its shape: an operand, or a run of neighbouring factors of a product."""
    value = check.claim_value
    factors = [f for factor in _answer_factors(check) for f in (factor, Transpose(0, factor.depth + 1, factor))]
    runs = {id(node): _runs(node) for node in parts(value) if _is_product(node)}
    shapes = check.surfaces(list(parts(value)) + [run for found in runs.values() for _, _, run in found] + factors)
    claimed = re.sub(r"\s", "", check.claim)
    missing = [f for f in factors if re.sub(r"\s", "", unparse(f)) not in claimed]
    for factor in missing + [f for f in factors if f not in missing]:
        if shapes and not shapes.get(id(factor)):
            continue  # a scalar factor (or one whose shape is unknown) is no elementwise slip

        def fits(node: Node, factor=factor) -> bool:
            return not isinstance(node, Number) and (not shapes or shapes.get(id(node)) == shapes.get(id(factor)))

        def insert(node: Node, factor=factor) -> Iterator[tuple[Node, str]]:
            if fits(node):
                yield _hadamard([*_hadamard_factors(node), *_hadamard_factors(factor)]), ""
            for start, end, run in runs.get(id(node), ()):
                if fits(run):
                    factors_of = subformulas(node)
                    yield _product([*factors_of[:start], _hadamard([run, factor]), *factors_of[end:]]), ""

        found = _repaired(check, "missing_factor", insert,
                          f"missing the factor {unparse(factor)}{_derivative_name(factor, check.program)}")
        if found is not None or check.budget_spent():
            return found
    return None


def _runs(product: Node) -> list[tuple[int, int, Node]]:
    """(start, end, the sub-product) for each run of two or more neighbouring factors, short of all."""
    factors = subformulas(product)
    return [(start, end, _chain(factors[start:end], "*")) for start in range(len(factors))
            for end in range(start + 2, len(factors) + 1) if end - start < len(factors)]


def extra_factor(check: ClaimSearch) -> Finding | None:
    """Take one factor (or two neighbours) out of an elementwise product of the claim."""
    def remove(node: Node) -> Iterator[tuple[Node, str]]:
        operands = _hadamard_factors(node)
        if len(operands) < 2:
            return
        for length in (1, 2):
            for start in reversed(range(len(operands) - length + 1)):  # a factor too many is often the last
                kept = operands[:start] + operands[start + length:]
                if kept:
                    yield _hadamard(kept), unparse(_hadamard(operands[start:start + length]))

    return _repaired(check, "extra_factor", remove, "the factor {note} does not belong: {new} in place of {old}")


def missing_transpose(check: ClaimSearch) -> Finding | None:
    """Transpose one part of the claim, or drop one of its transposes."""
    def toggle(node: Node) -> Iterator[tuple[Node, str]]:
        if isinstance(node, Transpose):
            yield node.operand, "a transpose too many"
        elif not isinstance(node, Number):
            yield Transpose(0, node.depth + 1, node), "a missing transpose"

    return _repaired(check, "missing_transpose", toggle, "{note}: {new} in place of {old}")


def reversed_order(check: ClaimSearch) -> Finding | None:
    """Reverse one product of the claim, or swap two neighbouring factors of it."""
    def reverse(node: Node) -> Iterator[tuple[Node, str]]:
        if not _is_product(node):
            return
        operands = subformulas(node)
        yield _product(operands[::-1]), ""
        for k in range(len(operands) - 1) if len(operands) > 2 else ():
            yield _product(operands[:k] + [operands[k + 1], operands[k]] + operands[k + 2:]), ""

    return _repaired(check, "reversed_order", reverse, "factors in reversed order: {new} in place of {old}")


def wrong_shape(check: ClaimSearch) -> Finding | None:
    """Last: what no repair explains, when the shapes already differ."""
    if check.points[0][1].shape == check.points[0][2].shape:
        return None
    return Finding("wrong_shape", f"the claim is {shape_text(check.claimed.surface)}, but ∂/∂{check.wrt_text} in the "
                   f"{check.layout} layout is {shape_text(check.derivative.shape)}", {"hint": check.tensor_hint()})


# ----- repairing the claim's text --------------------------------------------------------------------------


def _repaired(check: ClaimSearch, kind: str, edit, sentence: str) -> Finding | None:
    """The first claim with one part replaced by ``edit(part)`` that equals the derivative; ``sentence``
    says what was repaired ({old}, {new}: the part before and after; {note}: what edit said)."""
    value = check.claim_value
    for repaired, old, new, note in _variants(value, edit):
        agrees = check.agrees(repaired)
        if agrees is None:
            return None  # the budget is spent
        if agrees:
            text = unparse(repaired)
            return Finding(kind, sentence.format(old=unparse(old), new=unparse(new), note=note),
                           {"repair": text, "hint": f"repaired, the claim is right: {text}"})
    return None


def _variants(node: Node, edit) -> Iterator[tuple[Node, Node, Node, str]]:
    """(the formula with one part replaced, the part, its replacement, edit's note), outermost first."""
    for new, note in edit(node):
        yield new, node, new, note
    children = subformulas(node)
    for k, child in enumerate(children):
        for whole, old, new, note in _variants(child, edit):
            yield with_child(node, k, whole), old, new, note


def _hadamard_factors(node: Node) -> list[Node]:
    """The factors of an elementwise product (a single factor for anything else)."""
    if isinstance(node, Chain) and all(op == ".*" for op, _, _ in node.rest):
        return [node.first, *(operand for _, _, operand in node.rest)]
    return [node]


def _chain(operands: list[Node], op: str) -> Node:
    if len(operands) == 1:
        return operands[0]
    depth = 1 + max(o.depth for o in operands)
    return Chain(0, depth, operands[0], tuple((op, 0, o) for o in operands[1:]))


def _hadamard(operands: list[Node]) -> Node:
    return _chain(operands, ".*")


def _product(operands: list[Node]) -> Node:
    """operands[0]*operands[1]*…, a product among them flattened in (2*(A*x) is 2*A*x)."""
    flat = [factor for operand in operands
            for factor in (subformulas(operand) if _is_product(operand) else [operand])]
    return _chain(flat, "*")


def _is_product(node: Node) -> bool:
    return isinstance(node, Chain) and all(op == "*" for op, _, _ in node.rest)


def _sign_flips(node: Node) -> Iterator[tuple[Node, str]]:
    if isinstance(node, Signed) and node.sign == "-":
        yield node.operand, ""
    if isinstance(node, Chain) and node.rest[0][0] in "+-":
        for k, (op, position, operand) in enumerate(node.rest):
            flipped = ("-" if op == "+" else "+", position, operand)
            yield replace(node, rest=node.rest[:k] + (flipped,) + node.rest[k + 1:]), ""


def _doublings(node: Node) -> Iterator[tuple[Node, str]]:
    """A coefficient doubled or halved (2*A*x for A*x, x for 2*x), or one term of a sum doubled."""
    if _is_product(node):
        for k, factor in enumerate(subformulas(node)):
            if isinstance(factor, Number):
                for value in (2 * factor.value, factor.value / 2):
                    yield with_child(node, k, Number(0, 1, value, f"{value:g}")), ""
    elif isinstance(node, Chain) and node.rest[0][0] in "+-":
        two = Number(0, 1, 2.0, "2")
        for k, operand in enumerate(subformulas(node)):
            yield with_child(node, k, _product([two, operand])), ""


# ----- the true derivative's Hadamard factors, named as the textbook names them ---------------------------


def _answer_factors(check: ClaimSearch) -> list[Node]:
    """Each factor (and each pair of neighbouring factors) of the elementwise products in the answer,
    in the asked layout and the others, over the names a claim may use (the answer's own bindings,
    such as dz3, written out)."""
    found: dict[str, Node] = {}
    for text in check.answer_texts():
        try:
            program = parse(text)
        except MatdiffError:
            continue
        bodies: dict[str, Node] = {}
        for statement in program.statements:
            value = _inlined(statement.value, bodies)
            if statement.target is not None and statement.target not in check.names_in_scope:
                bodies[statement.target] = value
            for node in parts(value):
                operands = _hadamard_factors(node)
                if len(operands) < 2:
                    continue
                runs = [operands[k:k + 2] for k in range(len(operands) - 1)] + [[o] for o in operands]
                for run in runs:
                    factor = _hadamard(run)
                    if not isinstance(factor, Number):
                        found.setdefault(unparse(factor), factor)
    return list(found.values())[:40]


def _inlined(node: Node, bodies: dict) -> Node:
    if isinstance(node, Name) and node.name in bodies:
        return bodies[node.name]
    children = subformulas(node)
    for k, child in enumerate(children):
        new = _inlined(child, bodies)
        if new is not child:
            node = with_child(node, k, new)
    return node


def _derivative_name(factor: Node, program: Program) -> str:
    """', the derivative of sigmoid at z2' when the factor is a.*(1 - a) for a = sigmoid(z2), named in
    the program or written out (each function's derivative from its record: notation/slopes.py)."""
    factor = factor.operand if isinstance(factor, Transpose) else factor
    named = [(s.target, s.value) for s in program.statements if s.target]
    written = [(unparse(node), node) for node in parts(factor)]
    text = unparse(factor)
    for spelled, definition in named + written:
        if isinstance(definition, Call) and definition.arguments:
            argument = unparse(definition.arguments[0])
            derivative = slope(definition.function, leaf(spelled, "column"), leaf(argument, "column"))
            if derivative is not None and text == matrix_text(derivative):
                return f", the derivative of {definition.function} at {argument}"
    return ""
