"""The public Python API: ``diff``, ``evaluate`` and the ``Derivative`` they return (``gradients``,
the backward pass, is in :mod:`matdiff.backward`).

This module only wires the pipeline together — parse, lower, differentiate,
simplify, arrange, print — and guarantees the error contract: whatever the
input, a caller sees a result or a :class:`MatdiffError`.
"""

from __future__ import annotations

# NumPy and the evaluator load when numbers are first asked for: `matdiff diff` needs neither.

from functools import cached_property
from typing import TYPE_CHECKING


from matdiff.engine import ir
from matdiff.engine.differentiate import jacobian
from matdiff.guarded import guarded
from matdiff.errors import LayoutError, MatdiffError, UnknownNameError
from matdiff.engine.layout import LAYOUTS, Arrangement, apply_arrangement, arrange, layout_y_shape
from matdiff.engine.lowering import Lowered, Value, infer_shapes as _infer_shapes, lower
from matdiff.notation.bindings import MatrixProgram
from matdiff.notation.forms import DerivativeForms
from matdiff.notation.identities import normal_form
from matdiff.notation.printing import FORMS
from matdiff.engine.undeclared import undeclared_notes
from matdiff.language.shapes import as_mapping, normalize_shape, shape_text
from matdiff.engine.simplify import simplify
from matdiff.engine.structure import CONVENTIONS, in_convention
from matdiff.language.assumptions import Assumptions
from matdiff.language.syntax import Program, is_name, parse

if TYPE_CHECKING:  # numpy is imported on first use (start-up time)
    import numpy as np


def wrt_names(wrt) -> tuple[str, ...]:
    names = (wrt,) if isinstance(wrt, str) else tuple(wrt) if isinstance(wrt, (list, tuple)) else None
    if not names or not all(is_name(n) for n in names):
        raise MatdiffError(f"wrt must name a variable or a tuple of them, not {wrt!r}")
    return names


class Derivative:
    """∂Y/∂X in one layout: its matrix form, index form, shape and numbers."""

    def __init__(self, *, program: Program, lowered: Lowered, wrt: tuple, layout: str, arrangement: Arrangement,
                 jacobian: ir.Tensor, arranged: ir.Tensor, notes: list, declared: tuple = (),
                 assume: Assumptions = Assumptions(), convention: str = "unconstrained"):
        self.declared = declared  # names the caller gave shapes for: never reused for intermediates
        self._shared: MatrixProgram | None = None  # set by md.gradients: one set of bindings for all
        self.assume = assume
        self.convention = convention
        self.program = program
        self.source = program.source
        self.lowered = lowered
        self.wrt = wrt
        self.layout = layout
        self.arrangement = arrangement
        self.jacobian = jacobian  # J = ∂Y/∂X, shape y_shape + x_shapes
        self.tensor = arranged  # J arranged in the layout
        self._notes = notes
        self.order = len(wrt)

    # -- shapes --

    @property
    def shape(self) -> tuple:
        return self.arrangement.shape

    @property
    def notes(self) -> list[str]:
        """What to know to read the answer: the shape taken for undeclared names, the convention, and
        how the printed form reads (a numerator form that is the gradient transposed)."""
        if self.layout != "numerator" or self.order != 1 or self.arrangement.y_shape:
            return list(self._notes)  # (only then is a printed form read in a particular way)
        program = self.matrix_program
        return list(self._notes) + ([program.note] if program is not None and program.note else [])

    @property
    def input_variables(self) -> dict[str, ir.Tensor]:
        """The program's inputs (their values are what ``evaluate`` takes)."""
        return {name: value.node for name, value in self.lowered.variables.items()}

    # -- printed forms (computed in the notation layer) --

    @cached_property
    def _forms(self) -> DerivativeForms:
        return DerivativeForms(self)

    @cached_property
    def matrix_program(self) -> MatrixProgram | None:
        """The compact matrix form: shared subexpressions as assignments, then the value;
        None when no matrix form exists in this layout."""
        if self._shared is not None:
            return self._shared
        with guarded(self.source):
            return self._forms.matrix_program(vec=self.layout == "vec")

    @cached_property
    def text(self) -> str | None:
        """Matrix notation in the input language, re-parseable by ``md.evaluate`` (with the same
        shapes; possibly a program ``a2 = …; …; value``); None if none exists."""
        with guarded(self.source):  # printing recurses as deep as the expression
            program = self.matrix_program
            return None if program is None or not program.in_language else program.text

    @cached_property
    def vec_text(self) -> str | None:
        """∂vec(Y)/∂vec(X) as matrix notation (Kronecker products), when one exists."""
        if self.layout == "vec":
            return self.text
        with guarded(self.source):
            program = self._forms.matrix_program(vec=True)
            return None if program is None or not program.in_language else program.text

    @property
    def reason(self) -> str | None:
        """Why there is no matrix form in this layout, in one line; None when there is one."""
        if self.text is not None:
            return None
        with guarded(self.source):
            return self._forms.reason(self.vec_text)

    @cached_property
    def index(self) -> str:
        """Index notation, always available: the arranged entry, then the Jacobian entry's formula."""
        with guarded(self.source):
            return self._forms.index(latex=False)

    @cached_property
    def latex(self) -> str:
        with guarded(self.source):
            return self._forms.latex(self.matrix_program)

    def printed(self, form: str) -> str | None:
        """The matrix form in a registered printed form: ``text``, ``latex``, or one added with
        ``matdiff.notation.printing.register_form`` (its bindings laid out as that form lays out a
        program); None where no matrix form exists (``index`` has the derivative then)."""
        if form in ("text", "latex"):
            return self.text if form == "text" else self.latex
        if form not in FORMS:
            raise MatdiffError(f"unknown printed form {form!r}; known: {', '.join(FORMS)}")
        with guarded(self.source):
            program = self.matrix_program
            return None if program is None else program.printed(form)

    @cached_property
    def equation_latex(self) -> str:
        """:attr:`latex` with its left-hand side always written (∂y/∂W_{1} = h W_{2}): what the web
        page shows."""
        program = self.matrix_program
        if program is None:
            return self.latex  # index notation names its entry already
        with guarded(self.source):
            return program.latex(self._forms.latex_result())

    # -- numbers --

    def evaluate(self, values: dict) -> "np.ndarray":
        """The derivative's numbers at ``values`` (name → array), in this layout's shape."""
        with guarded(self.source):
            values = as_mapping("values", values)
            needed = ir.variables(self.tensor)
            known = {name: node for name, node in self.input_variables.items() if name in values or name in needed}
            from matdiff.engine.numeric import evaluate as evaluate_ir

            return evaluate_ir(self.tensor, values, variables=known, positions=self.lowered.positions,
                               source=self.source, assume=self.assume)

    # -- code --

    def compile(self, backend: str = "numpy", *, with_value: bool = False, check_assumptions: bool = True):
        """A fast callable(**values) → the same array as ``evaluate``, for numpy, jax or torch
        (``with_value``: a pair (value, derivative) sharing their common work). With ``assume``, each
        call checks that the values have the structure the derivative relies on (a ValueError if
        not), unless ``check_assumptions=False``."""
        from matdiff.codegen.sources import compile_derivative

        return compile_derivative(self, backend, with_value=with_value, check_assumptions=check_assumptions)

    def code(self, backend: str = "numpy", *, with_value: bool = False, check: bool = False,
             check_assumptions: bool = True) -> str:
        """Standalone source (no matdiff import) of the function ``compile`` returns; with ``check``,
        a runnable script that prints the value and the derivative at random values and checks the
        derivative against finite differences (exit status 1 if they disagree)."""
        if check:
            from matdiff.codegen.script import check_script

            return check_script(self, backend)
        from matdiff.codegen.sources import derivative_source

        return derivative_source(self, backend, with_value=with_value, check_assumptions=check_assumptions)

    def to_dict(self, fields=None) -> dict:
        """JSON-ready: the fields of :data:`DERIVATIVE_JSON` (all of them, or those named in ``fields``):
        what ``diff --format json`` prints, and what the web API's reply is made of."""
        return {name: _JSON_VALUES[name](self) for name in (DERIVATIVE_JSON if fields is None else fields)}

    # -- interop --

    def to_sympy(self):
        """The matrix form as a SymPy expression over MatrixSymbols (see matdiff.interop.sympy_bridge)."""
        from matdiff.interop.sympy_bridge import to_sympy

        return to_sympy(self)

    # -- notebooks --

    def _repr_latex_(self) -> str:
        return f"$${self.latex}$$"

    def __repr__(self) -> str:
        shown = self.text if self.text is not None else self.index
        return f"<Derivative {self.layout} {shape_text(self.shape)}: {shown}>"

    def __str__(self) -> str:
        return self.text if self.text is not None else self.index


def check_options(layout: str, convention: str) -> None:
    if layout not in LAYOUTS:
        raise LayoutError(f"unknown layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    if convention not in CONVENTIONS:
        raise MatdiffError(f"unknown convention {convention!r}: choose one of {', '.join(CONVENTIONS)}")


# A derivative as JSON, said once: each field of Derivative.to_dict with its JSON schema and meaning. The
# command line's --format json, the web API's reply and its OpenAPI schema are all made from this table.
DERIVATIVE_JSON: dict[str, tuple[dict, str]] = {
    "text": ({"type": ["string", "null"]}, "matrix notation in the input language; null if none exists"),
    "latex": ({"type": "string"}, "LaTeX of the matrix form, else of the index notation"),
    "equation": ({"type": "string"}, "the LaTeX with its left-hand side written: ∂y/∂W_{1} = …"),
    "index": ({"type": ["string", "null"]}, "index (Einstein) notation; null only where it was left out"),
    "shape": ({"type": "array", "items": {"type": ["integer", "string"]}}, "its shape in this layout"),
    "layout": ({"type": "string", "enum": list(LAYOUTS)}, "the layout it is arranged in"),
    "reason": ({"type": ["string", "null"]}, "why there is no matrix form in this layout; null when there is one"),
    "vec_text": ({"type": ["string", "null"]}, "∂vec(Y)/∂vec(X) in Kronecker notation, when one exists"),
    "notes": ({"type": "array", "items": {"type": "string"}}, "how to read it, where that is not plain"),
    "assume": ({"type": "object", "additionalProperties": {"type": "string"}}, "the structures it assumed"),
}
_JSON_VALUES = {
    "text": lambda d: d.text, "latex": lambda d: d.latex, "equation": lambda d: d.equation_latex,
    "index": lambda d: d.index, "shape": lambda d: list(d.shape), "layout": lambda d: d.layout,
    "reason": lambda d: d.reason, "vec_text": lambda d: d.vec_text, "notes": lambda d: list(d.notes),
    "assume": lambda d: d.assume.as_dict(),
}

def variables_of(names: tuple, lowered: Lowered, program: Program, shapes: dict | None, intermediate: str | None,
               source: str | None) -> list[Value]:
    """The Value of each name differentiated by: an input, the ``intermediate``, or a declared
    name the expression does not use (its derivative is zero)."""
    assigned = {s.target for s in program.statements if s.target}
    variables = []
    for name in names:
        if name == intermediate:
            value = lowered.intermediate_value
            assert value is not None  # lower() found the intermediate
            variables.append(Value(ir.var(name, value.node.shape), value.row))
        elif name in lowered.variables:
            variables.append(lowered.variables[name])
        elif shapes and name in shapes:
            variables.append(Value(ir.var(name, normalize_shape(name, shapes[name]))))
        else:
            occurring = sorted(set(lowered.variables) | assigned)
            raise UnknownNameError(f"{name} does not occur in the expression (names here: {', '.join(occurring)})",
                                   None, source)
    return variables


def make_derivative(program: Program, lowered: Lowered, names: tuple, variables: list[Value], derivative: ir.Tensor,
                layout: str, shapes: dict | None, assumptions: Assumptions, convention: str) -> Derivative:
    """The Derivative of ``derivative`` (J, shape y + x…, over the IR) arranged in ``layout``."""
    derivative = lowered.filled_in(derivative)
    y_shape = layout_y_shape(lowered.value.surface())
    x_shapes = tuple(v.surface() for v in variables)
    reshaped = ir.reshape(derivative, y_shape + tuple(d for s in x_shapes for d in s))
    notes = list(lowered.notes)
    reshaped = derivative_in_convention(reshaped, names, x_shapes, len(y_shape), assumptions, convention, notes)
    arrangement = arrange(layout, y_shape, x_shapes)
    arranged = simplify(apply_arrangement(reshaped, arrangement), assumptions)
    return Derivative(program=program, lowered=lowered, wrt=names, layout=layout, arrangement=arrangement,
                      jacobian=simplify(reshaped, assumptions), arranged=arranged, notes=notes,
                      declared=tuple(shapes or ()), assume=assumptions, convention=convention)


# A small first derivative that divides (the 1 ./ s of a log) is put in its normal form before it is
# differentiated again: the elementwise algebra cancelled first (sum(y)·s - y for -y'·log(softmax(z)))
# gives the Hessian the book writes, sum(y)·(diag(s) - s·s'). Others are differentiated as they are:
# the normal form of a deep nest flattens the products whose shared prefixes keep its third
# derivative linear.
SIMPLIFIED_BEFORE_DIFFERENTIATING = 400


def _divides(derivative: ir.Tensor) -> bool:
    nodes = ir.postorder(derivative)
    return len(nodes) <= SIMPLIFIED_BEFORE_DIFFERENTIATING and \
        any(n.op == "constant_power" and n.params[0] < 0 for n in nodes)


def diff(expression: str, wrt, shapes: dict | None = None, layout: str = "numerator", *, assume=None,
         convention: str = "unconstrained") -> Derivative:
    """∂expression/∂wrt in ``layout`` (numerator, denominator, gradient, jacobian or vec); ``wrt`` a name, or a tuple for higher orders.

    ``assume`` maps inputs to structures (``{"S": "symmetric"}``); ``convention`` says what the
    derivative by a structured matrix means (see :data:`matdiff.engine.structure.CONVENTIONS`)."""
    source = expression if isinstance(expression, str) else None
    with guarded(source):
        program = parse(expression)
        names = wrt_names(wrt)
        assumptions = Assumptions.of(assume)
        check_options(layout, convention)
        assigned = {s.target for s in program.statements if s.target}
        intermediates = {n for n in names if n in assigned}
        if len(intermediates) > 1:
            raise MatdiffError("differentiate by at most one intermediate at a time")
        intermediate = next(iter(intermediates), None)
        lowered = lower(program, shapes, intermediate=intermediate, assume=assumptions)
        variables = variables_of(names, lowered, program, shapes, intermediate, source)
        lowered.notes.extend(undeclared_notes(program, shapes, names, lowered, assumptions))
        derivative = lowered.value.node
        fixed = assumptions.without(names)  # structure may rewrite only what is not differentiated again
        for k, variable in enumerate(variables):
            if k and _divides(derivative):
                derivative = normal_form(derivative)  # sum(y)·s - y, not -y ./ s ⊙ …: a Hessian as the book's
            derivative = simplify(jacobian(derivative, variable.node), fixed)
        return make_derivative(program, lowered, names, variables, derivative, layout, shapes, assumptions, convention)


def derivative_in_convention(jacobian: ir.Tensor, names: tuple, x_shapes: tuple, axis: int, assume: Assumptions,
                   convention: str, notes: list) -> ir.Tensor:
    """J with each structured matrix variable's axes put in ``convention``, and a note saying so."""
    structured = [name for name in names if assume.structure_of(name).square]
    if convention != "unconstrained" and not structured:
        raise MatdiffError(f"convention={convention!r} is for a derivative by a symmetric or diagonal matrix; "
                           f"assume one, e.g. assume={{'{names[0]}': 'symmetric'}}")
    for name, shape in zip(names, x_shapes):
        if name in structured:
            jacobian = in_convention(jacobian, axis, convention, diagonal=assume.diagonal(name))
        axis += len(shape)
    for name in dict.fromkeys(structured):
        structure = assume.as_dict()[name]
        if convention == "unconstrained":
            within = "diagonal matrices, G∘I" if assume.diagonal(name) else "symmetric matrices, (G + G')/2"
            notes.append(f"{name} is assumed {structure}: this is the unconstrained derivative G (every entry "
                         f"independent, as autodiff gives); convention='symmetric' gives the gradient within {within}; "
                         "`matdiff explain` compares the conventions")
        else:
            meaning = CONVENTIONS[convention]
            notes.append(f"{name} is assumed {structure}: the {convention} convention, {meaning.formula} "
                         f"({meaning.meaning})")
    return jacobian


def _shapes_from_values(values: dict, shapes: dict | None) -> dict:
    from matdiff.engine.numeric import as_float_array

    shapes = as_mapping("shapes", shapes)
    for name, value in values.items():
        if name not in shapes:
            array = as_float_array(name, value)
            if array.ndim > 2:
                raise MatdiffError(f"the value of {name} has {array.ndim} dimensions; use scalars, vectors, matrices")
            shapes[name] = array.shape
    return shapes


def evaluate(program: str, values: dict | None = None, shapes: dict | None = None, *, assume=None):
    """The numeric value of a program at ``values``; shapes default to the values' own. A value
    that breaks an assumption (``assume={"S": "symmetric"}``) is a ValueMismatchError."""
    import numpy as np

    from matdiff.engine.numeric import evaluate as evaluate_ir

    source = program if isinstance(program, str) else None
    with guarded(source):
        values = as_mapping("values", values)
        parsed = parse(program)
        assumptions = Assumptions.of(assume)
        lowered = lower(parsed, _shapes_from_values(values, shapes), assume=assumptions)
        result = evaluate_ir(lowered.value.node, values, positions=lowered.positions, source=source,
                             variables={n: v.node for n, v in lowered.variables.items()},
                             extra_sizes=declared_sizes(values, shapes), assume=assumptions)
        surface = lowered.value.surface()
        if ir.is_all_ones(surface):
            return np.float64(np.asarray(result).reshape(()))
        return np.asarray(result).reshape((1,) + np.shape(result)) if lowered.value.row else np.asarray(result)


def declared_sizes(values: dict, shapes: dict | None) -> dict:
    """Sizes of symbolic dimensions from the values of declared names the program does not use,
    so that eye(p) means the p of a declared B (n×p) even where B itself does not occur."""
    from matdiff.engine.numeric import as_float_array

    sizes: dict = {}
    for name, spec in as_mapping("shapes", shapes).items():
        if name not in values:
            continue
        shape, actual = normalize_shape(name, spec), as_float_array(name, values[name]).shape
        if len(actual) == len(shape):
            sizes.update((d, n) for d, n in zip(shape, actual) if isinstance(d, str))
    return sizes


def infer_shapes(expression: str, shapes: dict | None = None, *, assume=None) -> dict:
    """The shape of each input of ``expression``: declared, or inferred (a–g scalar, h–z vector,
    A–Z matrix, dimensions by unification; a symmetric, SPD or diagonal input is square)."""
    with guarded(expression if isinstance(expression, str) else None):
        return _infer_shapes(parse(expression), shapes, Assumptions.of(assume))
