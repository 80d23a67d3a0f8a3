"""Draw docs/figures/layout-*.png: where each ∂Y[i…]/∂X[j…] lands in every layout.

For each kind of Y (scalar, vector, matrix) and X, the Jacobian J (J[i…, j…] = ∂Y[i…]/∂X[j…])
is built as an array of labels and arranged by matdiff's own layout code (matdiff.engine.layout:
a permutation of J's axes, then a row-major reshape), so the pictures show exactly what
``Derivative.evaluate`` returns. Layouts giving the same arrangement share one panel.

    python docs/make_layout_figures.py      # needs matplotlib
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from matdiff.engine.layout import LAYOUTS, arrange  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = {"scalar": (), "vector": (3,), "matrix": (2, 3)}  # X: x (3) or X (2×3)
Y_KINDS = {"scalar": (), "vector": (2,), "matrix": (2, 2)}  # Y: y (2) or Y (2×2)
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _entry(name: str, index: tuple) -> str:
    return name + "".join(str(i + 1) for i in index).translate(SUBSCRIPTS) if index else name


def labels(y_shape: tuple, x_shape: tuple) -> np.ndarray:
    """J as strings ∂y₁/∂X₂₃ (1-based), shape y_shape + x_shape."""
    y_name = "y" if len(y_shape) < 2 else "Y"
    x_name = "x" if len(x_shape) < 2 else "X"
    J = np.empty(y_shape + x_shape, dtype=object)
    for index in np.ndindex(*(y_shape + x_shape)) if y_shape + x_shape else [()]:
        i, j = index[:len(y_shape)], index[len(y_shape):]
        J[index] = f"∂{_entry(y_name, i)}/∂{_entry(x_name, j)}"
    return J


def arranged(layout: str, y_shape: tuple, x_shape: tuple) -> np.ndarray | None:
    try:
        a = arrange(layout, y_shape, (x_shape,))
    except Exception:  # noqa: BLE001 - gradient of a non-scalar: no picture
        return None
    J = labels(y_shape, x_shape)
    return np.transpose(J, a.permutation).reshape(a.shape) if J.ndim else J.reshape(a.shape)


def draw_grid(axes, grid: np.ndarray, x0: float, y0: float) -> tuple[float, float]:
    """A 0-, 1- or 2-D array of labels as boxes, top-left at (x0, y0); returns its size."""
    matrix = grid.reshape(1, 1) if grid.ndim == 0 else grid.reshape(1, -1) if grid.ndim == 1 else grid
    rows, columns = matrix.shape
    for r in range(rows):
        for c in range(columns):
            axes.add_patch(plt.Rectangle((x0 + c, y0 - r - 1), 1, 1, fill=True, facecolor="#eef5ff",
                                         edgecolor="#246", linewidth=1))
            axes.text(x0 + c + 0.5, y0 - r - 0.5, matrix[r, c], ha="center", va="center", fontsize=7)
    return columns, rows


def draw(axes, array: np.ndarray) -> None:
    """Up to 2 axes as one grid; a third axis as slices side by side; a fourth as a grid of grids."""
    if array.ndim <= 2:
        width, height = draw_grid(axes, array, 0, 0)
    elif array.ndim == 3:
        width, height = 0, 0
        for k in range(array.shape[0]):
            w, h = draw_grid(axes, array[k], width, 0)
            axes.text(width + w / 2, 0.25, f"[{k + 1},:,:]", ha="center", fontsize=7, color="#a40")
            width, height = width + w + 0.6, max(height, h)
    else:
        width, height = 0, 0
        for k in range(array.shape[0]):
            row_width = 0
            for m in range(array.shape[1]):
                w, h = draw_grid(axes, array[k, m], row_width, -height)
                axes.text(row_width + w / 2, -height + 0.25, f"[{k + 1},{m + 1},:,:]", ha="center", fontsize=7,
                          color="#a40")
                row_width += w + 0.6
            width, height = max(width, row_width), height + h + 0.8
    axes.set_xlim(-0.2, max(width, 1) + 0.2)
    axes.set_ylim(-max(height, 1) - 0.2, 0.8)
    axes.set_aspect("equal")
    axes.axis("off")


def figure(y_kind: str, x_kind: str) -> str:
    y_shape, x_shape = Y_KINDS[y_kind], KINDS[x_kind]
    panels: list[tuple[list[str], np.ndarray]] = []
    for layout in LAYOUTS:
        array = arranged(layout, y_shape, x_shape)
        if array is None:
            continue
        for names, seen in panels:
            if seen.shape == array.shape and np.array_equal(seen, array):
                names.append(layout)
                break
        else:
            panels.append(([layout], array))
    widths = [max(2.0, 1.25 * (a.shape[-1] if a.ndim else 1) * (a.shape[0] if a.ndim == 3 else 1)
                  * (a.shape[1] if a.ndim == 4 else 1)) for _, a in panels]
    heights = [1.0 + 0.55 * ((a.shape[-2] if a.ndim >= 2 else 1) * (a.shape[0] if a.ndim == 4 else 1)) for _, a in panels]
    fig, axes_list = plt.subplots(1, len(panels), figsize=(sum(widths) + 0.5, max(heights) + 0.6),
                                  gridspec_kw={"width_ratios": widths}, squeeze=False)
    for axes, (names, array) in zip(axes_list[0], panels):
        draw(axes, array)
        shape = "×".join(map(str, array.shape)) if array.ndim else "()"
        axes.set_title(f"{', '.join(names)}\nshape ({shape})", fontsize=8)
    y_text = {"scalar": "scalar y", "vector": "vector y (m=2)", "matrix": "matrix Y (2×2)"}[y_kind]
    x_text = {"scalar": "scalar x", "vector": "vector x (n=3)", "matrix": "matrix X (2×3)"}[x_kind]
    fig.suptitle(f"{y_text} by {x_text}", fontsize=10, y=1.0 + 0.5 / (max(heights) + 0.6))
    name = f"layout-{y_kind}-by-{x_kind}.png"
    fig.savefig(os.path.join(HERE, "figures", name), dpi=110, bbox_inches="tight")
    plt.close(fig)
    return name


def main() -> None:
    os.makedirs(os.path.join(HERE, "figures"), exist_ok=True)
    for y_kind in Y_KINDS:
        for x_kind in KINDS:
            print(figure(y_kind, x_kind))


if __name__ == "__main__":
    main()
