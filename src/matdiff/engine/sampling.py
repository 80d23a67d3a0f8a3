"""Random test points and finite differences: the one place every numerical check gets them from.

``check`` (its counterexamples), the web page's check under each derivative, the generated
``--check`` scripts (which copy :func:`structured_value`, being standalone) and the test suite
all draw their values here and measure slopes with :func:`central_difference` /
:func:`difference_jacobian`. One copy means one set of domains: a kind of value that keeps
``log`` or ``inv`` defined is written once, and a value assumed symmetric, positive
definite or diagonal has that structure wherever it is drawn.

A *draw* (:data:`DRAWS`) is a named way to draw an array of a given shape from a NumPy
``Generator``; each caller chooses draws by its own policy (the tests by the functions the
expression uses, ``check`` by whether the expression has a domain and whether it wants small
integers, the web page trying positive values, then signed ones). They are deterministic given
the generator, and each makes the same calls on it as before they were gathered here,
so that every counterexample and every check already shown stays the same.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from matdiff.engine.functions import MATRIX, Function
from matdiff.language.assumptions import STRUCTURES

Draw = Callable[[np.random.Generator, tuple], np.ndarray]


def structured_value(structure: str, shape: tuple, rng, *, integers: bool = False, safe: bool = False) -> np.ndarray:
    """A random value of ``shape`` that has ``structure`` (a name in STRUCTURES): the one place
    where checks (``check``, the web page's, generated ``--check`` scripts) draw structured values.
    With ``safe`` (the expression has inv, log …) a symmetric value is positive definite;
    ``integers`` gives small integer entries, for counterexamples a person can follow. It uses
    nothing but ``np``: its source is copied into the generated scripts."""
    if structure == "positive":
        return rng.integers(1, 4, shape).astype(float) if integers else rng.uniform(0.5, 2.0, shape)
    if structure in ("onehot", "rows_onehot"):  # a one in each column (row), at random
        matrix = np.reshape(np.zeros(shape), (shape[0], -1) if structure == "onehot" else (-1, shape[-1]))
        if structure == "onehot":
            matrix[rng.integers(0, matrix.shape[0], matrix.shape[1]), np.arange(matrix.shape[1])] = 1.0
        else:
            matrix[np.arange(matrix.shape[0]), rng.integers(0, matrix.shape[1], matrix.shape[0])] = 1.0
        return matrix.reshape(shape)
    n = shape[0]
    if structure == "diagonal":
        entries = rng.integers(1, 4, n).astype(float) if integers else rng.uniform(0.5, 2.0, n)
        return np.diag(entries)
    if structure == "symmetric" and not safe:
        half = rng.integers(-2, 3, (n, n)).astype(float) if integers else rng.standard_normal((n, n))
        return half + half.T
    if integers:
        half = rng.integers(-1, 2, (n, n)).astype(float)
        return half @ half.T + np.eye(n)
    half = rng.standard_normal((n, n))
    return half @ half.T / n + np.eye(n)


def _square_size(name: str, shape: tuple) -> int:
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"{name} needs a square shape, got {shape}")
    return shape[0]


def _structured(structure: str) -> Draw:
    """The draw of an assumed structure (every name in ``STRUCTURES``): :func:`structured_value`,
    so that a value drawn as "spd" and an input assumed spd are drawn alike."""
    def draw(rng, shape):
        if STRUCTURES[structure].square:
            _square_size(structure, shape)
        return structured_value(structure, shape, rng)
    return draw


def _posdet(rng, shape):
    """Well conditioned, deliberately not symmetric (a missing transpose still shows), det > 0."""
    n = _square_size("posdet", shape)
    while True:
        value = 2.0 * np.eye(n) + 0.5 * rng.standard_normal((n, n))
        if np.linalg.det(value) > 0.5 and np.linalg.cond(value) < 20:
            return value


def _invertible(rng, shape):
    """Well conditioned, not symmetric, either sign of the determinant."""
    n = shape[0]
    while True:
        value = rng.standard_normal((n, n)) + 1.5 * np.diag(rng.choice([-1.0, 1.0], n))
        if abs(np.linalg.det(value)) > 0.5 and np.linalg.cond(value) < 20:
            return value


def _dominant_integers(rng, shape):
    """Small integers on a dominant diagonal: inv, det and log det are defined and readable.
    The first draw is thrown away: it keeps the counterexamples ``check`` has always shown."""
    rng.integers(1, 4, shape)
    return rng.integers(0, 2, shape).astype(float) + shape[0] * np.eye(shape[0])


def _order_one(square_part: tuple[float, float], entries: tuple[float, float]) -> Draw:
    """Entries of order one: a square matrix is I plus a small part drawn from ``square_part``
    (so inv, det and log det are defined and well conditioned); other matrices have entries in
    ``entries`` divided by the number of columns (products stay of order one: no saturated
    sigmoid); scalars and vectors have entries in ``entries``."""
    def draw(rng, shape):
        if len(shape) == 2 and shape[0] == shape[1]:
            return np.eye(shape[0]) + rng.uniform(*square_part, shape) / shape[0]
        if len(shape) == 2:
            return rng.uniform(*entries, shape) / shape[1]
        return float(rng.uniform(*entries)) if not shape else rng.uniform(*entries, shape)
    return draw


DRAWS: dict[str, Draw] = {
    **{structure: _structured(structure) for structure in STRUCTURES},  # symmetric of either sign
    "normal": lambda rng, shape: rng.standard_normal(shape),
    "small": lambda rng, shape: rng.uniform(-0.6, 0.6, shape),  # e.g. for tan
    "unit": lambda rng, shape: rng.uniform(0.15, 0.85, shape),  # e.g. for log(1 - p)
    # |entries| in [0.3, 1.5] of either sign: away from the kinks of abs and the rectifier
    "away": lambda rng, shape: rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape),
    "posdet": _posdet,
    "invertible": _invertible,
    "orthonormal_columns": lambda rng, shape: np.linalg.qr(rng.standard_normal(shape))[0],
    "near_identity": lambda rng, shape: 2.0 * np.eye(shape[0]) + 0.3 * rng.standard_normal(shape),
    # small integers, for counterexamples a person can follow
    "integers": lambda rng, shape: rng.integers(-2, 3, shape).astype(float),
    "positive_integers": lambda rng, shape: rng.integers(1, 4, shape).astype(float),
    "dominant_integers": _dominant_integers,
    # all positive (log, sqrt defined), and of both signs (for log(1 - x) and such): the web check's
    "order_one_positive": _order_one((0.0, 0.5), (0.5, 1.5)),
    "order_one_signed": _order_one((-0.5, 0.5), (-1.0, 1.0)),
}


def draw(name: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """A random value of ``shape`` drawn the named way (a key of :data:`DRAWS`)."""
    if name not in DRAWS:
        raise ValueError(f"unknown value kind {name!r}")
    return DRAWS[name](rng, tuple(shape))


def draw_values(shapes: dict, rng: np.random.Generator, how: str | Callable[[str, tuple], str], *,
                structures: dict | None = None, integers: bool = False, safe: bool = False) -> dict:
    """A value for each name of ``shapes`` (name -> concrete shape), drawn in order: an input with
    an assumed structure (``structures``: name -> structure) gets :func:`structured_value`, every
    other one the draw ``how`` names, or the one ``how(name, shape)`` chooses for it."""
    structures = structures or {}
    choose = how if callable(how) else (lambda name, shape: how)
    return {name: structured_value(structures[name], shape, rng, integers=integers, safe=safe)
            if name in structures else draw(choose(name, shape), shape, rng)
            for name, shape in shapes.items()}


def function_point(function: Function, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """A test point inside ``function``'s domain: a well-conditioned matrix for the functions of a
    matrix, entries in the record's ``sample`` interval for the others."""
    if function.acts == MATRIX:
        return np.eye(shape[0]) + 0.3 * rng.standard_normal(shape)
    low, high = function.sample
    return rng.uniform(low, high, shape)


# ----- finite differences ---------------------------------------------------------------------------

STEP = 1e-6  # central differences: error O(ε²) from curvature, O(1e-16/ε) from rounding


def moved(values: dict, name: str, array: np.ndarray) -> dict:
    """``values`` with ``name`` replaced by ``array``, a float again where the original was a scalar."""
    return {**values, name: float(array) if np.ndim(values[name]) == 0 else array}


def central_difference(function: Callable[[dict], object], values: dict, name: str, direction,
                       step: float = STEP) -> np.ndarray:
    """(f(X + εu) − f(X − εu)) / 2ε with X = ``values[name]`` and u = ``direction``: the slope of
    ``function`` (of all the values) along u, two evaluations whatever the size of X."""
    x = np.asarray(values[name], dtype=np.float64)
    plus = np.asarray(function(moved(values, name, x + step * direction)), dtype=np.float64)
    minus = np.asarray(function(moved(values, name, x - step * direction)), dtype=np.float64)
    return (plus - minus) / (2.0 * step)


def difference_jacobian(function: Callable[[dict], object], values: dict, name: str,
                        step: float = STEP) -> np.ndarray:
    """J with shape S_Y + S_X, J[i…, j…] = ∂Y[i…]/∂X[j…] by central differences, entry by entry of
    X = ``values[name]``; the step for each entry is ``step · max(1, |x|)``, relative for large
    entries."""
    x = np.asarray(values[name], dtype=np.float64)
    y = np.asarray(function(values), dtype=np.float64)
    jacobian = np.zeros(y.shape + x.shape)
    for index in np.ndindex(*x.shape):
        unit = np.zeros(x.shape)
        unit[index] = 1.0
        jacobian[(Ellipsis,) + index] = central_difference(function, values, name, unit,
                                                           step * max(1.0, abs(float(x[index]))))
    return jacobian
