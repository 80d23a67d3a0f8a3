"""``check``: is a claimed derivative right in the asked layout, and if not, why not?

The claim is parsed with the expression's shapes (and may use the program's
intermediate names: ``dz3*a2'``), then compared with ``md.diff`` numerically at
random values, with small distinct sizes for symbolic dimensions. A wrong claim
gets the first diagnosis that fits, in this order:

================  ==============================================================
kind              meaning
================  ==============================================================
parse_error       the claim is not in the input language
shape_error       the claim itself does not typecheck: which product, which sizes
unknown_name      the claim uses a name the expression does not have
other_layout      the claim is the derivative in another layout (a transpose)
transpose         the claim is the transpose of the answer, in no layout
needs_assumption  right only if an input had a structure not assumed ("add --assume S=symmetric")
convention        the derivative by a structured matrix in another convention ((G + G')/2, ...)
vjp               the claim is the backprop form (∂C/∂B "= A'": ∂L/∂B = A'*G)
wrong_shape       the claim has the wrong shape
wrong             simply wrong: a small counterexample with integer values
================  ==============================================================

The correct answer is always part of the verdict. Errors in the expression
itself (or an unknown layout) are bad input and raise :class:`MatdiffError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from matdiff.api import Derivative, _declared_sizes, _guarded, diff, infer_shapes
from matdiff.tools.backprop import backprop
from matdiff.errors import MatdiffError, ParseError, ShapeError
from matdiff.engine.numeric import evaluate as evaluate_ir
from matdiff.engine.sampling import draw_values
from matdiff.tools.explanation import explain
from matdiff.notation.forms import output_name
from matdiff.engine.layout import LAYOUTS
from matdiff.engine.structure import CONVENTIONS
from matdiff.engine.lowering import lower
from matdiff.notation.report import Line, Printable
from matdiff.language.shapes import shape_text
from matdiff.language.assumptions import Assumptions
from matdiff.language.syntax import Call, Chain, Name, Power, Program, Signed, Transpose, parse

SIZES = (2, 3, 4, 5, 6, 7, 8, 9)  # given in turn to symbolic dimensions: distinct, so a swap shows
KINKS = re.compile(r"\b(abs|relu|sqrt|norm1)\s*\(")  # functions that simplify for a positive argument
DOMAIN = re.compile(r"\b(log|sqrt|inv|det|logdet)\s*\(|\./|/|\^\s*-")
KINDS = ("correct", "parse_error", "shape_error", "unknown_name", "other_layout", "transpose", "needs_assumption",
         "convention", "vjp", "wrong_shape", "wrong")


@dataclass(frozen=True, repr=False)
class Counterexample:
    """Small integer values at which the claim and the derivative differ."""

    values: dict  # name -> nested lists
    expected: list  # the derivative there, in the layout
    claimed: list | None  # the claim there (None when it cannot be evaluated)

    def __repr__(self) -> str:
        return f"<Counterexample {self.values}>"


@dataclass(frozen=True, repr=False)
class Verdict(Printable):
    """The outcome of ``check``: ``correct``, and for a wrong claim the ``kind`` of mistake and why."""

    expression: str
    wrt: str | tuple
    claim: str
    layout: str
    correct: bool
    kind: str  # one of KINDS
    diagnosis: str
    answer: str  # the right derivative in the layout: matrix notation, else index notation
    answer_shape: tuple
    claim_shape: tuple | None  # as the language sees the claim (None if it does not typecheck)
    layouts: tuple[str, ...] = ()  # layouts in which the claim is right
    backprop_form: str | None = None  # "∂L/∂B = A'*G with G = ∂L/∂Y (1×2)"
    hint: str | None = None
    caret: str | None = None  # where a claim's parse or shape error is
    counterexample: Counterexample | None = None
    answers: dict = field(default_factory=dict)  # the answer in the numerator and denominator layouts
    output: str = "y"  # the name used for the expression's value

    @property
    def exit_code(self) -> int:
        """The command line's exit status for this verdict: 0 when the claim is right, 1 when not."""
        return 0 if self.correct else 1

    def __repr__(self) -> str:
        return f"<Verdict {self.kind}: {self.claim!r}>"

    def lines(self) -> list[Line]:
        wrt = self.wrt if isinstance(self.wrt, str) else "∂".join(self.wrt)
        order = "" if isinstance(self.wrt, str) or len(self.wrt) == 1 else f"^{len(self.wrt)}"
        single = "\n" not in self.expression.strip() and ";" not in self.expression
        what = f"{self.output} = {self.expression}" if single else f"{self.output} = the program's value"
        lines = [Line(f"claim: ∂{order}{self.output}/∂{wrt} = {self.claim}   ({self.layout} layout; {what})",
                      "title")]
        if self.correct:
            lines.append(Line(f"✓ correct: {self.diagnosis}", "good", 2))
        else:
            label = "" if self.kind == "wrong" else f" ({self.kind.replace('_', ' ')})"
            lines.append(Line(f"✗ wrong{label}: {self.diagnosis}", "bad", 2))
        if self.caret:
            lines.extend(Line(row, "note", 4) for row in self.caret.split("\n"))
        if self.backprop_form:
            lines.append(Line(f"backprop form: {self.backprop_form}", "formula", 2))
        if self.hint:
            lines.append(Line(f"hint: {self.hint}", indent=2))
        if self.counterexample is not None:
            example = self.counterexample
            lines.append(Line("counterexample:", indent=2))
            for name, value in example.values.items():
                lines.append(Line(f"{name} = {_show(value)}", "note", 4))
            lines.append(Line(f"derivative = {_show(example.expected)}", "note", 4))
            if example.claimed is not None:
                lines.append(Line(f"claim      = {_show(example.claimed)}", "note", 4))
        lines.append(Line(f"correct answer ({self.layout} layout, {shape_text(self.answer_shape)}): {self.answer}",
                          "good" if self.correct else "formula", 2))
        others = [f"{layout}: {text}" for layout, text in self.answers.items() if layout != self.layout]
        if others and not self.correct:
            lines.append(Line("in the other layouts: " + "; ".join(others), "note", 2))
        return lines


def _show(value) -> str:
    return np.array2string(np.asarray(value, dtype=float), separator=", ", precision=4, suppress_small=True,
                           floatmode="maxprec").replace("\n", "")


# ----- names, sizes and values ------------------------------------------------------------------------


def _names(node, found: set) -> set:
    """The variable names a claim uses (not the sizes in eye(n), ones(m, n))."""
    if isinstance(node, Name):
        found.add(node.name)
    elif isinstance(node, Call):
        if node.function not in ("eye", "ones"):
            for argument in node.arguments:
                _names(argument, found)
    elif isinstance(node, Chain):
        _names(node.first, found)
        for _, _, operand in node.rest:
            _names(operand, found)
    elif isinstance(node, (Signed, Transpose)):
        _names(node.operand, found)
    elif isinstance(node, Power):
        _names(node.base, found)
        _names(node.exponent, found)
    return found


def _sizes(shapes: dict) -> dict:
    """A distinct small size for each symbolic dimension."""
    sizes: dict = {}
    free = iter(SIZES)
    for shape in shapes.values():
        for d in shape:
            if isinstance(d, str) and d not in sizes:
                sizes[d] = next(free, 10 + len(sizes))
    return sizes


def _concrete(shape: tuple, sizes: dict) -> tuple:
    return tuple(d if isinstance(d, int) else sizes[d] for d in shape)


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


def _canonical(array) -> np.ndarray:
    """Scalars as 1×1, vectors as columns: how the language shows values."""
    array = np.asarray(array, dtype=float)
    if array.ndim == 0:
        return array.reshape(1, 1)
    if array.ndim == 1:
        return array.reshape(-1, 1)
    return array


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
    return bool(np.all(np.isfinite(a)) and np.allclose(a, b, rtol=1e-7, atol=1e-9 * scale))


# ----- the check -------------------------------------------------------------------------------------


class _Claim:
    """The claim as a program over the expression's names, and its value at given values."""

    def __init__(self, program: Program, claim: Program, shapes: dict):
        self.program = Program(program.statements[:-1] + claim.statements, claim.source)
        self.shapes = shapes
        self.lowered = lower(self.program, shapes)
        self.surface = self.lowered.value.surface()

    def value(self, values: dict) -> np.ndarray:
        """The claim at ``values``; sizes come from every input's value, so ``ones(n)`` works in a
        claim that does not use the input that has n."""
        lowered = self.lowered
        result = evaluate_ir(lowered.value.node, values, positions=lowered.positions, source=self.program.source,
                             variables={n: v.node for n, v in lowered.variables.items()},
                             extra_sizes=_declared_sizes(values, self.shapes))
        result = np.asarray(result, dtype=float)
        if result.ndim == 1 and lowered.value.row:
            return result.reshape(1, -1)
        return _canonical(result)


def check(expression: str, wrt, claim: str, shapes: dict | None = None, layout: str = "numerator", *,
          assume=None, convention: str = "unconstrained") -> Verdict:
    """Is ``claim`` ∂expression/∂wrt in ``layout``? A :class:`Verdict` with the diagnosis and the answer.
    Values are drawn with the structure ``assume`` gives the inputs."""
    derivative = diff(expression, wrt=wrt, shapes=shapes, layout=layout, assume=assume, convention=convention)
    if not isinstance(claim, str) or not claim.strip():
        raise MatdiffError("the claim is empty: give the derivative you computed, e.g. --claim \"h*W2\"")
    with _guarded(expression):
        return _Check(derivative, expression, wrt, claim, shapes, layout).run()


class _Check:
    def __init__(self, derivative: Derivative, expression: str, wrt, claim: str, shapes, layout: str):
        self.derivative, self.expression, self.claim = derivative, expression, claim
        self.wrt = wrt if isinstance(wrt, str) else tuple(wrt)
        self.single = isinstance(wrt, str) or len(self.wrt) == 1
        self.shapes, self.layout = shapes, layout
        self.program = parse(expression)
        self.assume = derivative.assume
        self.inputs = infer_shapes(expression, shapes, assume=self.assume)
        self.answer = derivative.text if derivative.text is not None else derivative.index
        self.y_shape = derivative.arrangement.y_shape
        self.sizes = _sizes({**self.inputs, "": self.y_shape})
        self.safe = bool(DOMAIN.search(expression) or DOMAIN.search(claim))
        self.rng = np.random.default_rng(20240611)
        self.output = output_name(derivative.lowered)

    def verdict(self, correct: bool, kind: str, diagnosis: str, claim_shape=None, **extra) -> Verdict:
        answers = {}
        if not correct and self.single:
            for layout in ("numerator", "denominator"):
                try:
                    text = diff(self.expression, wrt=self.wrt, shapes=self.shapes, layout=layout, assume=self.assume).text
                except MatdiffError:
                    text = None
                if text is not None:
                    answers[layout] = text
        return Verdict(self.expression, self.wrt, self.claim, self.layout, correct, kind, diagnosis, self.answer,
                       self.derivative.shape, claim_shape, answers=answers, output=self.output, **extra)

    def run(self) -> Verdict:
        try:
            claim_program = parse(self.claim)
        except ParseError as error:
            return self.verdict(False, "parse_error", f"the claim cannot be parsed: {error.message}",
                                caret=error.located(None, self.claim).caret() or None)
        assigned = {s.target for s in self.program.statements if s.target}
        used: set[str] = set()
        for statement in claim_program.statements:
            _names(statement.value, used)
        used -= {s.target for s in claim_program.statements if s.target}
        extra = sorted(used - set(self.inputs) - assigned)
        shapes = dict(self.inputs)
        if extra:
            if len(extra) == 1 and self.y_shape and self.single:
                return self.run_with_cotangent(claim_program, extra[0])
            known = ", ".join(sorted(set(self.inputs) | assigned))
            return self.verdict(False, "unknown_name",
                                f"the claim uses {', '.join(extra)}, which the expression does not have "
                                f"(its names: {known})")
        try:
            claimed = _Claim(self.program, claim_program, shapes)
        except ShapeError as error:
            return self.verdict(False, "shape_error", f"the claim itself has a shape error: {error.message}",
                                caret=error.located(None, self.claim).caret() or None, hint=self.tensor_hint())
        except MatdiffError as error:
            return self.verdict(False, "parse_error", f"the claim is not a valid expression: {error.message}",
                                caret=error.located(None, self.claim).caret() or None)
        return self.compare(claimed)

    # -- numbers --

    def draw(self, *, integers: bool = False) -> dict:
        return _values(self.inputs, self.sizes, self.rng, safe=self.safe, integers=integers, assume=self.assume)

    def expected(self, values: dict, layout: str | None = None) -> np.ndarray:
        derivative = self.derivative if layout in (None, self.layout) else \
            diff(self.expression, wrt=self.wrt, shapes=self.shapes, layout=layout, assume=self.assume)
        return _canonical(derivative.evaluate(values))

    def sample(self, claimed: _Claim):
        """(values, derivative, claim) at random values where the derivative is finite; the claim's value
        is a MatdiffError when only the claim cannot be evaluated there."""
        for _ in range(6):
            values = self.draw()
            try:
                expected = self.expected(values)
            except MatdiffError:
                expected = None
            if expected is None or not np.all(np.isfinite(expected)):
                self.safe = True  # log, sqrt, inv … of an unlucky draw: stay in the domain
                continue
            try:
                return values, expected, claimed.value(values)
            except MatdiffError as error:
                return values, expected, error
        raise MatdiffError("found no values at which the derivative can be evaluated")

    def compare(self, claimed: _Claim) -> Verdict:
        claim_shape = claimed.surface
        points = [self.sample(claimed) for _ in range(2)]
        for _, _, got in points:
            if isinstance(got, MatdiffError):
                return self.verdict(False, "wrong", f"the claim cannot be evaluated where the derivative can: "
                                    f"{got.message}", claim_shape)
        if all(_close(c, e) for _, e, c in points):
            return self.verdict(True, "correct", f"the claim equals ∂{self.output}/∂{self._wrt_text()} in the {self.layout} "
                                "layout (checked numerically at random values)", claim_shape)
        matches = []
        for layout in LAYOUTS:
            if layout == self.layout:
                continue
            try:
                if all(_close(c, self.expected(v, layout)) for v, _, c in points):
                    matches.append(layout)
            except MatdiffError:
                continue
        if matches:
            return self.verdict(False, "other_layout", self._layout_text(matches), claim_shape,
                                layouts=tuple(matches))
        if all(e.ndim == 2 and _close(c.T, e) for _, e, c in points):
            return self.verdict(False, "transpose", "the claim is the transpose of the derivative (in no layout "
                                "is it arranged that way)", claim_shape)
        structured = self.structure_verdict(claimed)
        if structured is not None:
            return structured
        vjp = self.vjp_factor(points) if self.single and self.y_shape else None
        if vjp is not None:
            return self.verdict(False, "vjp", self._vjp_text(vjp), claim_shape, backprop_form=self.backprop_form())
        expected_shape, got_shape = points[0][1].shape, points[0][2].shape
        if expected_shape != got_shape:
            return self.verdict(False, "wrong_shape",
                                f"the claim is {shape_text(claim_shape)}, but ∂/∂{self._wrt_text()} in the "
                                f"{self.layout} layout is {shape_text(self.derivative.shape)}", claim_shape,
                                hint=self.tensor_hint())
        return self.verdict(False, "wrong", "the claim and the derivative differ at these values", claim_shape,
                            counterexample=self.counterexample(claimed, points[0]), hint=self.tensor_hint())

    def counterexample(self, claimed: _Claim, fallback) -> Counterexample:
        for _ in range(30):
            values = self.draw(integers=True)
            try:
                expected, got = self.expected(values), claimed.value(values)
            except MatdiffError:
                continue
            if np.all(np.isfinite(expected)) and not _close(got, expected):
                return Counterexample(_listed(values), expected.tolist(), got.tolist())
        values, expected, got = fallback
        return Counterexample(_listed(values), expected.tolist(), got.tolist())

    # -- structure: an assumption not stated, a convention not asked for --

    def structure_verdict(self, claimed: _Claim) -> Verdict | None:
        """The claim is right with one more input assumed symmetric (kind needs_assumption), or is the
        derivative by a structured matrix in another convention (kind convention)."""
        conventions = [self.derivative.convention] + [c for c in CONVENTIONS if c != self.derivative.convention]
        for assume in [self.assume, *self._stronger_assumptions()]:
            for convention in conventions:
                if assume == self.assume and convention == self.derivative.convention:
                    continue
                try:
                    other = diff(self.expression, wrt=self.wrt, shapes=self.shapes, layout=self.layout,
                                 assume=assume, convention=convention)
                    rng = np.random.default_rng(20240611)
                    agree = all(_close(claimed.value(values), _canonical(other.evaluate(values)))
                                for values in (_values(self.inputs, self.sizes, rng, safe=True, integers=False,
                                                       assume=assume) for _ in range(2)))
                except MatdiffError:
                    continue
                if agree:
                    return self._structure_text(assume, convention)
        return None

    def _stronger_assumptions(self) -> list[Assumptions]:
        """The stated assumptions plus one more: a square matrix input symmetric, or (where the
        expression has a kink such as abs or relu) an input positive."""
        stated = self.assume.as_dict()
        kinked = KINKS.search(self.expression) is not None
        return [Assumptions.of({**stated, name: structure}) for name, shape in self.inputs.items()
                if name not in stated
                for structure in ("symmetric", "positive")
                if (structure == "symmetric" and len(shape) == 2 and shape[0] == shape[1])
                or (structure == "positive" and kinked)]

    def _structure_text(self, assume: Assumptions, convention: str) -> Verdict:
        added = Assumptions(tuple(item for item in assume.items if item not in self.assume.items))
        condition = "".join(f" if {name} is {structure}" for name, structure in added.items)
        how = f"; add {' '.join(added.options())}" if added else ""
        if convention == self.derivative.convention:
            return self.verdict(False, "needs_assumption", f"{self.claim} is right{condition}{how}",
                                hint=f"in Python: assume={assume.as_dict()}")
        meaning = CONVENTIONS[convention]
        return self.verdict(False, "convention", f"{self.claim} is the derivative in the {convention} convention "
                            f"({meaning.formula}: {meaning.meaning}){condition}, not the {self.derivative.convention} one{how}",
                            hint=f"ask for it with convention='{convention}' (--convention {convention}); "
                                 "`matdiff explain` compares the conventions")

    # -- the backprop confusion --

    def jacobian_numbers(self, values: dict) -> np.ndarray:
        derivative = diff(self.expression, wrt=self.wrt, shapes=self.shapes, layout="jacobian", assume=self.assume)
        return np.asarray(derivative.evaluate(values), dtype=float)

    def vjp(self, values: dict, cotangent: np.ndarray) -> np.ndarray:
        """Σ_i G[i…]·J[i…, j…]: ∂L/∂X for a scalar L with ∂L/∂Y = G."""
        J = self.jacobian_numbers(values)
        return np.tensordot(cotangent, J, axes=cotangent.ndim)

    def vjp_factor(self, points) -> str | None:
        """'K*G', 'G*K' or 'K.*G' when the claim K is the factor of the vector-Jacobian product."""
        forms = {"K*G": lambda K, G: K @ G, "G*K": lambda K, G: G @ K, "K.*G": lambda K, G: K * G}
        found = None
        for name, form in forms.items():
            ok = True
            for values, _, K in points:
                for _ in range(2):
                    G = self.rng.standard_normal(_concrete(self.y_shape, self.sizes))
                    try:
                        product = form(K, _canonical(G))
                    except ValueError:
                        ok = False
                        break
                    if not _close(_canonical(product), _canonical(self.vjp(values, G))):
                        ok = False
                        break
                if not ok:
                    break
            if ok:
                found = name
                break
        return found

    def run_with_cotangent(self, claim_program: Program, name: str) -> Verdict:
        """A claim over one unknown name, read as G = ∂L/∂Y: is it the backprop form ∂L/∂X?"""
        shapes = {**self.inputs, name: self.y_shape}
        try:
            claimed = _Claim(self.program, claim_program, shapes)
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
            G = self.rng.standard_normal(_concrete(self.y_shape, self.sizes))
            values[name] = G
            if not _close(claimed.value(values), _canonical(self.vjp(values, G))):
                agree = False
        if agree:
            return self.verdict(False, "vjp",
                                f"{self.claim} is ∂L/∂{self._wrt_text()} for a scalar loss L with "
                                f"∂L/∂{self._output()} = {name}: the backprop (vector-Jacobian product) form, "
                                f"not ∂{self._output()}/∂{self._wrt_text()} itself, which is "
                                f"{self._derivative_kind()}", claimed.surface, backprop_form=self.backprop_form())
        return self.verdict(False, "unknown_name",
                            f"the claim uses {name}, which the expression does not have; read as G = ∂L/∂Y it is "
                            "not the backprop form either", claimed.surface, backprop_form=self.backprop_form())

    def backprop_form(self) -> str | None:
        if not self.single:
            return None
        wrt = self._wrt_text()
        try:
            view = backprop(self.derivative.lowered, output=self._output() if self.y_shape else "L",
                            assume=self.assume)
            gradient = view.gradient(wrt)
        except (KeyError, MatdiffError):
            return None
        if gradient.formula is None:
            return None
        if view.seed is not None:
            return (f"∂L/∂{wrt} = {gradient.formula} with {view.seed.symbol} = ∂L/∂{self._output()} "
                    f"({view.seed.shape}), for any scalar loss L({self._output()})")
        return f"∂L/∂{wrt} = {gradient.formula}"

    # -- words --

    def _wrt_text(self) -> str:
        return self.wrt if isinstance(self.wrt, str) else ",".join(self.wrt)

    def _output(self) -> str:
        return self.output

    def _derivative_kind(self) -> str:
        shape = self.derivative.arrangement.y_shape + tuple(d for s in self.derivative.arrangement.x_shapes
                                                           for d in s)
        if self.derivative.text is not None and len(self.derivative.shape) <= 2:
            return f"the {shape_text(self.derivative.shape)} matrix {self.derivative.text}"
        text = f"an order-{len(shape)} tensor {shape_text(shape)}"
        if self.derivative.text is None:
            try:
                vec = diff(self.expression, wrt=self.wrt, shapes=self.shapes, layout="vec", assume=self.assume)
                if vec.text is not None:
                    text += f" (in the vec layout the {shape_text(vec.shape)} matrix {vec.text})"
            except MatdiffError:
                pass
        return text

    def _layout_text(self, layouts: list) -> str:
        first, also = layouts[0], layouts[1:]
        names = f"the {first} layout" + (f" (and the {', '.join(also)} layout{'s' if len(also) > 1 else ''})"
                                          if also else "")
        reason = ""
        if {self.layout, first} <= {"numerator", "denominator", "gradient"} and self.layout != first:
            reason = ": numerator and denominator layouts are transposes of each other"
        return f"the claim is the derivative in {names}, not in the {self.layout} layout{reason}"

    def _vjp_text(self, form: str) -> str:
        simple = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*'?", self.claim.strip())
        product = form.replace("K", self.claim.strip() if simple else f"({self.claim})")
        return (f"{self.claim} is how this derivative appears in backprop (as in machine-learning texts): for a "
                f"scalar loss L with "
                f"G = ∂L/∂{self._output()} ({shape_text(self.y_shape)}), ∂L/∂{self._wrt_text()} = {product}. "
                f"∂{self._output()}/∂{self._wrt_text()} itself is {self._derivative_kind()}")

    def tensor_hint(self) -> str | None:
        """When the chain rule passes through a factor of order > 2, say so: no matrix can stand for it."""
        if not self.single:
            return None
        try:
            explanation = explain(self.expression, self._wrt_text(), shapes=self.shapes, layout=self.layout)
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

