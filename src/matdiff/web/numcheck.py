"""The numerical check shown under every derivative: the result against finite differences.

At random small concrete values, the derivative as the engine evaluates it (in the
chosen layout) is mapped back to the full Jacobian J[i…, j…] = ∂Y[i…]/∂X[j…] by
inverting the engine's layout table (numerator: Y's indices first, denominator: X's first, …), and J·u is compared with the central difference
(Y(X + εu) − Y(X − εu)) / 2ε along a few random directions u: micrograd's idea,
two evaluations per direction whatever the size of X. An entry in the wrong place
(a layout mistake, a missing transpose) changes J·u, so the check covers the
layout, not only the calculus. Second derivatives are checked as differences of
the engine's first derivative (jacobian layout), for gradient and jacobian layouts.

A symbolic dimension gets a small size, distinct from the others (as ``matdiff check`` picks
them), and the verdict says which; inputs too large, or an intermediate as the variable, are
skipped with the reason. Inputs with an assumed structure get values that have it (the engine's
one structured draw), and directions that keep it when the derivative is taken within
the structure (``convention="symmetric"``).
"""

from __future__ import annotations

from math import prod

import numpy as np

from matdiff.api import diff, evaluate
from matdiff.engine.ir import small_sizes
from matdiff.errors import MatdiffError
from matdiff.engine.layout import arrange as layout_arrangement, layout_y_shape
from matdiff.engine.sampling import STEP, central_difference, draw_values
from matdiff.language.assumptions import Assumptions

MAX_VARIABLE_ENTRIES = 2_500  # entries of any one input: "small"
MAX_JACOBIAN_ENTRIES = 1_000_000
DIRECTIONS = 2
TOLERANCE = 1e-5
SHOWN_VALUES = 24  # the point is echoed back when it is this small, to reproduce by hand


def check(expression: str, wrt: list[str], layout: str, derivative, inputs: dict, *,
          assume: Assumptions = Assumptions(), convention: str = "unconstrained") -> dict:
    """Compare ``derivative.evaluate`` with finite differences; a JSON-ready verdict.

    ``inputs`` maps every input name to its shape (as inferred); ``assume`` and ``convention``
    are the derivative's own.
    """
    sizes = small_sizes({name: shape for name, shape in inputs.items() if shape is not None})
    inputs = {name: shape if shape is None else tuple(sizes.get(d, d) for d in shape) for name, shape in inputs.items()}
    reason = _why_not(wrt, layout, inputs)
    if reason:
        return {"status": "skipped", "reason": reason}
    chosen = {"sizes": sizes} if sizes else {}  # symbolic dimensions get small distinct sizes, said on the page
    rng = np.random.default_rng(0)  # the same link always shows the same check
    problems = []
    structures = assume.as_dict()
    for how in ("order_one_positive", "order_one_signed"):  # signed: for what is defined at negatives only
        values = draw_values(inputs, rng, how, structures=structures, safe=True)
        try:
            structured = assume.diagonal(wrt[-1]) if convention != "unconstrained" else None
            verdict = _compare(expression, wrt, layout, derivative, values, rng, structured)
        except MatdiffError as error:  # e.g. log of a negative entry: try other values
            problems.append(error.message)
            continue
        except FloatingPointError:
            problems.append("the values are not finite there")
            continue
        return {**verdict, **_shown(values), **chosen}
    return {"status": "skipped", "reason": "no random values where the expression is defined: " + problems[-1]}


def _why_not(wrt: list[str], layout: str, inputs: dict) -> str | None:
    if len(wrt) > 2 or (len(wrt) == 2 and layout not in ("gradient", "jacobian")):
        return "checked for first derivatives, and second ones in gradient or jacobian layout"
    for name in wrt:
        if name not in inputs:
            return f"'{name}' is an intermediate, not an input; only inputs are perturbed"
    for name, shape in inputs.items():
        if shape is None or not all(isinstance(d, int) for d in shape):
            return f"'{name}' has no concrete shape; give every dimension a number to get a check"
        if prod(shape) > MAX_VARIABLE_ENTRIES:
            return f"'{name}' has {prod(shape)} entries; checked only up to {MAX_VARIABLE_ENTRIES}"
    return None


def _compare(expression, wrt, layout, derivative, values, rng, structured: bool | None) -> dict:
    """The verdict at ``values``: J·u from the result against finite differences, for random u
    (for a derivative within the structure, ``structured`` (diagonal or not), u has it too)."""
    if len(wrt) == 1:
        def function(v):
            return evaluate(expression, v, shapes=_shapes(values))
    else:
        function = diff(expression, wrt=wrt[0], shapes=_shapes(values), layout="jacobian").evaluate
    x_name = wrt[-1]
    x = np.asarray(values[x_name], dtype=float)
    y = _finite(function(values))
    got = _finite(derivative.evaluate(values))
    if y.size * x.size > MAX_JACOBIAN_ENTRIES:
        return {"status": "skipped", "reason": f"the derivative has more than {MAX_JACOBIAN_ENTRIES} entries"}
    # Where each entry of J sits in the result: arrange an array of J's flat indices the same way.
    positions: np.ndarray = np.arange(y.size * x.size).reshape(y.shape + x.shape)
    if len(wrt) == 1:
        positions = arrange(positions, y.shape, x.shape, layout)
    if got.shape != positions.shape:
        if [d for d in got.shape if d != 1] != [d for d in positions.shape if d != 1]:
            return {"status": "failed", "reason": f"the result has shape {list(got.shape)}, but this layout "
                                                  f"needs {list(positions.shape)}"}
        got = got.reshape(positions.shape)
    jacobian: np.ndarray = np.empty(y.size * x.size)
    jacobian[positions.ravel()] = got.ravel()
    jacobian = jacobian.reshape(y.shape + x.shape)
    error = 0.0
    for _ in range(DIRECTIONS):
        u = rng.standard_normal(x.shape)
        if structured is not None:  # the derivative lives in the structure: so do the directions
            u = np.diag(np.diag(u)) if structured else u + u.T
        u /= max(np.linalg.norm(u), 1e-12)
        measured = central_difference(lambda point: _finite(function(point)), values, x_name, u, STEP)
        predicted = np.tensordot(jacobian, u, axes=x.ndim) if x.ndim else jacobian * u
        scale = max(1.0, float(np.abs(measured).max(initial=0.0)))
        error = max(error, float(np.abs(predicted - measured).max(initial=0.0)) / scale)
    passed = error <= TOLERANCE
    return {"status": "passed" if passed else "failed", "max_error": error, "tolerance": TOLERANCE,
            "directions": DIRECTIONS,
            "reason": None if passed else "the result differs from finite differences along a random direction"}


def _finite(value) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(array)):
        raise FloatingPointError
    return array


def _shapes(values: dict) -> dict:
    return {name: np.shape(value) for name, value in values.items()}


def arrange(jacobian: np.ndarray, y_shape: tuple, x_shape: tuple, layout: str) -> np.ndarray:
    """The Jacobian J[i…, j…] = ∂Y[i…]/∂X[j…] laid out as the layout says: the engine's own
    :class:`~matdiff.engine.layout.Arrangement` (a permutation of J's axes, then a reshape) applied
    to the numbers, so the check and the engine read one layout table."""
    arrangement = layout_arrangement(layout, layout_y_shape(y_shape), (x_shape,))
    whole = jacobian.reshape(arrangement.y_shape + x_shape)
    return whole.transpose(arrangement.permutation).reshape(arrangement.shape)


def _shown(values: dict) -> dict:
    if sum(np.size(v) for v in values.values()) > SHOWN_VALUES:
        return {}
    return {"values": {name: np.round(np.asarray(v), 4).tolist() for name, v in values.items()}}
