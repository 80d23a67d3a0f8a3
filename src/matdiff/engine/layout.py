"""Layouts: how the Jacobian tensor J = ∂Y/∂X is arranged.

J has shape S_Y + S_X with J[i…, j…] = ∂Y[i…]/∂X[j…]. Each layout is a
permutation of J's axes followed by a reshape; this module computes both, so the
same arrangement serves numbers, matrix text and index notation. The table:

=========  ==========  ===========  ==============
Y \\ X      scalar      vector (n)   matrix (p×q)
=========  ==========  ===========  ==============
numerator  s: ()       (1, n)       (q, p)
           v: (m, 1)   (m, n)       (m, p, q)
           M: (a, b)   (a, b, n)    (a, b, p, q)
denominat. s: ()       (n, 1)       (p, q)
           v: (1, m)   (n, m)       (p, q, m)
           M: (a, b)   (n, a, b)    (p, q, a, b)
=========  ==========  ===========  ==============

gradient (scalar Y only) is S_X; jacobian is J; vec is (size Y, size X) with
both vectorised by stacking columns. For derivatives of order two and up,
numerator, denominator, gradient and jacobian all give S_Y + S_X1 + S_X2 + …,
and vec gives (size Y, size X1, size X2, …).
"""

from __future__ import annotations

from dataclasses import dataclass

from matdiff.errors import LayoutError
from matdiff.engine.ir import Tensor, dim_product, is_all_ones, reshape, transpose
from matdiff.language.shapes import describe_shape

LAYOUTS = ("numerator", "denominator", "gradient", "jacobian", "vec")


@dataclass(frozen=True)
class Arrangement:
    """J (already reshaped to ``y_shape + x_shapes``) → axes ``permutation`` → reshape to ``shape``."""

    layout: str
    y_shape: tuple
    x_shapes: tuple
    permutation: tuple
    shape: tuple

    @property
    def merged(self) -> bool:
        """True for vec, whose axes each merge several of J's."""
        return self.layout == "vec"


def layout_y_shape(surface: tuple) -> tuple:
    """A result whose every dimension is 1 is a scalar for layout purposes."""
    return () if is_all_ones(surface) else surface


def arrange(layout: str, y_shape: tuple, x_shapes: tuple) -> Arrangement:
    if layout not in LAYOUTS:
        raise LayoutError(f"unknown layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    ky = len(y_shape)
    x_axes, start = [], ky
    for shape in x_shapes:
        x_axes.append(tuple(range(start, start + len(shape))))
        start += len(shape)
    y_axes = tuple(range(ky))
    identity = tuple(range(start))
    all_x = tuple(d for shape in x_shapes for d in shape)
    if layout == "gradient" and ky:
        shown = describe_shape(y_shape)
        raise LayoutError(f"the gradient layout is for a scalar expression, and this one is {shown}; "
                          "use numerator, denominator, jacobian or vec")
    if layout == "vec":
        permutation = tuple(reversed(y_axes)) + tuple(a for axes in x_axes for a in reversed(axes))
        shape = (dim_product(y_shape),) + tuple(dim_product(s) for s in x_shapes)
        return Arrangement(layout, y_shape, x_shapes, permutation, shape)
    if layout in ("gradient", "jacobian") or len(x_shapes) > 1:
        return Arrangement(layout, y_shape, x_shapes, identity, y_shape + all_x)
    (x_shape,) = x_shapes
    kx = len(x_shape)
    if layout == "numerator":
        if ky == 0 and kx == 1:
            return Arrangement(layout, y_shape, x_shapes, identity, (1,) + x_shape)
        if ky == 0 and kx == 2:
            return Arrangement(layout, y_shape, x_shapes, (1, 0), (x_shape[1], x_shape[0]))
        if ky == 1 and kx == 0:
            return Arrangement(layout, y_shape, x_shapes, identity, y_shape + (1,))
        return Arrangement(layout, y_shape, x_shapes, identity, y_shape + x_shape)
    # denominator: X's axes first, then Y's
    if ky == 0 and kx == 1:
        return Arrangement(layout, y_shape, x_shapes, identity, x_shape + (1,))
    if ky == 1 and kx == 0:
        return Arrangement(layout, y_shape, x_shapes, identity, (1,) + y_shape)
    permutation = x_axes[0] + y_axes
    return Arrangement(layout, y_shape, x_shapes, permutation, x_shape + y_shape)


def apply_arrangement(jacobian: Tensor, arrangement: Arrangement) -> Tensor:
    """The IR of J arranged in the layout (J must already have shape y_shape + x_shapes)."""
    node = reshape(jacobian, arrangement.y_shape + tuple(d for s in arrangement.x_shapes for d in s))
    if arrangement.permutation != tuple(range(node.rank)):
        node = transpose(node, arrangement.permutation)
    return reshape(node, arrangement.shape)
