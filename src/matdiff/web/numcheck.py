"""The numerical check shown under every derivative: the result against finite differences.

At random small concrete values, the full Jacobian J (shape S_Y + S_X) is measured
by central differences, ∂Y/∂X_k ≈ (Y(X + εe_k) − Y(X − εe_k)) / 2ε, arranged as
SPEC §2's layout table says, and compared entry by entry with what the derivative
evaluates to. So the check covers the layout (which axis goes where), not only the
calculus. It costs 2·size(X) evaluations, hence the size limits: it runs only when
every dimension is a known small integer, and reports "skipped" with a reason
otherwise. Second derivatives are measured as differences of the first
derivative (the engine's, in jacobian layout), for gradient and jacobian layouts.
"""

from __future__ import annotations

from math import prod

import numpy as np

MAX_VARIABLE_ENTRIES = 400  # entries of any one input
MAX_WRT_ENTRIES = 100  # entries of the variable perturbed (2 evaluations each)
STEP = 1e-6  # central differences: error O(ε²) from curvature, O(1e-16/ε) from rounding
TOLERANCE = 1e-5
SHOWN_VALUES = 24  # the point is echoed back when it is this small, to reproduce by hand


def check(md, expression: str, wrt: list[str], layout: str, derivative, inputs: dict) -> dict:
    """Compare ``derivative.evaluate`` with finite differences; a JSON-ready verdict.

    ``inputs`` maps every input name to its shape (as inferred); ``md`` is the
    matdiff module (passed in so this file imports nothing from the engine).
    """
    reason = _why_not(wrt, layout, inputs)
    if reason:
        return {"status": "skipped", "reason": reason}
    rng = np.random.default_rng(0)  # the same link always shows the same check
    problems = []
    for sampler in (_positive, _signed):
        values = {name: sampler(rng, shape) for name, shape in inputs.items()}
        try:
            expected = _measure(md, expression, wrt, layout, inputs, values)
            got = np.asarray(derivative.evaluate(values), dtype=float)
        except md.MatdiffError as error:  # e.g. log of a negative entry: try other values
            problems.append(error.message)
            continue
        if not (np.all(np.isfinite(expected)) and np.all(np.isfinite(got))):
            problems.append("the values are not finite there")
            continue
        return {**_compare(got, expected), **_shown(values)}
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
    if prod(inputs[wrt[-1]]) > MAX_WRT_ENTRIES:
        return f"'{wrt[-1]}' has more than {MAX_WRT_ENTRIES} entries to perturb"
    return None


def _positive(rng, shape):
    """Entries in [0.5, 1.5], square matrices diagonally dominant: log, sqrt, inv, logdet are defined."""
    x = rng.uniform(0.5, 1.5, shape)
    if len(shape) == 2 and shape[0] == shape[1]:
        x = x + 2 * shape[0] * np.eye(shape[0])
    return float(x) if not shape else x


def _signed(rng, shape):
    x = rng.uniform(-1.0, 1.0, shape)
    if len(shape) == 2 and shape[0] == shape[1]:
        x = x + 2 * shape[0] * np.eye(shape[0])
    return float(x) if not shape else x


def _measure(md, expression, wrt, layout, inputs, values) -> np.ndarray:
    """The derivative by central differences, arranged in ``layout``."""
    if len(wrt) == 1:
        def function(v):
            return md.evaluate(expression, v, shapes=inputs)
    else:
        first = md.diff(expression, wrt=wrt[0], shapes=inputs, layout="jacobian")
        function = first.evaluate
    x_name = wrt[-1]
    x = np.asarray(values[x_name], dtype=float)
    y = np.asarray(function(values), dtype=float)
    columns = []
    for k in range(x.size):
        step = np.zeros(x.size)
        step[k] = STEP
        step = step.reshape(x.shape)
        plus = np.asarray(function({**values, x_name: _like(values[x_name], x + step)}), dtype=float)
        minus = np.asarray(function({**values, x_name: _like(values[x_name], x - step)}), dtype=float)
        columns.append((plus - minus) / (2 * STEP))
    jacobian = np.stack(columns, axis=-1).reshape(y.shape + x.shape)
    if len(wrt) == 2:
        return jacobian
    return arrange(jacobian, y.shape, x.shape, layout)


def _like(original, array):
    return float(array) if np.ndim(original) == 0 else array


def arrange(jacobian: np.ndarray, y_shape: tuple, x_shape: tuple, layout: str) -> np.ndarray:
    """The Jacobian J[i…, j…] = ∂Y[i…]/∂X[j…] laid out as SPEC §2's table says."""
    ny, nx = len(y_shape), len(x_shape)
    if layout == "jacobian":
        return jacobian
    if layout == "vec":  # vec stacks columns: flatten each group in column-major order
        flipped = [*reversed(range(ny)), *(ny + k for k in reversed(range(nx)))]
        return jacobian.transpose(flipped).reshape(prod(y_shape), prod(x_shape))
    if prod(y_shape) == 1:  # a scalar for layout purposes, even as a 1×1 matrix
        gradient = jacobian.reshape(x_shape)
        if layout == "gradient" or nx == 0:
            return gradient
        if layout == "numerator":
            return gradient.reshape(1, -1) if nx == 1 else gradient.T
        return gradient.reshape(-1, 1) if nx == 1 else gradient
    if layout == "numerator":
        return jacobian.reshape(*y_shape, 1) if (ny, nx) == (1, 0) else jacobian
    if layout == "denominator":
        if (ny, nx) == (1, 0):
            return jacobian.reshape(1, -1)
        return jacobian.transpose([*range(ny, ny + nx), *range(ny)])
    raise ValueError(f"no layout {layout!r} for a non-scalar")  # the engine refuses first


def _compare(got: np.ndarray, expected: np.ndarray) -> dict:
    if got.shape != expected.shape:
        squeezed = [d for d in got.shape if d != 1] == [d for d in expected.shape if d != 1]
        if not squeezed:
            return {
                "status": "failed",
                "reason": f"the result has shape {list(got.shape)}, finite differences give "
                f"{list(expected.shape)}",
            }
        got = got.reshape(expected.shape)
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    error = float(np.abs(got - expected).max(initial=0.0)) / scale
    return {
        "status": "passed" if error <= TOLERANCE else "failed",
        "max_error": error,
        "tolerance": TOLERANCE,
        "reason": None if error <= TOLERANCE else "the entries differ from finite differences",
    }


def _shown(values: dict) -> dict:
    if sum(np.size(v) for v in values.values()) > SHOWN_VALUES:
        return {}
    return {"values": {name: np.round(np.asarray(v), 4).tolist() for name, v in values.items()}}
