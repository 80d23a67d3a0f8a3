"""The example notebook (examples/tour.ipynb) runs top to bottom, and matdiff renders as math.

The kernel is a kernelspec written into a temporary JUPYTER_PATH for this very interpreter
(ipykernel's own spec), so the test needs nothing installed beyond the README's test command
and cannot pick up another Python's "python3" kernel.
"""

from __future__ import annotations

import os

import pytest

import matdiff as md

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")

NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "tour.ipynb")
KERNEL = "matdiff-tests"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    jupyter_path = tmp_path_factory.mktemp("jupyter")
    kernelspec.write_kernel_spec(str(jupyter_path / "kernels" / KERNEL))
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(jupyter_path) + (os.pathsep + saved if saved else "")
    try:
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        client = nbclient.NotebookClient(notebook, kernel_name=KERNEL, timeout=120,
                                         resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
        client.execute()
        return notebook
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved


def _outputs(notebook, needle: str) -> list:
    cell = next(c for c in notebook.cells if c.cell_type == "code" and needle in c.source)
    return cell.outputs


def test_every_cell_runs_without_an_error(executed):
    for cell in executed.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "error"], cell.source


def test_derivative_renders_as_latex(executed):
    (output,) = _outputs(executed, 'd = md.diff("W2*W1*h"')
    latex = output["data"]["text/latex"]
    assert latex.startswith("$$") and "W_{2}" in latex and latex.endswith("$$")


def test_check_and_explain_render_as_html(executed):
    (verdict,) = _outputs(executed, "md.check(\"W2*W1*h\"")
    assert "text/html" in verdict["data"] and "h*W2" in verdict["data"]["text/html"]
    (explanation,) = _outputs(executed, "md.explain(\"W2*W1*h\"")
    assert "text/html" in explanation["data"]


def test_the_notebook_answers_the_three_questions(executed):
    (first,) = _outputs(executed, "d.text, d.shape, d.index")
    assert "'h*W2'" in first["data"]["text/plain"]
    (second,) = _outputs(executed, 'shapes=symbolic, layout="vec")')
    assert "kron" in second["data"]["text/plain"]
    (third,) = _outputs(executed, "np.max(np.abs(fd - dW2.evaluate(values)))")
    assert float(third["data"]["text/plain"].split("(")[-1].rstrip(")")) < 1e-6


def test_sympy_comparison_shows_sympy_wrong_and_matdiff_right(executed):
    (printed,) = _outputs(executed, "print(\"SymPy:  \", sp.log")
    assert "matdiff: inv(X)'" in printed["text"]


def test_repr_latex_is_display_math_for_tensors_too():
    d = md.diff("A*B", wrt="B", shapes={"A": (2, 3), "B": (3, 2)}, layout="jacobian")
    assert d.text is None
    rendered = d._repr_latex_()
    assert rendered.startswith("$$") and rendered.endswith("$$") and "\\delta" in rendered
