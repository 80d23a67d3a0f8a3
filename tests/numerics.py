"""Numeric helpers for checking matdiff derivatives against finite differences.

Random values and central differences are matdiff's own (:mod:`matdiff.engine.sampling`, the
one generator every check uses); this module binds them to expressions. Everything else is
independent of the engine except the two public entry points it exercises: ``md.evaluate``
(to get the value of an expression, for finite differences) and ``md.diff`` (the thing under
test). In particular :func:`arrange` is a separate implementation of the layout table
(SPEC §2), written from the table alone.
"""

from __future__ import annotations

import os
import re
import sys
import zlib

import numpy as np

try:  # the package may not be installed (src layout); fall back to the checkout
    import matdiff as md
    from matdiff.engine import sampling
except ImportError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))
    import matdiff as md
    from matdiff.engine import sampling

ALL_LAYOUTS = ("numerator", "denominator", "gradient", "jacobian", "vec")
ALL = ALL_LAYOUTS

# Functions whose arguments must stay in a domain (positive, invertible ...).
_DOMAIN_FUNCTIONS = ("log", "sqrt", "logdet", "det", "inv")

# Sizes given, in order, to symbolic dimensions nobody bound explicitly:
# all different, so that a swapped index shows up as a shape error or a wrong number.
_DEFAULT_DIM_SIZES = (3, 4, 2, 5, 6, 7)


# --------------------------------------------------------------------------------------
# shapes and values
# --------------------------------------------------------------------------------------


def rng_for(text):
    """A generator seeded by ``text`` (a case's id, an expression): a case always gets the same values,
    and adding a case does not change the others'."""
    return np.random.default_rng(zlib.crc32(text.encode()))


def bind_dimensions(shapes, dims=None):
    """Map every symbolic dimension name used in ``shapes`` to a concrete size."""
    bound = dict(dims or {})
    sizes = iter(s for s in _DEFAULT_DIM_SIZES if s not in bound.values())
    for shape in shapes.values():
        for dim in tuple(shape):
            if isinstance(dim, str) and dim not in bound:
                bound[dim] = next(sizes)
    return bound


def concrete_shape(shape, dims):
    """A shape with symbolic dimension names replaced by their sizes."""
    return tuple(int(dims[d]) if isinstance(d, str) else int(d) for d in tuple(shape))


def _names_in(expr):
    return set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", expr))


def default_hints(expr, shapes):
    """Guess a safe kind of value for each name from the functions the expression uses.

    When any of log/sqrt/logdet/det/inv occurs, square matrices get well-conditioned
    values with a positive determinant (deliberately not symmetric, so that a missing
    transpose still shows up) and every other non-square array / scalar gets positive
    entries.
    """
    hints = {}
    if not any(re.search(rf"\b{f}\s*\(", expr) for f in _DOMAIN_FUNCTIONS):
        return hints
    for name, shape in shapes.items():
        shape = tuple(shape)
        if len(shape) == 2 and shape[0] == shape[1]:
            hints[name] = "posdet"
        else:
            hints[name] = "positive"
    return hints


def _value_of_kind(kind, shape, rng):
    """A value drawn one of matdiff's ways (:data:`matdiff.engine.sampling.DRAWS`): a float
    for a scalar, a float64 array of exactly the shape otherwise."""
    value = sampling.draw(kind or "normal", tuple(shape), rng)
    return float(value) if tuple(shape) == () else np.asarray(value, dtype=np.float64)


def random_values(shapes, rng, hint=None, dims=None, expr=None):
    """Random float64 values for ``shapes`` (a name -> shape mapping).

    ``hint`` maps names to a kind: "normal" (default), "positive", "small", "unit",
    "away", "spd", "symmetric", "diagonal", "posdet", "invertible". Without a hint for a name and with ``expr``
    given, :func:`default_hints` picks safe values for names under log/sqrt/det/inv.
    Symbolic dimensions (strings) are bound through ``dims`` (or get distinct defaults).
    Scalars come back as Python floats, everything else as arrays of exactly the shape.
    """
    dims = bind_dimensions(shapes, dims)
    hints = {}
    if expr is not None:
        hints.update(default_hints(expr, {n: concrete_shape(s, dims) for n, s in shapes.items()}))
    hints.update(hint or {})
    return {name: _value_of_kind(hints.get(name), concrete_shape(shape, dims), rng)
            for name, shape in shapes.items()}


# --------------------------------------------------------------------------------------
# finite differences
# --------------------------------------------------------------------------------------


def evaluate_value(expr, values, shapes):
    """``md.evaluate`` as a float64 numpy array."""
    return np.asarray(md.evaluate(expr, values, shapes=shapes), dtype=np.float64)


def finite_difference_jacobian(expr, wrt, values, shapes, step=sampling.STEP):
    """J with shape S_Y + S_X, J[i..., j...] = dY[i...]/dX[j...], by matdiff's central differences
    (:func:`matdiff.engine.sampling.difference_jacobian`) of ``md.evaluate``.

    S_Y is the shape ``md.evaluate`` returns, S_X the shape of ``values[wrt]``. The step
    for each entry is ``step * max(1, |x|)``.
    """
    return sampling.difference_jacobian(lambda point: evaluate_value(expr, point, shapes), values, wrt, step)


# --------------------------------------------------------------------------------------
# the layout table (SPEC §2), independently
# --------------------------------------------------------------------------------------


def is_scalar_shape(shape):
    """A result whose every dimension is 1 (or that has none) is a scalar for layout purposes."""
    return all(int(d) == 1 for d in tuple(shape))


def _vec(a):
    """Column-stacking vec of a 0-, 1- or 2-d array."""
    a = np.asarray(a)
    if a.ndim <= 1:
        return a.reshape(-1)
    assert a.ndim == 2
    return a.T.reshape(-1)  # columns one after another


def arrange(J, layout, y_shape, x_shape):
    """Arrange the full jacobian tensor J (shape y_shape + x_shape) per the SPEC §2 table.

    ``y_shape`` is the shape of the value (as evaluated); when all its dimensions are 1
    it is treated as a scalar. ``x_shape`` is the shape of the variable.
    """
    y_shape, x_shape = tuple(int(d) for d in y_shape), tuple(int(d) for d in x_shape)
    J = np.asarray(J, dtype=np.float64)
    assert J.shape == y_shape + x_shape, (J.shape, y_shape, x_shape)
    y_scalar = is_scalar_shape(y_shape)
    ey = () if y_scalar else y_shape  # effective shape of Y
    J = J.reshape(ey + x_shape)
    ny, nx = len(ey), len(x_shape)
    if ny > 2 or nx > 2:
        raise ValueError("only scalars, vectors and matrices")

    if layout == "jacobian":
        return J.copy()

    if layout == "vec":
        size_y = int(np.prod(ey, dtype=int))
        size_x = int(np.prod(x_shape, dtype=int))
        out = np.zeros((size_y, size_x))
        # explicit loops: out[alpha, beta] = d vec(Y)_alpha / d vec(X)_beta
        for yi in np.ndindex(*ey):
            alpha = _vec_index(yi, ey)
            for xi in np.ndindex(*x_shape):
                beta = _vec_index(xi, x_shape)
                out[alpha, beta] = J[yi + xi]
        return out

    if layout == "gradient":
        if not y_scalar:
            raise ValueError("gradient layout is for a scalar Y only")
        return J.copy()  # shape S_X

    if layout not in ("numerator", "denominator"):
        raise ValueError(f"unknown layout {layout!r}")
    num = layout == "numerator"

    if ny == 0:  # scalar Y
        if nx == 0:
            return J.copy()
        if nx == 1:
            n = x_shape[0]
            return J.reshape(1, n) if num else J.reshape(n, 1)
        return J.T.copy() if num else J.copy()  # (q, p) / (p, q)

    if ny == 1:  # vector Y (m)
        m = ey[0]
        if nx == 0:
            return J.reshape(m, 1) if num else J.reshape(1, m)
        if nx == 1:
            return J.copy() if num else J.T.copy()  # (m, n) / (n, m)
        # matrix X (p, q): numerator (m, p, q), denominator (p, q, m)
        return J.copy() if num else np.transpose(J, (1, 2, 0)).copy()

    # matrix Y (a, b)
    if nx == 0:
        return J.copy()  # (a, b) in both
    if nx == 1:
        return J.copy() if num else np.transpose(J, (2, 0, 1)).copy()  # (a,b,n) / (n,a,b)
    return J.copy() if num else np.transpose(J, (2, 3, 0, 1)).copy()  # (a,b,p,q) / (p,q,a,b)


def _vec_index(idx, shape):
    """Position of entry ``idx`` of an array of ``shape`` in its column-stacking vec."""
    if len(shape) == 0:
        return 0
    if len(shape) == 1:
        return idx[0]
    return idx[0] + shape[0] * idx[1]


def expected_shape(layout, y_shape, x_shape):
    """The shape the SPEC §2 table prescribes (without computing anything)."""
    J = np.zeros(tuple(y_shape) + tuple(x_shape))
    return arrange(J, layout, y_shape, x_shape).shape


# --------------------------------------------------------------------------------------
# comparing
# --------------------------------------------------------------------------------------


def _resolve_dim(dim, dims):
    """A dimension from ``Derivative.shape``: an int, a name, or a simple product like 'm*n'."""
    if isinstance(dim, (int, np.integer)):
        return int(dim)
    text = str(dim)
    if re.fullmatch(r"\s*\d+\s*", text):
        return int(text)
    expr = re.sub(r"[A-Za-z_][A-Za-z_0-9]*", lambda m: str(dims[m.group(0)]) if m.group(0) in dims else "?", text)
    expr = expr.replace("·", "*").replace("×", "*")
    if not re.fullmatch(r"[\d\s*+\-()]+", expr):
        raise AssertionError(f"cannot resolve dimension {dim!r} of Derivative.shape with {dims}")
    return int(eval(expr, {"__builtins__": {}}, {}))  # digits and * + - ( ) only


def resolve_shape(shape, dims):
    return tuple(_resolve_dim(d, dims) for d in tuple(shape))


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, what=""):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale, err_msg=what)


def assert_derivative(expr, wrt, shapes, layouts=ALL, values=None, *, hint=None, dims=None, rng=None,
                      rtol=1e-5, atol=1e-6, check_text=True):
    """Check ``md.diff(expr, wrt, shapes, layout)`` against central finite differences.

    For every layout: the evaluated derivative equals :func:`arrange` of the FD jacobian;
    ``d.shape`` is the evaluated array's shape; when ``d.text`` is not None, evaluating it
    with ``md.evaluate`` gives the same numbers. For 'gradient' with a non-scalar Y,
    asserts that md.MatdiffError is raised. Returns (values, {layout: array}).
    """
    if rng is None:
        rng = rng_for(f"{expr}|{wrt}")
    dims = bind_dimensions(shapes, dims)
    if values is None:
        values = random_values(shapes, rng, hint=hint, dims=dims, expr=expr)
    y0 = evaluate_value(expr, values, shapes)
    assert np.all(np.isfinite(y0)), f"{expr}: value not finite at the test point: {y0}"
    x_shape = np.shape(values[wrt])
    J = finite_difference_jacobian(expr, wrt, values, shapes)
    results = {}
    for layout in layouts:
        ctx = f"d({expr})/d{wrt} [{layout}] shapes={shapes}"
        if layout == "gradient" and not is_scalar_shape(y0.shape):
            try:
                md.diff(expr, wrt=wrt, shapes=shapes, layout="gradient").evaluate(values)
            except md.MatdiffError:
                pass
            else:
                raise AssertionError(f"{ctx}: gradient of a non-scalar {y0.shape} should raise MatdiffError")
            continue
        d = md.diff(expr, wrt=wrt, shapes=shapes, layout=layout)
        got = np.asarray(d.evaluate(values), dtype=np.float64)
        want = arrange(J, layout, y0.shape, x_shape)
        assert got.shape == want.shape, (
            f"{ctx}: evaluate() shape {got.shape}, the layout table says {want.shape}")
        assert_close(got, want, rtol=rtol, atol=atol, what=f"{ctx}: derivative vs finite differences")
        declared = resolve_shape(d.shape, dims)
        assert declared == got.shape, f"{ctx}: d.shape {d.shape} -> {declared} but evaluate() gave {got.shape}"
        results[layout] = (d, got)
    # the printed forms, once every layout's numbers are known to be right
    if check_text:
        for layout, (d, got) in results.items():
            if d.text is None:
                continue
            ctx = f"d({expr})/d{wrt} [{layout}] shapes={shapes}"
            try:
                txt = evaluate_value(d.text, values, shapes)
            except md.MatdiffError as err:
                raise AssertionError(f"{ctx}: d.text {d.text!r} does not evaluate: {err}") from err
            assert txt.size == got.size, (
                f"{ctx}: d.text {d.text!r} evaluates to shape {txt.shape}, derivative is {got.shape}")
            assert_close(np.reshape(txt, got.shape), got, rtol=rtol, atol=atol,
                         what=f"{ctx}: md.evaluate(d.text={d.text!r})")
    return values, {layout: got for layout, (d, got) in results.items()}
