"""Why a claim is wrong: the slips people make, as one named table, each diagnosed by search.

``check`` (tools/checking.py) compares a claim with the derivative at random values. When they
differ, each record of :data:`DIAGNOSES` in turn tries to explain the difference by undoing one
slip: arranging the answer in another layout, assuming an input symmetric, putting back a
Hadamard factor of the true derivative, a transpose, a sign, a factor of 2. A record says what it
found only when the repaired claim equals the derivative at the same random values, so every
diagnosis is a numerical fact, not a guess. The first record that fits gives the verdict;
``wrong`` (with a counterexample) when none does.

The repairs of the claim's text are budgeted by :func:`trials`: a count of numerical comparisons
that shrinks with the length of the program and the claim (each comparison lowers and evaluates
both), so the search takes a few hundred milliseconds at most, and a long claim or a long program
makes a verdict plainer, never slow; the verdict is the same on a fast or a busy machine. This module decides what to try and how to say what it found; the numbers (random values,
the derivative in each layout, the claim's value) come from the check in progress.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from matdiff.engine.layout import LAYOUTS
from matdiff.engine.structure import CONVENTIONS
from matdiff.errors import MatdiffError
from matdiff.language.assumptions import Assumptions
from matdiff.language.shapes import shape_text
from matdiff.language.syntax import Call, Chain, Name, Node, Number, Program, Signed, Transpose, parse, unparse
from matdiff.language.syntax import with_child
from matdiff.tools.claims import canonical, close, parts, subformulas

if TYPE_CHECKING:
    from matdiff.tools.checking import Check

TRIALS = 120  # repaired claims compared numerically, at most, per check …
WORK = 30_000  # … and fewer for a long one: a trial costs about a character of program and claim each
SECONDS = 2.0  # a backstop only: the count above is what stops a search, the same on any machine
KINKS = re.compile(r"\b(abs|relu|sqrt|norm1)\s*\(")  # functions that simplify for a positive argument


def trials(expression: str, claim: str) -> int:
    """How many repaired claims a check may compare: :data:`TRIALS`, fewer for long texts."""
    return max(0, min(TRIALS, WORK // max(1, len(expression) + len(claim))))


@dataclass(frozen=True)
class Finding:
    """What a diagnosis found: the verdict's kind, the sentence that says it, and extra fields."""

    kind: str
    diagnosis: str
    fields: dict = field(default_factory=dict)  # hint, layouts, backprop_form, repair


@dataclass(frozen=True)
class Diagnosis:
    """One slip: its name (the verdict's kind), what it is, and the search that recognises it."""

    name: str
    slip: str
    find: Callable[["Check"], "Finding | None"]
    mends_shapes: bool = False  # may also repair a claim that does not typecheck (W3 for W3')


# ----- the derivative itself, arranged or defined otherwise ---------------------------------------------


def other_layout(check: "Check") -> Finding | None:
    """The claim's numbers are the derivative's in another layout."""
    matches = []
    for layout in LAYOUTS:
        if layout == check.layout:
            continue
        try:
            if all(close(got, check.expected(values, layout)) for values, _, got in check.points):
                matches.append(layout)
        except MatdiffError:
            continue
    if not matches:
        return None
    first, also = matches[0], matches[1:]
    names = f"the {first} layout" + (f" (and the {', '.join(also)} layout{'s' if len(also) > 1 else ''})"
                                      if also else "")
    reason = ""
    if {check.layout, first} <= {"numerator", "denominator", "gradient"}:
        reason = ": numerator and denominator layouts are transposes of each other"
    return Finding("other_layout", f"the claim is the derivative in {names}, not in the {check.layout} layout{reason}",
                   {"layouts": tuple(matches)})


def transposed(check: "Check") -> Finding | None:
    """The derivative's matrix transposed where no layout would (e.g. for a scalar variable)."""
    if all(expected.ndim == 2 and close(got.T, expected) for _, expected, got in check.points):
        return Finding("transpose", "the claim is the transpose of the derivative (in no layout is it arranged "
                       "that way)")
    return None


def other_convention(check: "Check") -> Finding | None:
    """The derivative by a structured matrix in another convention, under the stated assumptions."""
    return _structured(check, [check.assume], [c for c in CONVENTIONS if c != check.derivative.convention])


def needs_assumption(check: "Check") -> Finding | None:
    """Right with one more input structured (symmetric, or positive under a kink); in the asked
    convention, else in another (then the verdict's kind is convention)."""
    current = check.derivative.convention
    return _structured(check, _stronger_assumptions(check), [current, *(c for c in CONVENTIONS if c != current)])


def _structured(check: "Check", assumptions: list, conventions: list) -> Finding | None:
    for assume in assumptions:
        for convention in conventions:
            try:
                other = check.derivative_in(check.layout, assume=assume, convention=convention)
                agree = all(close(check.claimed.value(values), canonical(other.evaluate(values)))
                            for values in check.structured_draws(assume))
            except MatdiffError:
                continue
            if agree:
                return _structure_text(check, assume, convention)
    return None


def _stronger_assumptions(check: "Check") -> list[Assumptions]:
    """The stated assumptions plus one more: a square matrix input symmetric, (where the
    expression has a kink such as abs or relu) an input positive, or (beside a softmax, a
    cross-entropy's targets) an input one-hot by columns or rows."""
    stated = check.assume.as_dict()
    kinked = KINKS.search(check.expression) is not None
    softmax = SOFTMAX.search(check.expression) is not None
    return [Assumptions.of({**stated, name: structure}) for name, shape in check.inputs.items()
            if name not in stated
            for structure in ("symmetric", "positive", "onehot", "rows_onehot")
            if (structure == "symmetric" and len(shape) == 2 and shape[0] == shape[1])
            or (structure == "positive" and kinked)
            or (structure == "onehot" and softmax and len(shape) >= 1)
            or (structure == "rows_onehot" and softmax and len(shape) == 2)]


SOFTMAX = re.compile(r"\b(softmax|logsumexp)\s*\(")  # a cross-entropy's targets may be one-hot


def _structure_text(check: "Check", assume: Assumptions, convention: str) -> Finding:
    added = Assumptions(tuple(item for item in assume.items if item not in check.assume.items))
    condition = "".join(f" if {name} is {structure}" for name, structure in added.items)
    how = f"; add {' '.join(added.options())}" if added else ""
    if convention == check.derivative.convention:
        return Finding("needs_assumption", f"{check.claim} is right{condition}{how}",
                       {"hint": f"in Python: assume={assume.as_dict()}"})
    meaning = CONVENTIONS[convention]
    return Finding("convention", f"{check.claim} is the derivative in the {convention} convention "
                   f"({meaning.formula}: {meaning.meaning}){condition}, not the {check.derivative.convention} one{how}",
                   {"hint": f"ask for it with convention='{convention}' (--convention {convention}); "
                            "`matdiff explain` compares the conventions"})


# ----- the backprop confusion ---------------------------------------------------------------------------


def vjp(check: "Check", values: dict, cotangent: np.ndarray) -> np.ndarray:
    """Σ_i G[i…]·J[i…, j…]: ∂L/∂X for a scalar L with ∂L/∂Y = G."""
    jacobian = np.asarray(check.derivative_in("jacobian").evaluate(values), dtype=float)
    return np.tensordot(cotangent, jacobian, axes=cotangent.ndim)


def backprop_factor(check: "Check") -> Finding | None:
    """The claim K is the factor of the vector-Jacobian product: ∂L/∂X = K*G, G*K or K.*G."""
    if not (check.single and check.y_shape):
        return None
    forms = {"K*G": lambda K, G: K @ G, "G*K": lambda K, G: G @ K, "K.*G": lambda K, G: K * G}
    for name, form in forms.items():
        if all(_factor_of(check, form, values, K) for values, _, K in check.points):
            simple = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*'?", check.claim.strip())
            product = name.replace("K", check.claim.strip() if simple else f"({check.claim})")
            return Finding("vjp", f"{check.claim} is how this derivative appears in backprop (as in machine-learning "
                           f"texts): for a scalar loss L with G = ∂L/∂{check.output} ({shape_text(check.y_shape)}), "
                           f"∂L/∂{check.wrt_text} = {product}. ∂{check.output}/∂{check.wrt_text} itself is "
                           f"{derivative_kind(check)}", {"backprop_form": check.backprop_form()})
    return None


def _factor_of(check: "Check", form, values: dict, K: np.ndarray) -> bool:
    for _ in range(2):
        G = check.cotangent()
        try:
            product = form(K, canonical(G))
        except ValueError:
            return False
        if not close(canonical(product), canonical(vjp(check, values, G))):
            return False
    return True


def derivative_kind(check: "Check") -> str:
    """'the 2×3 matrix …' or 'an order-4 tensor 1×2×3×2 (in the vec layout the 2×6 matrix …)'."""
    derivative = check.derivative
    shape = derivative.arrangement.y_shape + tuple(d for s in derivative.arrangement.x_shapes for d in s)
    if derivative.text is not None and len(derivative.shape) <= 2:
        return f"the {shape_text(derivative.shape)} matrix {derivative.text}"
    text = f"an order-{len(shape)} tensor {shape_text(shape)}"
    if derivative.text is None:
        try:
            vec = check.derivative_in("vec")
            if vec.text is not None:
                text += f" (in the vec layout the {shape_text(vec.shape)} matrix {vec.text})"
        except MatdiffError:
            pass
    return text


# ----- slips inside the claim: found by repairing its text ------------------------------------------------


def sign(check: "Check") -> Finding | None:
    """Minus the derivative; else one term's sign flipped, or a unary minus too many."""
    if all(close(-got, expected) for _, expected, got in check.points):
        return Finding("sign", "a sign error: the claim is minus the derivative (a difference taken the other "
                       "way round, such as y - a for a - y?)")
    return _repaired(check, "sign", _sign_flips, "a sign error: {new} in place of {old}")


def factor_of_two(check: "Check") -> Finding | None:
    """Twice or half the derivative; else one coefficient or one term of a sum off by 2."""
    for scale, what in ((2.0, "half the derivative: a factor of 2 is missing"),
                        (0.5, "twice the derivative: a factor of 2 too many (or a ½ left out)")):
        if all(close(scale * got, expected) for _, expected, got in check.points):
            return Finding("factor_of_two", f"the claim is {what}")
    return _repaired(check, "factor_of_two", _doublings, "a factor of 2: {new} in place of {old}")


def missing_factor(check: "Check") -> Finding | None:
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


def extra_factor(check: "Check") -> Finding | None:
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


def missing_transpose(check: "Check") -> Finding | None:
    """Transpose one part of the claim, or drop one of its transposes."""
    def toggle(node: Node) -> Iterator[tuple[Node, str]]:
        if isinstance(node, Transpose):
            yield node.operand, "a transpose too many"
        elif not isinstance(node, Number):
            yield Transpose(0, node.depth + 1, node), "a missing transpose"

    return _repaired(check, "missing_transpose", toggle, "{note}: {new} in place of {old}")


def reversed_order(check: "Check") -> Finding | None:
    """Reverse one product of the claim, or swap two neighbouring factors of it."""
    def reverse(node: Node) -> Iterator[tuple[Node, str]]:
        if not _is_product(node):
            return
        operands = subformulas(node)
        yield _product(operands[::-1]), ""
        for k in range(len(operands) - 1) if len(operands) > 2 else ():
            yield _product(operands[:k] + [operands[k + 1], operands[k]] + operands[k + 2:]), ""

    return _repaired(check, "reversed_order", reverse, "factors in reversed order: {new} in place of {old}")


def wrong_shape(check: "Check") -> Finding | None:
    """Last: what no repair explains, when the shapes already differ."""
    if check.points[0][1].shape == check.points[0][2].shape:
        return None
    return Finding("wrong_shape", f"the claim is {shape_text(check.claimed.surface)}, but ∂/∂{check.wrt_text} in the "
                   f"{check.layout} layout is {shape_text(check.derivative.shape)}", {"hint": check.tensor_hint()})


# ----- the table: tried in this order, the first that fits gives the verdict --------------------------------

DIAGNOSES = (
    Diagnosis("other_layout", "the derivative in another layout (for a scalar by a matrix, its transpose)",
              other_layout),
    Diagnosis("transpose", "the derivative transposed, an arrangement no layout uses", transposed),
    Diagnosis("convention", "the derivative by a structured matrix in another convention ((G + G')/2, …)",
              other_convention),
    Diagnosis("needs_assumption", "right only for an input with a structure not assumed (S symmetric, p > 0)",
              needs_assumption),
    Diagnosis("vjp", "the backprop factor taken for the derivative (∂C/∂B 'is' A', from ∂L/∂B = A'*G)",
              backprop_factor),
    Diagnosis("sign", "a sign error: minus the derivative, or one term with the wrong sign", sign),
    Diagnosis("factor_of_two", "a factor of 2 too many or too few", factor_of_two),
    Diagnosis("extra_factor", "a Hadamard factor that does not belong", extra_factor),
    Diagnosis("missing_factor", "a Hadamard factor of the derivative left out (σ'(z) = a.*(1 - a) forgotten)",
              missing_factor),
    Diagnosis("missing_transpose", "one part of the claim needs a transpose, or has one too many",
              missing_transpose, mends_shapes=True),
    Diagnosis("reversed_order", "the factors of a product in reversed order", reversed_order, mends_shapes=True),
    Diagnosis("wrong_shape", "the claim has the wrong shape, and no single slip explains it", wrong_shape),
)


def diagnose(check: "Check", *, shape_error: bool = False) -> Finding | None:
    """The first diagnosis in the table that explains the claim numerically; None if none does. For
    a claim with a shape error, only the repairs that can mend one are tried."""
    for diagnosis in DIAGNOSES:
        if shape_error and not diagnosis.mends_shapes:
            continue
        found = diagnosis.find(check)
        if found is not None:
            return found
    return None


# ----- repairing the claim's text --------------------------------------------------------------------------


def _repaired(check: "Check", kind: str, edit, sentence: str) -> Finding | None:
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


def _answer_factors(check: "Check") -> list[Node]:
    """Each factor (and each pair of neighbouring factors) of the elementwise products in the answer,
    in the asked layout and the others, over the names a claim may use (the answer's own bindings,
    such as d3, written out)."""
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


_DERIVATIVES = {"sigmoid": "{a}.*(1 - {a})", "tanh": "1 - {a}.^2", "exp": "{a}"}  # f'(z) in terms of a = f(z)


def _derivative_name(factor: Node, program: Program) -> str:
    """', the derivative of sigmoid at z2' when the factor is a.*(1 - a) for a = sigmoid(z2), named in
    the program or written out."""
    factor = factor.operand if isinstance(factor, Transpose) else factor
    named = [(s.target, s.value) for s in program.statements if s.target]
    written = [(unparse(node), node) for node in parts(factor)]
    text = unparse(factor)
    for spelled, definition in named + written:
        if isinstance(definition, Call) and definition.function in _DERIVATIVES and definition.arguments:
            if text == _DERIVATIVES[definition.function].format(a=spelled):
                return f", the derivative of {definition.function} at {unparse(definition.arguments[0])}"
    return ""
