"""``check``: is a claimed derivative right in the asked layout, and if not, why not?

The claim is parsed with the expression's shapes and may use the program's intermediate
names (``a2``), and, for a scalar program, the backward pass's names: the backprop view's
deltas and gradients (``dz2``, ``dW3``, as ``diff`` and ``grads`` print them too),
each bound to its definition. It is then compared with ``md.diff`` numerically at random
values, with small distinct sizes for symbolic dimensions. Reading the claim can fail:

================  ==============================================================
kind              meaning
================  ==============================================================
parse_error       the claim is not in the input language
shape_error       the claim itself does not typecheck: which product, which sizes
unknown_name      the claim uses a name the expression does not have
================  ==============================================================

A claim that reads but differs from the derivative gets the first diagnosis of the named
table in :mod:`matdiff.tools.diagnoses` that explains it numerically (another layout, an
assumption not stated, the backprop form, a missing σ' factor, a transpose, a sign, a factor
of 2, …), else ``wrong`` with a small counterexample in integers.

The correct answer is always part of the verdict. Errors in the expression
itself (or an unknown layout) are bad input and raise :class:`MatdiffError`.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from typing import Any

import numpy as np

from matdiff.api import Derivative, diff, infer_shapes
from matdiff.guarded import guarded
from matdiff.tools.backprop import backprop
from matdiff.tools.claims import Claim, backward_pass_names, canonical, close, names_in
from matdiff.tools.diagnoses import SECONDS, derivative_kind, diagnose, trials, vjp
from matdiff import limits
from matdiff.errors import LimitError, MatdiffError, ParseError, ShapeError
from matdiff.engine.sampling import draw_values
from matdiff.tools.explanation import explain
from matdiff.notation.forms import output_name
from matdiff.engine.ir import dim_value, small_sizes
from matdiff.engine.functions import FUNCTIONS
from matdiff.engine.lowering import lower
from matdiff.language.shapes import shape_text
from matdiff.language.assumptions import Assumptions
from matdiff.language.syntax import Name, Node, Program, Statement, parse, unparse
from matdiff.tools.verdict import KINDS, Counterexample, Verdict  # noqa: F401 - KINDS: this module's API



def limited_domain(text: str) -> bool:
    """Whether random values may leave a domain in ``text``: a function whose record states one for
    itself or its derivative (log, sqrt, inv; det, whose derivative is det·inv(X)'), a division or a
    negative power. Read from the records each time: a function registered later counts."""
    limited = sorted(f.name for f in FUNCTIONS.values() if f.domain or f.derivative_domain)
    return re.search(r"\b(" + "|".join(limited) + r")\s*\(|\./|/|\^\s*-", text) is not None


# ----- names, sizes and values ------------------------------------------------------------------------


def _concrete(shape: tuple, sizes: dict) -> tuple:
    return tuple(d if isinstance(d, int) else sizes[d] for d in shape)


def within_limits(shapes: dict, sizes: dict, derivative_shape: tuple) -> None:
    """A check draws a value of every input and evaluates the derivative: refuse at once (a
    LimitError, as ``evaluate`` gives) what would exceed the numeric limits, before any work."""
    limit, total = limits.current.max_numeric_size, 0
    known = defaultdict(lambda: 1, sizes)  # every size the check draws; none other counts
    for name, shape in [*shapes.items(), ("the derivative", derivative_shape)]:
        entries = 1
        for d in shape:  # 3, "n" or a vec layout's "m*n"
            entries *= dim_value(d, known)
        total += entries
        if entries > limit or total > limits.current.max_numeric_total:
            shown = name if name == "the derivative" else f"a value of {name}"
            raise LimitError(f"checking needs {shown} with {entries:,} entries, more than the limit of {limit:,} "
                             "(see matdiff.limits)")


def _values(shapes: dict, sizes: dict, rng, *, safe: bool, integers: bool,
            assume: Assumptions = Assumptions()) -> dict:
    concrete = {name: _concrete(shape, sizes) for name, shape in shapes.items()}
    return draw_values(concrete, rng, lambda name, shape: _draw_for(shape, safe=safe, integers=integers),
                       structures=assume.as_dict(), integers=integers, safe=safe)


def _draw_for(shape: tuple, *, safe: bool, integers: bool) -> str:
    """Inside the domain when the expression has one (``safe``): positive entries, square matrices
    far from singular; small integers for a counterexample a person can follow."""
    square = len(shape) == 2 and shape[0] == shape[1]
    if integers:
        return "dominant_integers" if safe and square else "positive_integers" if safe else "integers"
    return "near_identity" if safe and square else "positive" if safe else "normal"


# ----- the check -------------------------------------------------------------------------------------


def check(expression: str, wrt, claim: str, shapes: dict | None = None, layout: str = "numerator", *,
          assume=None, convention: str = "unconstrained") -> Verdict:
    """Is ``claim`` ∂expression/∂wrt in ``layout``? A :class:`Verdict` with the diagnosis and the answer.
    Values are drawn with the structure ``assume`` gives the inputs."""
    derivative = diff(expression, wrt=wrt, shapes=shapes, layout=layout, assume=assume, convention=convention)
    if not isinstance(claim, str) or not claim.strip():
        raise MatdiffError("the claim is empty: give the derivative you computed, e.g. --claim \"h*W2\"")
    with guarded(expression):
        return Check(derivative, expression, wrt, claim, shapes, layout).run()


class Check:
    """One check in progress: the claim, the derivative, the random points where both are compared,
    and what the diagnoses (tools/diagnoses.py) may ask of them."""

    def __init__(self, derivative: Derivative, expression: str, wrt, claim: str, shapes, layout: str):
        self.derivative, self.expression, self.claim = derivative, expression, claim
        self.wrt = wrt if isinstance(wrt, str) else tuple(wrt)
        self.wrt_text = self.wrt if isinstance(self.wrt, str) else ",".join(self.wrt)
        self.single = isinstance(wrt, str) or len(self.wrt) == 1
        self.shapes, self.layout = shapes, layout
        self.program = parse(expression)
        self.assume = derivative.assume
        self.inputs = infer_shapes(expression, shapes, assume=self.assume)
        self.answer = derivative.text if derivative.text is not None else derivative.index
        self.y_shape = derivative.arrangement.y_shape
        self.sizes = small_sizes({**self.inputs, "": self.y_shape})
        within_limits(self.inputs, self.sizes, derivative.shape)
        self.safe = limited_domain(expression) or limited_domain(claim)
        self.rng = np.random.default_rng(20240611)
        self.output = output_name(derivative.lowered)
        self.context: tuple = self.program.statements[:-1]  # what the claim may use: the assignments
        self.bound: dict[str, str] = {}  # a backward-pass name the claim uses -> what it stands for
        self.claim_shapes = dict(self.inputs)
        self._derivatives: dict = {(layout, derivative.assume.items, derivative.convention): derivative}
        self.trials = trials(expression, claim)  # the search's budget; its backstop clock starts at the first trial
        self.deadline: float | None = None
        self.points: list[tuple[dict, np.ndarray, Any]] = []  # (values, derivative, claim) at random values

    def verdict(self, correct: bool, kind: str, diagnosis: str, claim_shape=None, **extra) -> Verdict:
        answers = {}
        if not correct and self.single:
            for layout in ("numerator", "denominator"):
                try:
                    text = self.derivative_in(layout).text
                except MatdiffError:
                    text = None
                if text is not None:
                    answers[layout] = text
        return Verdict(self.expression, self.wrt, self.claim, self.layout, correct, kind, diagnosis, self.answer,
                       self.derivative.shape, claim_shape, answers=answers, output=self.output, **extra)

    def run(self) -> Verdict:
        try:
            self.claim_program = parse(self.claim)
        except ParseError as error:
            return self.verdict(False, "parse_error", f"the claim cannot be parsed: {error.message}",
                                caret=error.located(None, self.claim).caret() or None)
        assigned = {s.target for s in self.program.statements if s.target}
        used = {name for statement in self.claim_program.statements for name in names_in(statement.value)}
        used -= {s.target for s in self.claim_program.statements if s.target}
        extra = sorted(used - set(self.inputs) - assigned)
        if extra:
            bindings = {} if self.y_shape else backward_pass_names(self.program, self.expression, self.inputs,
                                                                  self.shapes, self.assume, self.output)
            if set(extra) <= set(bindings):
                self.context += tuple(statement for statement, _ in bindings.values())
                self.bound = {name: bindings[name][1] for name in extra}
            elif len(extra) == 1 and self.y_shape and self.single:
                return self.run_with_cotangent(self.claim_program, extra[0])
            else:
                known = ", ".join(sorted(set(self.inputs) | assigned))
                backward = f"; for its backward pass: {', '.join(bindings)}" if bindings else ""
                return self.verdict(False, "unknown_name",
                                    f"the claim uses {', '.join(n for n in extra if n not in bindings)}, which the "
                                    f"expression does not have (its names: {known}{backward})")
        try:
            self.claimed = Claim(self.context, self.claim_program, self.claim_shapes)
        except ShapeError as error:
            return self.shape_error(error)
        except MatdiffError as error:
            return self.verdict(False, "parse_error", f"the claim is not a valid expression: {error.message}",
                                caret=error.located(None, self.claim).caret() or None)
        return self.compare()

    def shape_error(self, error: ShapeError) -> Verdict:
        """The claim does not typecheck: say where, and whether one transpose or one reversed product
        mends it into the derivative."""
        caret = error.located(None, self.claim).caret() or None
        shape_error = f"the claim itself has a shape error: {error.message}"
        self.points = [(*self.point(), None) for _ in range(2)]
        found = diagnose(self, shape_error=True)
        if found is not None:
            return self.verdict(False, found.kind, f"{found.diagnosis}; as written, the claim has a shape error: "
                                f"{error.message}",
                                caret=caret, **found.fields)
        return self.verdict(False, "shape_error", shape_error, caret=caret, hint=self.tensor_hint())

    # -- numbers --

    def draw(self, *, integers: bool = False) -> dict:
        return _values(self.inputs, self.sizes, self.rng, safe=self.safe, integers=integers, assume=self.assume)

    def structured_draws(self, assume: Assumptions) -> list[dict]:
        """Two draws in the domain with the structure ``assume`` gives (the same for every assumption tried)."""
        rng = np.random.default_rng(20240611)
        return [_values(self.inputs, self.sizes, rng, safe=True, integers=False, assume=assume) for _ in range(2)]

    def cotangent(self) -> np.ndarray:
        """A random G = ∂L/∂Y."""
        return self.rng.standard_normal(_concrete(self.y_shape, self.sizes))

    def derivative_in(self, layout: str, *, assume: Assumptions | None = None,
                      convention: str | None = None) -> Derivative:
        """The derivative in ``layout`` (with other assumptions or in another convention): computed once."""
        assume = self.assume if assume is None else assume
        convention = self.derivative.convention if convention is None else convention
        key = (layout, assume.items, convention)
        if key not in self._derivatives:
            self._derivatives[key] = diff(self.expression, wrt=self.wrt, shapes=self.shapes, layout=layout,
                                          assume=assume, convention=convention)
        return self._derivatives[key]

    def expected(self, values: dict, layout: str | None = None) -> np.ndarray:
        return canonical(self.derivative_in(layout or self.layout).evaluate(values))

    def point(self) -> tuple[dict, np.ndarray]:
        """(values, derivative) at random values where the derivative is finite and well-conditioned."""
        fallback = None
        for _ in range(6):
            values = self.draw()
            try:
                expected = self.expected(values)
            except MatdiffError:
                expected = None
            if expected is not None and np.all(np.isfinite(expected)):
                if self.well_conditioned(values, expected):
                    return values, expected
                fallback = fallback or (values, expected)
                continue
            self.safe = True  # log, sqrt, inv … of an unlucky draw: stay in the domain
        if fallback is not None:
            return fallback
        raise MatdiffError("found no values at which the derivative can be evaluated")

    def well_conditioned(self, values: dict, expected: np.ndarray) -> bool:
        """Whether the derivative barely moves when every value moves by one part in 10¹⁰: where
        it does (sin(R.^u) with u = det(…) in the thousands), two right formulas that round
        differently disagree, and the point says nothing about the claim."""
        return close(self.moved(values, expected), expected)

    def moved(self, values: dict, expected: np.ndarray) -> np.ndarray:
        """The derivative with every value moved by one part in 10¹⁰ (``expected`` itself where the
        move breaks a structure, as scaling a one-hot does)."""
        moved = {name: np.asarray(value, dtype=float) * (1 + 1e-10) for name, value in values.items()}
        try:
            return self.expected(moved)
        except MatdiffError:
            return expected

    def equal_here(self, values: dict, expected: np.ndarray, claimed) -> bool:
        """The claim equals the derivative here: to the usual tolerance, or, where every draw is
        ill-conditioned, within a hundred times how far the derivative moves when the values move
        by one part in 10¹⁰ (a wrong claim is off by far more than rounding)."""
        if close(claimed, expected):
            return True
        if getattr(claimed, "shape", None) != expected.shape or not np.all(np.isfinite(claimed)):
            return False
        spread = np.max(np.abs(self.moved(values, expected) - expected), initial=0.0)
        return bool(spread > 0 and np.max(np.abs(claimed - expected)) <= 100 * spread)

    def sample(self):
        """(values, derivative, claim) at a random point; the claim's value is a MatdiffError when only
        the claim cannot be evaluated there."""
        values, expected = self.point()
        try:
            return values, expected, self.claimed.value(values)
        except MatdiffError as error:
            return values, expected, error

    def compare(self) -> Verdict:
        claim_shape = self.claimed.surface
        self.points = [self.sample() for _ in range(2)]
        for _, _, got in self.points:
            if isinstance(got, MatdiffError):
                return self.verdict(False, "wrong", f"the claim cannot be evaluated where the derivative can: "
                                    f"{got.message}", claim_shape)
        if all(self.equal_here(v, e, c) for v, e, c in self.points):
            bound = "".join(f"; {name}: {meaning}" for name, meaning in self.bound.items())
            return self.verdict(True, "correct", f"the claim equals ∂{self.output}/∂{self.wrt_text} in the "
                                f"{self.layout} layout (checked numerically at random values{bound})", claim_shape)
        found = diagnose(self)
        if found is not None:
            return self.verdict(False, found.kind, found.diagnosis, claim_shape, **found.fields)
        return self.verdict(False, "wrong", "the claim and the derivative differ at these values", claim_shape,
                            counterexample=self.counterexample(self.points[0]), hint=self.tensor_hint())

    def counterexample(self, fallback) -> Counterexample:
        for _ in range(30):
            values = self.draw(integers=True)
            try:
                expected, got = self.expected(values), self.claimed.value(values)
            except MatdiffError:
                continue
            if np.all(np.isfinite(expected)) and not close(got, expected):
                return Counterexample(_listed(values), expected.tolist(), got.tolist())
        values, expected, got = fallback
        return Counterexample(_listed(values), expected.tolist(), got.tolist())

    # -- repairs of the claim (the diagnoses' search) --

    @property
    def claim_value(self) -> Node:
        """The claim's final expression (after its own assignments, if any): what the repairs edit."""
        return self.claim_program.statements[-1].value

    @property
    def names_in_scope(self) -> set[str]:
        return set(self.inputs) | {s.target for s in self.context if s.target}

    def answer_texts(self) -> list[str]:
        """The answer's matrix notation in the asked layout and in numerator and denominator layouts."""
        texts = []
        for layout in dict.fromkeys((self.layout, "denominator", "numerator")):
            try:
                text = self.derivative_in(layout).text
            except MatdiffError:
                continue
            if text is not None:
                texts.append(text)
        return texts

    def budget_spent(self) -> bool:
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + SECONDS
        return self.trials <= 0 or now > self.deadline

    def agrees(self, value: Node) -> bool | None:
        """Whether the claim with ``value`` as its final expression equals the derivative at the check's
        points; None once the search's budget is spent."""
        if self.budget_spent():
            return None
        self.trials -= 1
        program = Program(self.claim_program.statements[:-1] + (Statement(None, value, 0),), unparse(value))
        try:
            claimed = Claim(self.context, program, self.claim_shapes)
            return all(close(claimed.value(values), expected) for values, expected, _ in self.points)
        except MatdiffError:
            return False

    def surfaces(self, nodes: list[Node]) -> dict[int, tuple]:
        """id(node) -> the shape the language gives each formula in the claim's scope (one lowering);
        {} when one of them does not typecheck there."""
        parts = tuple(Statement(f"_part{k}", node, 0) for k, node in enumerate(nodes))
        last = (Statement(None, Name(0, 1, "_part0"), 0),)
        try:
            lowered = lower(Program(self.context + self.claim_program.statements[:-1] + parts + last, self.claim),
                            self.claim_shapes)
        except MatdiffError:
            return {}
        return {id(node): lowered.assigned[f"_part{k}"].surface() for k, node in enumerate(nodes)}

    # -- the backprop confusion --

    def run_with_cotangent(self, claim_program: Program, name: str) -> Verdict:
        """A claim over one unknown name, read as G = ∂L/∂Y: is it the backprop form ∂L/∂X?"""
        shapes = {**self.inputs, name: self.y_shape}
        try:
            claimed = Claim(self.context, claim_program, shapes)
        except ShapeError as error:
            return self.verdict(False, "shape_error",
                                f"the claim itself has a shape error (with {name} = ∂L/∂Y, "
                                f"{shape_text(self.y_shape)}): {error.message}",
                                caret=error.located(None, self.claim).caret() or None)
        except MatdiffError as error:
            return self.verdict(False, "parse_error", f"the claim is not a valid expression: {error.message}",
                                caret=error.located(None, self.claim).caret() or None)
        agree = True
        for _ in range(2):
            values = self.draw()
            G = self.cotangent()
            values[name] = G
            if not close(claimed.value(values), canonical(vjp(self, values, G))):
                agree = False
        if agree:
            return self.verdict(False, "vjp",
                                f"{self.claim} is ∂L/∂{self.wrt_text} for a scalar loss L with "
                                f"∂L/∂{self.output} = {name}: the backprop (vector-Jacobian product) form, "
                                f"not ∂{self.output}/∂{self.wrt_text} itself, which is "
                                f"{derivative_kind(self)}", claimed.surface, backprop_form=self.backprop_form())
        return self.verdict(False, "unknown_name",
                            f"the claim uses {name}, which the expression does not have; read as G = ∂L/∂Y it is "
                            "not the backprop form either", claimed.surface, backprop_form=self.backprop_form())

    def backprop_form(self) -> str | None:
        if not self.single:
            return None
        wrt = self.wrt_text
        try:
            view = backprop(self.derivative.lowered, output=self.output if self.y_shape else "L",
                            assume=self.assume)
            gradient = view.gradient(wrt)
        except (KeyError, MatdiffError):
            return None
        if gradient.formula is None:
            return None
        if view.seed is not None:
            return (f"∂L/∂{wrt} = {gradient.formula} with {view.seed.symbol} = ∂L/∂{self.output} "
                    f"({view.seed.shape}), for any scalar loss L({self.output})")
        return f"∂L/∂{wrt} = {gradient.formula}"

    def tensor_hint(self) -> str | None:
        """When the chain rule passes through a factor of order > 2, say so: no matrix can stand for it."""
        if not self.single:
            return None
        try:
            explanation = explain(self.expression, self.wrt_text, shapes=self.shapes, layout=self.layout)
        except MatdiffError:
            return None
        for step in explanation.steps:
            for factor in step.local:
                if factor.matrix is None and factor.order > 2 and len(explanation.steps) > 1:
                    return (f"the chain rule here passes through {factor.label} ({step.name} = {step.formula}), "
                            f"an order-{factor.order} tensor {shape_text(factor.tensor_shape)}: no matrix can "
                            f"stand for it, so a product of matrices built from it goes wrong; "
                            f"`matdiff explain` shows the contraction")
        return None


def _listed(values: dict) -> dict:
    return {name: np.asarray(value).tolist() for name, value in values.items()}
