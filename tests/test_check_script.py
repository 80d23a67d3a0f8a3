"""``d.code(backend, check=True)`` (SPEC §3) and ``matdiff codegen --check`` (§4): a script that prints
the value and the derivative at random values and checks the derivative against finite differences.
Each script runs here in a subprocess; a derivative made wrong on purpose fails its check."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from numerics import md

from matdiff.cli import main

CASES = [  # one per row of the layout table, a Hessian, a mixed second derivative, a program
    ("W2*W1*h", "W1", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "numerator"),
    ("A*B", "B", {"A": (1, 3), "B": (3, 2)}, "vec"),
    ("A*x", "x", {}, "denominator"),
    ("sum(log(1 + exp(-y.*(X*w))))", ("w", "w"), {"X": (6, 3), "w": (3,), "y": (6,)}, "gradient"),
    ("x'*A*y", ("x", "y"), {}, "numerator"),
    ("z = W*x\nL = 0.5*sum(sigmoid(z).^2)", "W", {"W": (3, 2)}, "jacobian"),
]
STRUCTURED = [  # values drawn with the structure assumed: the answer is right only there
    ("logdet(S)", "S", {"S": (3, 3)}, {"S": "spd"}),
    ("x'*S*x", "x", {"S": (3, 3)}, {"S": "symmetric"}),
    ("sum(D*x)", "D", {"D": (3, 3)}, {"D": "diagonal"}),
]


def run(script: str, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / "check.py"
    path.write_text(script)
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)


HAVE = {name: importlib.util.find_spec(name) is not None for name in ("jax", "torch")}
RUNS = [pytest.param(case, "numpy", id=f"numpy-{case[0][:12]}-{case[3]}") for case in CASES] + [
    pytest.param(case, backend, id=f"{backend}-{case[0][:12]}-{case[3]}",  # two cases each: slow imports
                 marks=pytest.mark.skipif(not HAVE[backend], reason=f"{backend} is not installed"))
    for backend in ("jax", "torch") for case in (CASES[0], CASES[3])]


@pytest.mark.parametrize(("case", "backend"), RUNS)
def test_the_script_prints_value_and_derivative_and_its_check_passes(case, backend, tmp_path):
    expression, wrt, shapes, layout = case
    derivative = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout)
    result = run(derivative.code(backend, check=True), tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "value =" in result.stdout and f"derivative ({layout} layout" in result.stdout
    assert result.stdout.rstrip().endswith("passed")


@pytest.mark.parametrize("case", STRUCTURED, ids=lambda case: case[0])
def test_the_script_draws_values_with_the_structure_assumed(case, tmp_path):
    expression, wrt, shapes, assume = case
    derivative = md.diff(expression, wrt=wrt, shapes=shapes, layout="gradient", assume=assume)
    result = run(derivative.code("numpy", check=True), tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_a_wrong_derivative_fails_the_check(tmp_path):
    script = md.diff("W2*W1*h", wrt="W1", shapes={"W2": (1, 2), "W1": (2, 2), "h": (2,)}).code("numpy", check=True)
    wrong = script.replace("\n\n# ----- the check", "\n\n_right = value_and_derivative\n\n\ndef value_and_derivative(**inputs):"
                           "\n    value, derivative = _right(**inputs)\n    return value, 1.001 * derivative\n\n# ----- the check")
    assert wrong != script
    result = run(wrong, tmp_path)
    assert result.returncode == 1
    assert result.stdout.rstrip().endswith("FAILED")


def test_an_intermediate_has_no_checked_script():
    derivative = md.diff("z = W*x\nsum(z)", wrt="z", shapes={"W": (3, 2)})
    with pytest.raises(md.MatdiffError, match="intermediate"):
        derivative.code("numpy", check=True)
    assert "def value_and_derivative" not in derivative.code("numpy")   # without check: the function only


def test_cli_codegen_check_prints_the_script(capsys, tmp_path):
    assert main(["codegen", "x'*A*x", "--wrt", "x", "--shape", "x=3", "--check"]) == 0
    script = capsys.readouterr().out
    assert "finite-difference check" in script
    assert run(script, tmp_path).returncode == 0
