"""matdiff explain | check | entries through the installed console script: exit codes, verdicts, shapes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

SEED1 = ["W2*W1*h", "--wrt", "W1", "--shape", "W2=1x2", "--shape", "W1=2x2", "--shape", "h=2"]
NETWORK = "z2 = W2*x; a2 = sigmoid(z2); z3 = W3*a2; a3 = sigmoid(z3); 0.5*sum((a3 - y).^2)"
NETWORK_SHAPES = ["--shape", "x=2", "--shape", "W2=3x2", "--shape", "W3=2x3", "--shape", "y=2"]


def console_script() -> str:
    found = shutil.which("matdiff") or os.path.join(os.path.dirname(sys.executable), "matdiff")
    assert os.path.exists(found), "the matdiff console script is not installed (pip install -e .)"
    return found


def matdiff(*arguments: str) -> subprocess.CompletedProcess:
    result = subprocess.run([console_script(), *arguments], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "MATDIFF_STRICT": "1"})
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_explain_seed1_shows_the_third_order_tensor():
    result = matdiff("explain", *SEED1)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "1. u1 = W1*h" in out and "2. y = W2*u1" in out
    assert "∂u1/∂W1: order-3 tensor 2×2×2, no matrix form" in out
    assert "∂y/∂W1 = h*W2   (numerator layout, 2×2)" in out


def test_explain_network_in_denominator_layout_shows_the_deltas():
    result = matdiff("explain", NETWORK, "--wrt", "W2", *NETWORK_SHAPES, "--layout", "denominator")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "right to left" in out
    compact = out.replace(" ", "")
    assert "dz3=∂f/∂z32×1=da3.*a3.*(1-a3)" in compact
    assert "dW2=∂f/∂W23×2=dz2*x'" in compact


@pytest.mark.parametrize("claim,layout,code,phrase", [
    ("h*W2", "numerator", 0, "✓ correct"),
    ("W2*h'", "numerator", 1, "the claim itself has a shape error: cannot multiply 1×2 by 1×2"),
    ("W2'*h'", "numerator", 1, "the claim is the derivative in the denominator layout"),
    ("W2'*h'", "denominator", 0, "✓ correct"),
    ("3*h*W2", "numerator", 1, "counterexample:"),
])
def test_check_seed1_exit_codes_and_verdicts(claim, layout, code, phrase):
    result = matdiff("check", *SEED1, "--claim", claim, "--layout", layout)
    assert result.returncode == code, result.stdout + result.stderr
    assert phrase in result.stdout
    assert "correct answer (" in result.stdout


def test_check_seed2_a_transpose_is_the_backprop_form():
    result = matdiff("check", "A*B", "--wrt", "B", "--shape", "A=1x3", "--shape", "B=3x2", "--claim", "A'")
    assert result.returncode == 1
    assert "✗ wrong (vjp)" in result.stdout and "∂L/∂B = A'*G" in result.stdout
    assert "order-4 tensor 1×2×3×2" in result.stdout


def test_check_seed3_questions_product_and_the_fix():
    wrong = matdiff("check", NETWORK, "--wrt", "W2", *NETWORK_SHAPES, "--layout", "denominator",
                    "--claim", "((a3 - y).*a3.*(1 - a3))*W3*ones(3)*x'")
    assert wrong.returncode == 1 and "shape error" in wrong.stdout and "2×3" in wrong.stdout
    right = matdiff("check", NETWORK, "--wrt", "W2", *NETWORK_SHAPES, "--layout", "denominator",
                    "--claim", "((W3'*((a3 - y).*a3.*(1 - a3))).*a2.*(1 - a2))*x'")
    assert right.returncode == 0 and "(denominator layout, 3×2)" in right.stdout


@pytest.mark.parametrize("arguments", [
    ["check", "W2*W1*", "--wrt", "W1", "--claim", "h*W2"],
    ["check", *SEED1, "--claim", "h*W2", "--layout", "sideways"],
    ["check", *SEED1],
    ["explain", "W2*W1*h", "--wrt", "Q"],
    ["entries", "x'*A*x", "--wrt", "x"],
    ["entries", *SEED1, "--name", "W1 a b"],
])
def test_bad_input_exits_2_with_an_error_line(arguments):
    result = matdiff(*arguments)
    assert result.returncode == 2
    assert "error:" in result.stderr


def test_entries_seed1_in_the_users_letters():
    result = matdiff("entries", "W2*W1*h", "--wrt", "W1", "--name", "W1=a b; c d", "--name", "W2=e f",
                     "--name", "h=h1 h2")
    assert result.returncode == 0, result.stderr
    assert "[ ∂y/∂a  ∂y/∂c ] = [ e*h1  f*h1 ]" in result.stdout
    assert "[ ∂y/∂b  ∂y/∂d ]   [ e*h2  f*h2 ]" in result.stdout


def test_entries_seed2_vec_layout():
    result = matdiff("entries", "A*B", "--wrt", "B", "--name", "A=a1 a2 a3", "--name",
                     "B=b11 b12; b21 b22; b31 b32", "--layout", "vec")
    assert result.returncode == 0, result.stderr
    assert "(vec layout, 2×6)" in result.stdout
    assert "[ a1  a2  a3  0   0   0  ]" in result.stdout


def test_serve_refuses_a_bad_port_a_port_in_use_and_a_foreign_host_in_one_line():
    """Issue 26: these were tracebacks (exit 1, which `check` means as a wrong claim)."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for arguments, said in ((["--port", "99999"], "is not a port"),
                                (["--port", str(port)], "cannot listen on 127.0.0.1"),
                                (["--host", "203.0.113.99", "--port", "0"], "cannot listen on 203.0.113.99")):
            result = matdiff("serve", *arguments)
            assert result.returncode == 2 and said in result.stderr, result.stderr
            assert len(result.stderr.strip().splitlines()) == 1


def test_a_dimension_of_thousands_of_digits_is_a_bad_shape_not_a_traceback():
    result = matdiff("diff", "x'*x", "--wrt", "x", "--shape", "x=" + "9" * 5000)
    assert result.returncode == 2 and "larger than any array" in result.stderr
    assert len(result.stderr) < 400


def test_python_dash_m_matdiff_is_the_same_command():
    result = subprocess.run([sys.executable, "-m", "matdiff", "diff", "x'*x", "--wrt", "x", "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    import json

    import matdiff as md

    assert json.loads(result.stdout) == md.diff("x'*x", wrt="x").to_dict()


def test_an_expression_that_starts_with_a_minus_sign_is_not_an_option():
    result = matdiff("diff", "-x'*x", "--wrt", "x")
    assert result.returncode == 0 and result.stdout.startswith("-2*x'"), result.stderr
    result = matdiff("check", "-sum(sum(Y.*log(softmax(W*X))))", "--wrt", "W", "--shape", "W=3x4",
                     "--shape", "X=4x5", "--shape", "Y=3x5", "--layout", "gradient", "--assume", "Y=onehot",
                     "--claim", "(softmax(W*X) - Y)*X'")
    assert result.returncode == 0, result.stdout + result.stderr
