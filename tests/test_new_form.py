"""A new printed form is one table of spellings (issue 23): a made-up one, registered in this process, is
printed by the one walker (notation/printing.py) for a derivative, a program's bindings, a backward
pass and the command line, with nothing else written for it.

The made-up form is Unicode math for a terminal: xᵀ·(A + Aᵀ), a ⊙ b, names bound with ≔.
"""

from __future__ import annotations

import pytest

from numerics import md

from matdiff.cli import main
from matdiff.notation.numbers import number_text
from matdiff.notation.printing import FORMS, Form, register_form, unregister_form


def _factors(joiner: str):
    return lambda x, show, wrap: joiner.join(wrap(f, 3 if k == 0 else 4) for k, f in enumerate(x.args))


def _terms(x, show, wrap):
    parts = [show(x.args[0])]
    for t in x.args[1:]:
        parts.append(f"− {wrap(t.args[0], 2)}" if t.op == "negate" else f"+ {wrap(t, 2)}")
    return " ".join(parts)


UNICODE = Form("unicode", {
    "leaf": lambda x, show, wrap: x.name,
    "number": lambda x, show, wrap: number_text(x.value),
    "call": lambda x, show, wrap: f"{x.name}({', '.join(show(a) for a in x.args)})",
    "transpose": lambda x, show, wrap: wrap(x.args[0], 6) + "ᵀ",
    "negate": lambda x, show, wrap: "−" + wrap(x.args[0], 2),
    "power": lambda x, show, wrap: f"{wrap(x.args[0], 5)}^{wrap(x.args[1], 6)}",
    "quotient": lambda x, show, wrap: f"{wrap(x.args[0], 2)}/{wrap(x.args[1], 3)}",
    "product": _factors("·"),
    "hadamard": _factors(" ⊙ "),
    "divide": _factors(" ⊘ "),
    "sum": _terms,
}, parenthesised=lambda s: f"({s})",
    program=lambda bindings, value, result: "\n".join([f"{name} ≔ {body}" for name, body in bindings]
                                                      + ([] if value is None else [value])))

NETWORK = "a1 = sigmoid(W1*x); a2 = sigmoid(W2*a1); sum((a2 - y).^2)"
SHAPES = {"W1": (3, 3), "W2": (2, 3), "x": (3,), "y": (2,)}


@pytest.fixture(autouse=True)
def unicode_form():
    register_form(UNICODE)
    yield UNICODE
    unregister_form("unicode")


def test_a_derivative_prints_in_it():
    assert md.diff("x'*A*x", wrt="x", shapes={"A": (3, 3)}).printed("unicode") == "xᵀ·(A + Aᵀ)"
    assert md.diff("sum(exp(X).*Y)", wrt="X", shapes={"X": (2, 2)}, layout="gradient").printed("unicode") \
        == "Y ⊙ exp(X)"


def test_a_program_lays_out_its_bindings_in_it():
    printed = md.diff(NETWORK, wrt="W1", shapes=SHAPES, layout="gradient").printed("unicode")
    assert printed.splitlines() == ["a1 ≔ sigmoid(W1·x)", "a2 ≔ sigmoid(W2·a1)", "dz2 ≔ (a2 − y) ⊙ a2 ⊙ (1 − a2)",
                                    "dz1 ≔ (W2ᵀ·dz2) ⊙ a1 ⊙ (1 − a1)", "2·dz1·xᵀ"]


def test_a_backward_pass_prints_in_it():
    printed = md.gradients(NETWORK, shapes=SHAPES).printed("unicode")
    assert "dW1 ≔ 2·dz1·xᵀ" in printed.splitlines() and "dW2 ≔ 2·dz2·a1ᵀ" in printed.splitlines()


def test_the_command_line_offers_it(capsys):
    assert main(["diff", "x'*A*x", "--wrt", "x", "--shape", "A=3x3", "--format", "unicode"]) == 0
    assert capsys.readouterr().out == "xᵀ·(A + Aᵀ)\n"


def test_the_forms_are_named_once():
    assert list(FORMS) == ["text", "latex", "unicode"]
    d = md.diff("x'*A*x", wrt="x", shapes={"A": (3, 3)})
    assert d.printed("text") == d.text and d.printed("latex") == d.latex
    unregister_form("unicode")
    with pytest.raises(md.MatdiffError, match="unknown printed form 'unicode'"):
        d.printed("unicode")
    register_form(UNICODE)
