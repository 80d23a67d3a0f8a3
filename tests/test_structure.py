"""Structure assumptions (SPEC §1 "Structure"): symmetric, SPD, diagonal and positive inputs.

Every structure rule is checked twice: with its assumption, the printed form is the short
one and its numbers equal finite differences at values that have the structure; without
it, the rule does not fire. The three conventions for a derivative by a symmetric matrix
are checked against finite differences in the space each lives in.
"""

from __future__ import annotations

import numpy as np
import pytest

import matdiff as md
from matdiff.cli import main
from matdiff.engine.structure import RULE_NAMES
from matdiff.language.assumptions import Assumptions
from numerics import arrange, assert_close, evaluate_value, finite_difference_jacobian, random_values

N = 3
RNG_SEED = 14


def point(shapes: dict, assume: dict, seed: int = RNG_SEED) -> dict:
    """Values with the assumed structures (drawn by the tests' own generator, not matdiff's), the
    other inputs positive."""
    hint = {name: assume.get(name, "positive") for name in shapes}
    return random_values(shapes, np.random.default_rng(seed), hint=hint)


def assert_matches_finite_differences(expression, wrt, shapes, assume, layout, values):
    """The derivative and its printed text, both at ``values``, against central differences."""
    d = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout, assume=assume)
    y = evaluate_value(expression, values, shapes)
    J = finite_difference_jacobian(expression, wrt, values, shapes)
    want = arrange(J, layout, y.shape, np.shape(values[wrt]))
    assert_close(d.evaluate(values), want, what=f"{expression} by {wrt}")
    assert_close(np.reshape(md.evaluate(d.text, values, shapes=shapes, assume=assume), want.shape), want,
                 what=f"text {d.text}")
    return d


def test_done_when():
    assert md.diff("x'*S*x", wrt="x", assume={"S": "symmetric"}, layout="gradient").text == "2*S*x"


# expression, wrt, assumptions, layout, text with them, text without them, the rule that makes the difference
RULE_CASES = [
    ("x'*S*x",         "x", {"S": "symmetric"}, "gradient",  "2*S*x",             "(S + S')*x",        "symmetric-operand"),
    ("tr(A*S)",        "A", {"S": "spd"},       "gradient",  "S",                 "S'",                "symmetric-operand"),
    ("logdet(S)",      "S", {"S": "spd"},       "gradient",  "inv(S)",            "inv(S)'",           "symmetric-operand"),
    ("x'*inv(S)*x",    "x", {"S": "spd"},       "gradient",  "2*inv(S)*x",        None,                "symmetric-operand"),
    ("tr(A*inv(S))",   "A", {"S": "spd"},       "gradient",  "inv(S)",            "inv(S)'",           "symmetric-operand"),
    ("x'*D*x",         "x", {"D": "diagonal"},  "gradient",  "2*(x.*diag(D))",    "(D + D')*x",        "diagonal-operand"),
    ("y'*D*A*x",       "A", {"D": "diagonal"},  "gradient",  "(y.*diag(D))*x'",   "D'*y*x'",           "diagonal-operand"),
    ("sum(abs(p))",    "p", {"p": "positive"},  "gradient",  "ones(3)",           "sign(p)",           "positive-abs"),
    ("sum(relu(p))",   "p", {"p": "positive"},  "gradient",  "ones(3)",           "step(p)",           "positive-sign"),
    ("sum(sqrt(p.^2))", "p", {"p": "positive"}, "gradient",  "ones(3)",           None,                "positive-root-of-power"),
    ("sum(exp(log(p)))", "p", {"p": "positive"}, "gradient", "ones(3)",           None,                "positive-exp-log"),
]
SHAPES = {"x": (N,), "y": (N,), "p": (N,), "A": (N, N), "S": (N, N), "D": (N, N)}


@pytest.mark.parametrize("expression, wrt, assume, layout, short, plain, rule", RULE_CASES,
                         ids=[case[0] for case in RULE_CASES])
def test_each_structure_rule_fires_only_under_its_assumption(expression, wrt, assume, layout, short, plain, rule):
    assert rule in RULE_NAMES
    shapes = {name: shape for name, shape in SHAPES.items() if name in expression}
    values = point(shapes, assume)
    d = assert_matches_finite_differences(expression, wrt, shapes, assume, layout, values)
    assert d.text == short
    without = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout)
    assert without.text != short
    if plain is not None:
        assert without.text == plain
    # without the assumption, the short form is wrong at values that lack the structure
    rough = np.random.default_rng(1)
    general = {name: rough.uniform(-1.5, 1.5, np.shape(value)) if name in assume and assume[name] != "positive"
               else -rough.uniform(0.5, 1.5, np.shape(value)) if name in assume else value
               for name, value in values.items()}
    if rule == "positive-exp-log":
        return  # log of a negative entry: no value to compare at
    assert not np.allclose(md.evaluate(short, general, shapes=shapes), without.evaluate(general))


def test_a_rule_never_changes_the_derivative_by_the_structured_matrix_itself():
    """The default derivative by S is the unconstrained one of the expression as written:
    ∂tr(A*S')/∂S = A, though tr(A*S) would give A' and S' = S."""
    d = md.diff("tr(A*S')", wrt="S", layout="gradient", assume={"S": "symmetric"})
    assert d.text == "A"
    assert any("unconstrained" in note for note in d.notes)
    values = point({"A": (N, N), "S": (N, N)}, {"S": "symmetric"})
    assert_matches_finite_differences("tr(A*S')", "S", {"A": (N, N), "S": (N, N)}, {"S": "symmetric"}, "gradient",
                                      values)


def test_what_is_not_symmetric_stays_transposed():
    """softmax works column by column: softmax(S) of a symmetric S is not symmetric (its transpose
    is the softmax by rows, softmax(S', 2) = softmax(S, 2))."""
    shapes = {"x": (N,), "S": (N, N)}
    d = assert_matches_finite_differences("x'*softmax(S)*x", "x", shapes, {"S": "symmetric"}, "gradient",
                                          point(shapes, {"S": "symmetric"}))
    assert "softmax(S)'" in d.text or "softmax(S, 2)" in d.text, d.text


def test_second_derivative_by_a_structured_matrix_is_unconstrained():
    shapes = {"S": (N, N), "x": (N,)}
    d = md.diff("x'*S*S*x", wrt=("S", "S"), shapes=shapes, layout="jacobian", assume={"S": "symmetric"})
    plain = md.diff("x'*S*S*x", wrt=("S", "S"), shapes=shapes, layout="jacobian")
    values = point(shapes, {"S": "symmetric"})
    assert_close(d.evaluate(values), plain.evaluate(values))


# ----- the three conventions, each against finite differences in its own space ------------------

CONVENTION_CASES = ["logdet(S)", "x'*S*x", "tr(A*S)", "x'*inv(S)*y", "sum(exp(S*x))"]


def _function(expression, shapes, values):
    def f(S):
        return float(evaluate_value(expression, {**values, "S": S}, shapes))
    return f


def _central(f, S, direction, h=1e-6):
    return (f(S + h * direction) - f(S - h * direction)) / (2 * h)


@pytest.mark.parametrize("expression", CONVENTION_CASES)
def test_three_conventions_against_finite_differences_in_their_spaces(expression):
    shapes = {"S": (N, N), "x": (N,), "y": (N,), "A": (N, N)}
    shapes = {name: shape for name, shape in shapes.items() if name in expression}
    values = point(shapes, {"S": "spd"})
    f, S = _function(expression, shapes, values), values["S"]

    def derivative(convention):
        d = md.diff(expression, wrt="S", shapes=shapes, layout="gradient", assume={"S": "spd"},
                    convention=convention)
        return np.asarray(d.evaluate(values))

    unit = np.eye(N)
    G, sym, free = derivative("unconstrained"), derivative("symmetric"), derivative("cookbook")
    for i in range(N):
        for j in range(N):
            E = np.outer(unit[i], unit[j])
            # unconstrained: every entry its own direction
            assert_close(G[i, j], _central(f, S, E), what=f"unconstrained [{i},{j}]")
            # symmetric: the gradient within symmetric matrices, probed along E_ij + E_ji
            assert_close(np.sum(sym * (E + E.T)), _central(f, S, E + E.T), what=f"symmetric [{i},{j}]")
            # cookbook: moving the free entry s_ij (= s_ji) of vech(S)
            if i >= j:
                assert_close(free[i, j], _central(f, S, E if i == j else E + E.T), what=f"free [{i},{j}]")
    assert_close(sym, sym.T, what="the symmetric-convention gradient is symmetric")
    assert_close(free, G + G.T - np.diag(np.diag(G)), what="cookbook = G + G' - G∘I")


def test_symmetric_convention_prints_the_symmetric_part():
    d = md.diff("tr(A*S)", wrt="S", layout="gradient", assume={"S": "symmetric"}, convention="symmetric")
    assert d.text == "0.5*(A + A')"
    assert md.diff("logdet(S)", wrt="S", assume={"S": "spd"}, convention="symmetric").text == "inv(S)"


def test_diagonal_convention_keeps_the_diagonal():
    shapes = {"A": (N, N), "D": (N, N)}
    values = point(shapes, {"D": "diagonal"})
    d = md.diff("tr(A*D)", wrt="D", shapes=shapes, layout="gradient", assume={"D": "diagonal"},
                convention="symmetric")
    assert_close(d.evaluate(values), np.diag(np.diag(values["A"])))


# ----- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("assume, shapes, message", [
    ({"S": "hermitian"}, {}, "unknown structure 'hermitian'"),
    ({"S": "symmetric"}, {"S": (3, 4)}, "S is assumed symmetric, which needs a square matrix, but S is 3×4"),
    ({"x": "spd"}, {}, "x is assumed spd, which needs a square matrix, but x is a vector"),
    ({"S": 3}, {}, "unknown structure 3"),
    ({"2S": "symmetric"}, {}, "not a variable name"),
    (["S"], {}, "--assume takes NAME=STRUCTURE"),
])
def test_bad_assumptions_are_matdiff_errors(assume, shapes, message):
    with pytest.raises(md.MatdiffError, match=message.replace("(", r"\(")):
        md.diff("x'*S*x", wrt="x", shapes=shapes, assume=assume)


def test_an_assumption_about_an_assigned_name_is_an_error():
    with pytest.raises(md.MatdiffError, match="S is assigned in the program; assume describes inputs"):
        md.diff("S = A + A'; x'*S*x", wrt="x", assume={"S": "symmetric"})


def test_convention_needs_a_structured_variable():
    with pytest.raises(md.MatdiffError, match="convention='symmetric' is for a derivative by a symmetric"):
        md.diff("x'*S*x", wrt="x", convention="symmetric")
    with pytest.raises(md.MatdiffError, match="unknown convention"):
        md.diff("x'*S*x", wrt="S", assume={"S": "symmetric"}, convention="vech")


@pytest.mark.parametrize("structure, value, broken", [
    ("symmetric", [[1.0, 2.0], [3.0, 4.0]], "is not symmetric"),
    ("spd", [[1.0, 2.0], [2.0, 1.0]], "is not positive definite"),
    ("diagonal", [[1.0, 0.5], [0.5, 1.0]], "has nonzero entries off the diagonal"),
    ("positive", [[1.0, -2.0], [2.0, 1.0]], "has entries that are not positive"),
])
def test_a_value_breaking_an_assumption_names_the_variable(structure, value, broken):
    with pytest.raises(md.ValueMismatchError, match=f"S is assumed {structure}, but the value of S {broken}"):
        md.evaluate("sum(S)", {"S": value}, assume={"S": structure})
    good = {"symmetric": [[1.0, 2.0], [2.0, 4.0]], "spd": [[2.0, 1.0], [1.0, 2.0]],
            "diagonal": [[1.0, 0.0], [0.0, 2.0]], "positive": [[1.0, 2.0], [3.0, 4.0]]}[structure]
    assert md.evaluate("sum(S)", {"S": good}, assume={"S": structure}) == pytest.approx(np.sum(good))


def test_assumptions_object_is_reusable_and_accepts_every_spelling():
    once = Assumptions.of({"S": "Symmetric", "x": "positive"})
    assert Assumptions.of(once) is once
    assert Assumptions.of(["S=symmetric", "x=positive"]) == once
    assert once.options() == ["--assume S=symmetric", "--assume x=positive"]
    with pytest.raises(md.MatdiffError, match="assumed both"):
        Assumptions.of(["S=symmetric", "S=diagonal"])


# ----- every entry point takes the assumption ------------------------------------------------------


def test_cli_assume_on_diff_and_bad_structure_exits_2(capsys):
    assert main(["diff", "x'*S*x", "--wrt", "x", "--assume", "S=symmetric", "--layout", "gradient"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "2*S*x"
    assert main(["diff", "x'*S*x", "--wrt", "x", "--assume", "S=skew"]) == 2
    assert "error: unknown structure 'skew'" in capsys.readouterr().err
    assert main(["diff", "logdet(S)", "--wrt", "S", "--assume", "S=spd", "--convention", "symmetric"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "inv(S)"


def test_cli_check_draws_structured_values(capsys):
    claim = ["check", "x'*S*x", "--wrt", "x", "--claim", "2*S*x", "--layout", "gradient"]
    assert main([*claim, "--assume", "S=symmetric"]) == 0
    assert main(claim) == 1
    capsys.readouterr()


def test_explain_and_entries_take_assume():
    assert md.explain("logdet(S)", "S", assume={"S": "spd"}).result == "inv(S)"
    table = md.entries("x'*S*x", "x", shapes={"x": (2,), "S": (2, 2)}, assume={"S": "symmetric"})
    assert [str(v.expand()) for v in table.values[0]] == ["2*S11*x1 + 2*S12*x2", "2*S12*x1 + 2*S22*x2"]
    diagonal = md.entries("x'*D*x", "x", shapes={"x": (2,), "D": (2, 2)}, assume={"D": "diagonal"})
    assert [str(v.expand()) for v in diagonal.values[0]] == ["2*D11*x1", "2*D22*x2"]


def test_json_api_takes_assume():
    from matdiff.web import jobs
    from matdiff.web.fields import BadRequest, assume_of

    body = jobs.diff("x'*S*x", ["x"], {"x": [3]}, "gradient", ["check"], assume={"S": "symmetric"})
    assert body["text"] == "2*S*x" and body["assume"] == {"S": "symmetric"}
    assert body["check"]["status"] == "passed"
    assert assume_of({"assume": {"S": "spd"}}) == {"S": "spd"}
    for bad in ({"assume": {"S": "skew"}}, {"assume": ["S"]}, {"assume": {"2": "spd"}}):
        with pytest.raises(BadRequest):
            assume_of(bad)


# ----- check's diagnoses and explain's conventions ---------------------------------------------------


def test_check_diagnoses_a_claim_that_needs_an_assumption():
    verdict = md.check("x'*S*x", "x", "2*S*x", layout="gradient")
    assert verdict.kind == "needs_assumption" and verdict.exit_code == 1
    assert verdict.diagnosis == "2*S*x is right if S is symmetric; add --assume S=symmetric"
    assert md.check("x'*S*x", "x", "2*S*x", layout="gradient", assume={"S": "symmetric"}).correct
    assert md.check("x'*S*x", "x", "S*x", layout="gradient").kind == "wrong"  # right under no assumption
    positive = md.check("sum(abs(p))", "p", "ones(n)", layout="gradient")
    assert positive.diagnosis == "ones(n) is right if p is positive; add --assume p=positive"


def test_check_diagnoses_a_claim_in_another_convention():
    stated = {"S": "spd"}
    cookbook = md.check("logdet(S)", "S", "2*inv(S) - inv(S).*eye(n)", layout="gradient", assume=stated)
    assert cookbook.kind == "convention" and "cookbook convention" in cookbook.diagnosis
    symmetric = md.check("tr(A*S)", "S", "0.5*(A + A')", layout="gradient", assume={"S": "symmetric"})
    assert symmetric.kind == "convention" and "symmetric convention" in symmetric.diagnosis
    assert md.check("tr(A*S)", "S", "0.5*(A + A')", layout="gradient", assume={"S": "symmetric"},
                    convention="symmetric").correct
    unstated = md.check("logdet(S)", "S", "2*inv(S) - inv(S).*eye(n)", layout="gradient")
    assert unstated.kind == "convention" and "if S is symmetric" in unstated.diagnosis


def test_explain_shows_the_three_conventions_on_the_users_expression():
    explanation = md.explain("logdet(S)", "S", layout="gradient", assume={"S": "spd"})
    assert [name for name, _, _ in explanation.conventions] == ["unconstrained", "symmetric", "cookbook"]
    shown = {name: text for name, text, _ in explanation.conventions}
    assert shown["symmetric"] == "(G + G')/2 = inv(S)"
    assert shown["cookbook"] == "G + G' - G∘I = 2*inv(S) - inv(S).*eye(n)"
    printed = str(explanation)
    assert "three answers" in printed and "dS = ∂y/∂S   n×n   = inv(S)\n" in printed + "\n"
    assert md.explain("x'*S*x", "x", assume={"S": "symmetric"}).conventions == ()


def test_http_api_takes_assume_and_refuses_a_bad_structure():
    import warnings

    from matdiff.web.server import create_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    request = {"expression": "x'*S*x", "wrt": "x", "layout": "gradient", "shapes": {"x": [3]},
               "assume": {"S": "symmetric"}}
    with TestClient(create_app(workers=1), base_url="http://localhost") as client:
        body = client.post("/api/diff", json=request).json()
        assert body["text"] == "2*S*x" and body["check"]["status"] == "passed"
        bad = client.post("/api/diff", json={**request, "assume": {"S": "skew"}})
        assert bad.status_code == 400 and "structure" in bad.json()["error"]
        broken = client.post("/api/evaluate", json={"expression": "sum(S)", "values": {"S": [[1, 2], [3, 4]]},
                                                    "assume": {"S": "symmetric"}})
        assert broken.status_code == 400 and "S is assumed symmetric" in broken.json()["error"]


def test_every_check_draws_structured_values_with_one_function(tmp_path):
    """check, the web page's check and the generated script share matdiff's structured draw."""
    import inspect
    import subprocess
    import sys

    from matdiff.engine.sampling import structured_value

    for structure in ("symmetric", "spd", "diagonal", "positive"):
        value = structured_value(structure, (3, 3), np.random.default_rng(0))
        assert md.evaluate("sum(S)", {"S": value}, assume={"S": structure}) == pytest.approx(value.sum())
    d = md.diff("logdet(S) + x'*S*x", wrt="S", shapes={"S": (3, 3), "x": (3,)}, layout="gradient",
                assume={"S": "spd"})
    script = d.code("numpy", check=True)
    assert inspect.getsource(structured_value) in script
    path = tmp_path / "check.py"
    path.write_text(script)
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "passed" in run.stdout, run.stdout + run.stderr
