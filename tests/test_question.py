"""The question as math (issue 25, item 2): the user's program in LaTeX as typed, and the answer
as an equation whose left-hand side uses the program's own name for its value."""

import pytest

import matdiff as md
from matdiff.language.syntax import parse
from matdiff.notation.source import program_latex
from matdiff.web import jobs


@pytest.mark.parametrize("source, latex", [
    ("x'*A*x", r"x^{\top} A x"),
    ("a - (b + c)*d", r"a - \left(b + c\right) d"),
    ("a/(b*c)", r"a / \left(b c\right)"),
    ("-x.^2 + exp(-a)", r"-x^{\circ 2} + \exp\left(-a\right)"),
    ("(W*X + b)'", r"\left(W X + b\right)^{\top}"),
    ("ones(3,3) + eye(2)", r"\mathbf{1}_{3 \times 3} + I_{2}"),
    ("softmax(Z, 2)", r"\operatorname{softmax}\left(Z, 2\right)"),
    ("z1 = W1*x; L = sum(z1)", r"\begin{aligned}z_{1} &= W_{1} x \\ L &= \operatorname{sum}\left(z_{1}\right)\end{aligned}"),
    ("z1 = W1*x; 2*z1", r"\begin{aligned}z_{1} &= W_{1} x \\  &= 2 z_{1}\end{aligned}"),
])
def test_a_program_prints_as_typed(source, latex):
    assert program_latex(parse(source)) == latex


def test_the_output_name_is_the_programs_own():
    shapes = {"W1": (3, 2), "x": (2,)}
    named = md.diff("z1 = W1*x; L = sum(tanh(z1))", wrt="W1", shapes=shapes, layout="gradient")
    assert r"\frac{\partial L}{\partial W_{1}}" in named.equation_latex
    plain = md.diff("W2*W1*h", wrt="W1", shapes={"W2": (1, 2), "W1": (2, 2), "h": (2,)})
    assert plain.latex == "h W_{2}"
    assert plain.equation_latex == r"\frac{\partial y}{\partial W_{1}} = h W_{2}"


def test_the_web_reply_carries_the_question_and_the_equation():
    status, body = jobs.run("diff", {"expression": "W2*W1*h", "wrt": ["W1"], "layout": "numerator", "include": [],
                                     "shapes": {"W2": [1, 2], "W1": [2, 2], "h": [2]}})
    assert status == 200
    assert body["question"]["latex"] == "W_{2} W_{1} h" and "<math" in body["question"]["mathml"]
    assert body["equation"]["latex"].startswith(r"\frac{\partial y}{\partial W_{1}} =")
    assert "&#x02202;" in body["equation"]["mathml"]  # ∂
