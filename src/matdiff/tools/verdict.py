"""What a check answers: the verdict on a claimed derivative (correct or which slip, with the
diagnosis, the right answer in the asked layout and the others, a counterexample) and how it
prints, in the terminal, a notebook and the web page (one list of lines, notation/report.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matdiff.tools.diagnoses import DIAGNOSES
from matdiff.notation.report import Line, Printable
from matdiff.language.shapes import shape_text

KINDS = ("correct", "parse_error", "shape_error", "unknown_name", *(d.name for d in DIAGNOSES), "wrong")


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
    repair: str | None = None  # the claim with its slip repaired (right), for a slip found by search

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
