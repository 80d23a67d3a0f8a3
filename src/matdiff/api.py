"""The public Python API (SPEC §3): ``diff``, ``evaluate`` and the ``Derivative`` they return.

This module only wires the pipeline together — parse, lower, differentiate,
simplify, arrange, print — and guarantees the error contract: whatever the
input, a caller sees a result or a :class:`MatdiffError`.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from functools import cached_property

import numpy as np

from matdiff import ir
from matdiff.differentiate import jacobian
from matdiff.errors import LimitError, MatdiffError, UnknownNameError
from matdiff.evaluate import evaluate as evaluate_ir
from matdiff.indexform import index_notation
from matdiff.layout import LAYOUTS, Arrangement, apply_arrangement, arrange, layout_y_shape
from matdiff.lowering import Lowered, Value, infer_shapes as _infer_shapes, lower
from matdiff.matrixform import Recovery, latex as matrix_latex, shape_text, text as matrix_text
from matdiff.simplify import simplify
from matdiff.syntax import Program, parse


class InternalError(MatdiffError):
    """A bug in matdiff, reported as a MatdiffError so callers' contracts hold."""


@contextmanager
def _guarded(source: str | None = None):
    """Deep inputs may recurse in the printers; out-of-bounds work is a LimitError, and with
    MATDIFF_STRICT=1 (the test suite) internal bugs surface as themselves."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, 20_000))
    try:
        yield
    except MatdiffError as error:
        raise error.located(None, source) from None
    except RecursionError:
        raise LimitError("the expression is too deeply nested to process", None, source) from None
    except MemoryError:
        raise LimitError("the expression needs more memory than is available", None, source) from None
    except Exception as error:  # noqa: BLE001 - the contract: never a bare exception
        if os.environ.get("MATDIFF_STRICT"):
            raise
        raise InternalError(f"internal error ({type(error).__name__}: {error}); please report this input",
                            None, source) from error
    finally:
        sys.setrecursionlimit(previous)


def _wrt_names(wrt) -> tuple[str, ...]:
    names = (wrt,) if isinstance(wrt, str) else tuple(wrt) if isinstance(wrt, (list, tuple)) else None
    if not names or not all(isinstance(n, str) and n.isidentifier() for n in names):
        raise MatdiffError(f"wrt must name a variable or a tuple of them, not {wrt!r}")
    return names


def _surface(value: Value) -> tuple:
    return value.surface()


class Derivative:
    """∂Y/∂X in one layout: its matrix form, index form, shape and numbers."""

    def __init__(self, *, program: Program, lowered: Lowered, wrt: tuple, layout: str, arrangement: Arrangement,
                 jacobian: ir.Tensor, arranged: ir.Tensor, notes: list):
        self.program = program
        self.source = program.source
        self.lowered = lowered
        self.wrt = wrt
        self.layout = layout
        self.arrangement = arrangement
        self.jacobian = jacobian  # J = ∂Y/∂X, shape y_shape + x_shapes
        self.tensor = arranged  # J arranged in the layout
        self.notes = notes
        self.order = len(wrt)

    # -- shapes --

    @property
    def shape(self) -> tuple:
        return self.arrangement.shape

    @property
    def input_variables(self) -> dict[str, ir.Tensor]:
        """The program's inputs (their values are what ``evaluate`` takes)."""
        return {name: value.node for name, value in self.lowered.variables.items()}

    # -- printed forms --

    @cached_property
    def matrix(self):
        """The matrix-notation tree, or None when no matrix form exists in this layout."""
        with _guarded(self.source):
            return Recovery()(self.tensor)

    @property
    def text(self) -> str | None:
        """Matrix notation in the input language, re-parseable by ``md.evaluate``; None if none exists."""
        return None if self.matrix is None else matrix_text(self.matrix)

    @cached_property
    def index(self) -> str:
        """Index notation, always available: the arranged entry, then the Jacobian entry's formula."""
        with _guarded(self.source):
            return self._index(latex=False)

    @cached_property
    def latex(self) -> str:
        with _guarded(self.source):
            if self.matrix is not None:
                return matrix_latex(self.matrix)
            return self._index(latex=True)

    def _index(self, *, latex: bool) -> str:
        a = self.arrangement
        letters = iter("ijklmnpqrstuvw")
        y_indices = [next(letters) for _ in a.y_shape]
        x_indices = [[next(letters) for _ in s] for s in a.x_shapes]
        body = index_notation(self.jacobian, y_indices + [i for xs in x_indices for i in xs], latex=latex)
        y_name = self._y_name()

        def entry(name, indices):
            if not indices:
                return name
            return f"{name}_{{{''.join(indices)}}}" if latex else f"{name}[{','.join(indices)}]"

        numerator = entry(y_name, y_indices)
        partial = r"\partial " if latex else "∂"
        denominator = " ".join(partial + entry(x, xs) for x, xs in zip(self.wrt, x_indices))
        order = f"^{len(self.wrt)}" if len(self.wrt) > 1 else ""
        if latex:
            jacobian_entry = f"\\frac{{\\partial{order} {numerator}}}{{{denominator}}}"
        else:
            jacobian_entry = f"∂{order}{numerator}/{denominator.replace(' ', '')}"
        all_indices = y_indices + [i for xs in x_indices for i in xs]
        if a.merged:
            arranged = "D_{\\alpha\\beta}" if latex else "D[α,β]"
            how = " (α, β: column-stacked vec indices)"
        else:
            permuted = [all_indices[p] for p in a.permutation] if all_indices else []
            arranged = entry("D", permuted) if permuted else "D"
            how = ""
        return f"{arranged} = {jacobian_entry} = {body}{how}"

    def _y_name(self) -> str:
        statements = self.program.statements
        if len(statements) > 1:
            return "f"
        return "y" if not layout_y_shape(self.lowered.value.surface()) else "Y"

    # -- numbers --

    def evaluate(self, values: dict) -> np.ndarray:
        """The derivative's numbers at ``values`` (name → array), in this layout's shape."""
        with _guarded(self.source):
            needed = ir.variables(self.tensor)
            known = {name: node for name, node in self.input_variables.items() if name in values or name in needed}
            return evaluate_ir(self.tensor, values, variables=known, positions=self.lowered.positions,
                               source=self.source)

    # -- code --

    def compile(self, backend: str = "numpy"):
        """A fast callable(**values) → the same array as ``evaluate``, for numpy, jax or torch."""
        from matdiff.codegen import compile_derivative

        return compile_derivative(self, backend)

    def code(self, backend: str = "numpy") -> str:
        """Standalone source (no matdiff import) of the function ``compile`` returns."""
        from matdiff.codegen import derivative_source

        return derivative_source(self, backend)

    # -- notebooks --

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    def __repr__(self) -> str:
        shown = self.text if self.text is not None else self.index
        return f"<Derivative {self.layout} {shape_text(self.shape)}: {shown}>"

    def __str__(self) -> str:
        return self.text if self.text is not None else self.index


def diff(expression: str, wrt, shapes: dict | None = None, layout: str = "numerator") -> Derivative:
    """∂expression/∂wrt in ``layout`` (SPEC §2); ``wrt`` a name, or a tuple for higher orders."""
    source = expression if isinstance(expression, str) else None
    with _guarded(source):
        program = parse(expression)
        names = _wrt_names(wrt)
        if layout not in LAYOUTS:
            raise MatdiffError(f"unknown layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
        assigned = {s.target for s in program.statements if s.target}
        cuts = {n for n in names if n in assigned}
        if len(cuts) > 1:
            raise MatdiffError("differentiate by at most one intermediate at a time")
        cut = next(iter(cuts), None)
        lowered = lower(program, shapes, cut=cut)
        y = lowered.value
        variables = []
        for name in names:
            if name == cut:
                variables.append(Value(ir.var(name, lowered.cut_definition.node.shape), lowered.cut_definition.row))
            elif name in lowered.variables:
                variables.append(lowered.variables[name])
            elif shapes and name in shapes:
                from matdiff.lowering import normalize_shape

                variables.append(Value(ir.var(name, normalize_shape(name, shapes[name]))))
            else:
                occurring = sorted(set(lowered.variables) | assigned)
                raise UnknownNameError(f"{name} does not occur in the expression (names here: {', '.join(occurring)})",
                                       None, source)
        derivative = y.node
        for variable in variables:
            derivative = simplify(jacobian(derivative, variable.node))
        if cut is not None:
            cut_variable = ir.var(cut, lowered.cut_definition.node.shape)
            from matdiff.primitives import substitute

            derivative = substitute(derivative, {id(cut_variable): lowered.cut_definition.node})
        y_shape = layout_y_shape(y.surface())
        x_shapes = tuple(v.surface() for v in variables)
        arrangement = arrange(layout, y_shape, x_shapes)
        reshaped = ir.reshape(derivative, y_shape + tuple(d for s in x_shapes for d in s))
        arranged = simplify(apply_arrangement(reshaped, arrangement))
        notes = list(lowered.notes)
        return Derivative(program=program, lowered=lowered, wrt=names, layout=layout, arrangement=arrangement,
                          jacobian=simplify(reshaped), arranged=arranged, notes=notes)


def _shapes_from_values(values: dict, shapes: dict | None) -> dict:
    shapes = dict(shapes or {})
    for name, value in values.items():
        if name not in shapes:
            array = np.asarray(value)
            if array.ndim > 2:
                raise MatdiffError(f"the value of {name} has {array.ndim} dimensions; use scalars, vectors, matrices")
            shapes[name] = array.shape
    return shapes


def evaluate(program: str, values: dict | None = None, shapes: dict | None = None):
    """The numeric value of a program at ``values``; shapes default to the values' own."""
    values = dict(values or {})
    source = program if isinstance(program, str) else None
    with _guarded(source):
        parsed = parse(program)
        lowered = lower(parsed, _shapes_from_values(values, shapes))
        result = evaluate_ir(lowered.value.node, values, positions=lowered.positions, source=source,
                             variables={n: v.node for n, v in lowered.variables.items()})
        surface = lowered.value.surface()
        if ir.is_all_ones(surface):
            return np.float64(np.asarray(result).reshape(()))
        return np.asarray(result).reshape(surface) if surface and surface[0] == 1 and lowered.value.row \
            else np.asarray(result)


def infer_shapes(expression: str, shapes: dict | None = None) -> dict:
    """The shape of each input of ``expression``: declared, or inferred (a–g scalar, h–z vector,
    A–Z matrix, dimensions by unification)."""
    with _guarded(expression if isinstance(expression, str) else None):
        return _infer_shapes(parse(expression), shapes)
