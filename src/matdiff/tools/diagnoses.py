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

from dataclasses import dataclass
from typing import Callable

import numpy as np

from matdiff.engine.functions import COLUMNS, FUNCTIONS
from matdiff.engine.ir import postorder
from matdiff.engine.layout import LAYOUTS
from matdiff.engine.structure import CONVENTIONS
from matdiff.errors import MatdiffError
from matdiff.language.assumptions import Assumptions
from matdiff.language.shapes import shape_text
from matdiff.language.syntax import Name, Transpose
from matdiff.tools.claims import canonical, close
from matdiff.tools.evidence import Alternatives, Backprop, Evidence, Points
from matdiff.tools.findings import Finding
from matdiff.tools.repairs import (extra_factor, factor_of_two, missing_factor, missing_transpose, reversed_order, sign,
                                   wrong_shape)


TRIALS = 120  # repaired claims compared numerically, at most, per check …
WORK = 30_000  # … and fewer for a long one: a trial costs about a character of program and claim each
SECONDS = 2.0  # a backstop only: the count above is what stops a search, the same on any machine


def trials(expression: str, claim: str) -> int:
    """How many repaired claims a check may compare: :data:`TRIALS`, fewer for long texts."""
    return max(0, min(TRIALS, WORK // max(1, len(expression) + len(claim))))


@dataclass(frozen=True)
class Diagnosis:
    """One slip: its name (the verdict's kind), what it is, and the search that recognises it."""

    name: str
    slip: str
    find: Callable[[Evidence], "Finding | None"]
    mends_shapes: bool = False  # may also repair a claim that does not typecheck (W3 for W3')


# ----- the derivative itself, arranged or defined otherwise ---------------------------------------------


def other_layout(check: Points) -> Finding | None:
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


def transposed(check: Points) -> Finding | None:
    """The derivative's matrix transposed where no layout would (e.g. for a scalar variable)."""
    if all(expected.ndim == 2 and close(got.T, expected) for _, expected, got in check.points):
        return Finding("transpose", "the claim is the transpose of the derivative (in no layout is it arranged "
                       "that way)")
    return None


def other_convention(check: Alternatives) -> Finding | None:
    """The derivative by a structured matrix in another convention, under the stated assumptions."""
    return _structured(check, [check.assume], [c for c in CONVENTIONS if c != check.derivative.convention])


def needs_assumption(check: Alternatives) -> Finding | None:
    """Right with one more input structured (symmetric, or positive under a kink); in the asked
    convention, else in another (then the verdict's kind is convention)."""
    current = check.derivative.convention
    return _structured(check, _stronger_assumptions(check), [current, *(c for c in CONVENTIONS if c != current)])


def _structured(check: Alternatives, assumptions: list, conventions: list) -> Finding | None:
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


def _stronger_assumptions(check: Alternatives) -> list[Assumptions]:
    """The stated assumptions plus one more: a square matrix input symmetric, (where the
    expression has a kink such as abs) an input positive, or (beside a softmax, a
    cross-entropy's targets) an input one-hot by columns or rows."""
    stated = check.assume.as_dict()
    functions = [FUNCTIONS[node.op] for node in postorder(check.derivative.lowered.value.node) if node.op in FUNCTIONS]
    kinked = any(f.when_positive or f.power for f in functions)  # simpler for a positive argument (|x| = x)
    softmax = any(f.acts == COLUMNS for f in functions)  # a softmax (or logsumexp): its targets may be one-hot
    return [Assumptions.of({**stated, name: structure}) for name, shape in check.inputs.items()
            if name not in stated
            for structure in ("symmetric", "positive", "onehot", "rows_onehot")
            if (structure == "symmetric" and len(shape) == 2 and shape[0] == shape[1])
            or (structure == "positive" and kinked)
            or (structure == "onehot" and softmax and len(shape) >= 1)
            or (structure == "rows_onehot" and softmax and len(shape) == 2)]




def _structure_text(check: Alternatives, assume: Assumptions, convention: str) -> Finding:
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


def vjp(check: Alternatives, values: dict, cotangent: np.ndarray) -> np.ndarray:
    """Σ_i G[i…]·J[i…, j…]: ∂L/∂X for a scalar L with ∂L/∂Y = G."""
    jacobian = np.asarray(check.derivative_in("jacobian").evaluate(values), dtype=float)
    return np.tensordot(cotangent, jacobian, axes=cotangent.ndim)


def backprop_factor(check: Backprop) -> Finding | None:
    """The claim K is the factor of the vector-Jacobian product: ∂L/∂X = K*G, G*K or K.*G."""
    if not (check.single and check.y_shape):
        return None
    forms = {"K*G": lambda K, G: K @ G, "G*K": lambda K, G: G @ K, "K.*G": lambda K, G: K * G}
    for name, form in forms.items():
        if all(_factor_of(check, form, values, K) for values, _, K in check.points):
            value = check.claim_value  # a name, or its transpose, needs no parentheses beside G
            simple = isinstance(value, Name) or (isinstance(value, Transpose) and isinstance(value.operand, Name))
            product = name.replace("K", check.claim.strip() if simple else f"({check.claim})")
            return Finding("vjp", f"{check.claim} is how this derivative appears in backprop (as in machine-learning "
                           f"texts): for a scalar loss L with G = ∂L/∂{check.output} ({shape_text(check.y_shape)}), "
                           f"∂L/∂{check.wrt_text} = {product}. ∂{check.output}/∂{check.wrt_text} itself is "
                           f"{derivative_kind(check)}", {"backprop_form": check.backprop_form()})
    return None


def _factor_of(check: Backprop, form, values: dict, K: np.ndarray) -> bool:
    for _ in range(2):
        G = check.cotangent()
        try:
            product = form(K, canonical(G))
        except ValueError:
            return False
        if not close(canonical(product), canonical(vjp(check, values, G))):
            return False
    return True


def derivative_kind(check: Alternatives) -> str:
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


def diagnose(check: Evidence, *, shape_error: bool = False) -> Finding | None:
    """The first diagnosis in the table that explains the claim numerically; None if none does. For
    a claim with a shape error, only the repairs that can mend one are tried."""
    for diagnosis in DIAGNOSES:
        if shape_error and not diagnosis.mends_shapes:
            continue
        found = diagnosis.find(check)
        if found is not None:
            return found
    return None
