"""``explain``: the chain rule one step at a time, with the shape of every factor.

The steps (:mod:`matdiff.tools.chainsteps`) go from the variable X to the output: the
user's statements, or, for a single expression or with ``verbose``, every operation. For each
step the explanation gives its shape and its local derivative ∂u/∂v for each operand v that
depends on X: a tensor of order rank(u) + rank(v), in matrix form in the chosen layout when it
has one (∂u/∂W for u = W·h is 2×2×2, which no matrix can stand for). Then the chain of those
factors in the layout's order, why that order, the result as ``md.diff`` prints it, and the
backprop view (:mod:`matdiff.tools.backprop`) of the way back to X.

By default it reads like a textbook solution: one line per step and one per factor, the index
form only where no matrix form exists. ``verbose`` adds every operation, the contractions, ∂u/∂X
after each step and the index forms. Every factor is shown with one shape (in the layout when
it is a matrix, as a tensor otherwise), so no two lines can seem to disagree.

Nothing here changes the engine; the final answer is exactly ``md.diff``'s.
"""

from __future__ import annotations

import functools

from typing import Callable
from dataclasses import dataclass, field

from matdiff.api import Derivative, diff
from matdiff.guarded import guarded
from matdiff.engine import ir
from matdiff.engine.layout import apply_arrangement
from matdiff.engine.lowering import Value, lower
from matdiff.engine.simplify import simplify
from matdiff.engine.structure import CONVENTIONS
from matdiff.errors import MatdiffError
from matdiff.language.shapes import shape_text
from matdiff.language.syntax import Name, Program, parse
from matdiff.notation.forms import output_name, value_name
from matdiff.notation.bindings import MatrixProgram
from matdiff.notation.numbers import fraction
from matdiff.notation.printing import level, text as matrix_text
from matdiff.notation.report import INTERNAL, Line, Printable
from matdiff.tools.backprop import Backprop, backprop, matrix_form
from matdiff.tools.chainsteps import Factor, Step, Walk, chain_of_steps, kind_text, layout_shape_text, regrouped


@dataclass(frozen=True, repr=False)
class Explanation(Printable):
    """The chain rule for ∂expression/∂wrt, step by step; ``backprop`` is the reverse view."""

    expression: str
    wrt: str
    layout: str
    output: str  # the name used for the expression's value
    variable_shape: tuple
    steps: tuple[Step, ...]
    chain: tuple[Factor, ...]  # the local factors in the layout's order, when the steps form one chain
    chain_is_matrix_product: bool
    result: str | None  # md.diff(...).text
    named_result: Callable[[], str | None] = field(compare=False, metadata=INTERNAL)  # see result_named
    vec: str | None  # the vec layout's matrix when the result has no matrix form ('kron(eye(2), A), 2×6')
    result_index: str
    result_shape: tuple
    why_order: str
    notes: tuple[str, ...]
    backprop: Backprop | None
    derivative: Derivative = field(compare=False, metadata=INTERNAL)
    conventions: tuple[tuple[str, str, str], ...] = ()  # (convention, the derivative in it, when it is right)
    verbose: bool = False  # every operation, the contractions and the index forms
    result_value: str | None = None  # the result's value, its bindings apart (shown as "where …")
    result_where: tuple[str, ...] = ()  # "a2 = sigmoid(W2*x)": the names the value uses

    @property
    def result_named(self) -> str | None:
        """The result over the step names, from the chain accumulated step by step: computed when
        asked for (verbose shows it), as over every path through reused values it can be long."""
        return self.named_result()

    def __repr__(self) -> str:
        return f"<Explanation ∂{self.output}/∂{self.wrt} ({self.layout}): {len(self.steps)} steps>"

    def lines(self) -> list[Line]:
        lines = self._title()
        if not self.steps:
            lines.append(Line(f"{self.output} does not depend on {self.wrt}: the derivative is zero.", indent=2))
        else:
            unit = "operation" if self.verbose or len(_statements(self.expression, "")) == 1 else "statement"
            lines.append(Line(f"The chain rule, one {unit} at a time from {self.wrt} to {self.output}:", "heading"))
        for number, step in enumerate(self.steps, 1):
            lines += self._step(number, step)
        lines += self._chain()
        if len(self.steps) > 1:
            lines.append(Line("Why the order:", "heading"))
            lines.append(Line(self.why_order, indent=2))
        lines += self._result()
        if self.conventions:
            lines.append(Line(f"By a structured {self.wrt}, three answers (G: every entry free):", "heading"))
            for convention, text, when in self.conventions:
                lines.append(Line(f"{convention}: {text}   right when {when}", "formula", 2))
        for note in self.notes:
            lines.append(Line(f"note: {note}", "note", 2))
        if self.backprop is not None:
            lines.extend(self.backprop.lines())
        return lines

    def _title(self) -> list[Line]:
        statements = _statements(self.expression, self.output)
        where = f"({self.layout} layout)"
        if len("; ".join(statements)) <= 90:
            lines = [Line(f"∂{self.output}/∂{self.wrt} for {'; '.join(statements)}  {where}", "title")]
        else:
            lines = [Line(f"∂{self.output}/∂{self.wrt} for the program  {where}", "title")]
            lines += [Line(statement, "formula", 4) for statement in statements]
        lines.append(Line(f"{self.wrt} is {kind_text(self.variable_shape)}.", indent=2))
        return lines

    def _step(self, number: int, step: Step) -> list[Line]:
        lines = [Line(f"{number}. {step.name} = {step.formula}   ({kind_text(step.shape)})", "formula", 2)]
        for factor in step.local:
            diagonal = f"   (diagonal, as {step.function} acts entry by entry: a Hadamard product)" if factor.diagonal else ""
            lines.append(Line(f"{factor.label}: {factor.describe()}{diagonal}", indent=5))
            if self.verbose or factor.matrix is None:
                lines.append(Line(factor.index, "note", 9))
            if self.verbose and factor.diagonal:
                lines.append(Line("multiplying by a diagonal matrix is a Hadamard product (.*) with its diagonal",
                                  "note", 9))
        if step.operands == (self.wrt,) or (self.chain and not self.verbose):
            return lines  # the local derivative is ∂step/∂variable itself; or the chain below says the rest
        if step.contraction and self.verbose:
            lines.append(Line(step.contraction, indent=5))
        lines.append(Line(f"so {step.accumulated.label}: {step.accumulated.describe()}", indent=5))
        if self.verbose:
            lines.append(Line(step.accumulated.index, "note", 9))
        return lines

    def _chain(self) -> list[Line]:
        if len(self.chain) <= 1:
            return []
        labels = " · ".join(f.label for f in self.chain)
        shapes = " · ".join(layout_shape_text(f.shape) if f.matrix is not None else
                            f"({shape_text(f.tensor_shape)} tensor)" for f in self.chain)
        lines = [Line(f"The chain in the {self.layout} layout:", "heading"),
                 Line(f"∂{self.output}/∂{self.wrt} = {labels}", "formula", 2),
                 Line(f"shapes: {shapes}", indent=2)]
        if self.chain_is_matrix_product:
            matrices = [f.program for f in self.chain if f.program is not None]  # all of them, in a matrix product
            lines.append(Line("as matrices: " + " * ".join(map(_product_operand, matrices)), indent=2))
            return lines
        tensors = [f.label for f in self.chain if f.matrix is None or f.order > 2]
        if tensors:
            lines.append(Line(f"{', '.join(tensors)} {'has' if len(tensors) == 1 else 'have'} order > 2: the chain "
                              "rule sums over the intermediate's indices; it is not a product of matrices, and "
                              "writing such a factor as a matrix is what makes the dimensions fail.", indent=2))
        else:
            lines.append(Line("the factors' shapes do not chain as a matrix product here: the chain rule sums "
                              "over each intermediate's indices.", indent=2))
        return lines

    def _result(self) -> list[Line]:
        lines = [Line("Result:", "heading")]
        if self.result is not None:
            value = self.result_value or self.result
            lines.append(Line(f"∂{self.output}/∂{self.wrt} = {value}   ({self.layout} layout, "
                              f"{layout_shape_text(self.result_shape)})", "good", 2))
            if self.result_where:
                lines.append(Line(f"where {'; '.join(self.result_where)}", indent=4))
            if self.verbose and self.result_named and self.result_named not in (self.result, value):
                lines.append(Line(f"in the step names: {self.result_named}", indent=2))
        else:
            lines.append(Line(f"no matrix form in the {self.layout} layout, which arranges this order-"
                              f"{len(self.result_shape)} tensor as {shape_text(self.result_shape)}", "good", 2))
            if self.vec is not None:
                lines.append(Line(f"in the vec layout (∂vec({self.output})/∂vec({self.wrt}), both column-stacked) "
                                  f"it is the matrix {self.vec}", indent=2))
        if self.result is None or (self.verbose and (len(self.result_index) <= 240 or not self.steps)):
            lines.append(Line(self.result_index, "note", 2))
        return lines


def _statements(expression: str, output: str) -> list[str]:
    """The program's statements as written, the last one named ``output`` when it is unnamed."""
    statements = [s.strip() for s in expression.replace("\n", ";").split(";") if s.strip()]
    if output and statements and statements[-1].split("=")[0].strip() != output:
        statements[-1] = f"{output} = {statements[-1]}"
    return statements


# ----- the explanation ---------------------------------------------------------------------------------

_WHY = {
    "numerator": ("Numerator layout puts u's indices first in ∂u/∂v, so the chain ∂y/∂x = ∂y/∂u·∂u/∂x runs left "
                  "to right from the output back to the variable. The denominator layout transposes every factor, "
                  "and (AB)' = B'A' reverses the product: there it runs right to left."),
    "denominator": ("Denominator layout puts v's indices first in ∂u/∂v: every factor is its numerator form "
                    "transposed, and (AB)' = B'A' reverses the product, so the chain ∂y/∂x = ∂u/∂x·∂y/∂u runs "
                    "right to left from the output (backprop adds each new factor on the left)."),
    "gradient": ("The gradient layout gives ∂y/∂x the shape of x (the denominator layout for a scalar y): every "
                 "factor is its numerator form transposed, and (AB)' = B'A' reverses the product, so the chain "
                 "runs right to left from the output."),
    "jacobian": ("The Jacobian layout keeps the output's indices first, like numerator layout: factors multiply "
                 "left to right from the output back to the variable, contracting over each intermediate's "
                 "indices."),
    "vec": ("In the vec layout every factor is a matrix ∂vec(u)/∂vec(v), so the chain rule is an ordinary "
            "matrix product, left to right from the output back to the variable (as in numerator layout)."),
}


def explain(expression: str, wrt: str, shapes: dict | None = None, layout: str = "numerator", *,
            assume=None, verbose: bool = False) -> Explanation:
    """The chain rule for ∂expression/∂wrt in ``layout``, one step at a time (see the module doc);
    ``assume`` gives inputs a structure (``{"S": "symmetric"}``); ``verbose`` shows every operation,
    the contractions and the index forms."""
    if not isinstance(wrt, str):
        if isinstance(wrt, (tuple, list)) and len(wrt) == 1:
            wrt = wrt[0]
        else:
            raise MatdiffError("explain takes one variable (--wrt once); for higher orders use diff")
    derivative = diff(expression, wrt=wrt, shapes=shapes, layout=layout, assume=assume)
    with guarded(expression):
        return _explain(derivative, expression, wrt, shapes, layout, verbose)


def _explain(derivative: Derivative, expression: str, wrt: str, shapes, layout: str, verbose: bool) -> Explanation:
    program = parse(expression)
    assigned = {s.target for s in program.statements if s.target}
    intermediate = wrt if wrt in assigned else None
    original = derivative.lowered
    try:
        lowered = lower(regrouped(program, wrt), shapes, intermediate=intermediate, assume=derivative.assume)
        if lowered.value.surface() != original.value.surface():
            lowered = original
    except MatdiffError:
        lowered = original
    if intermediate is not None:
        assert lowered.intermediate_value is not None  # lowering with intermediate= records the intermediate's value
        variable = Value(ir.var(intermediate, lowered.intermediate_value.node.shape), lowered.intermediate_value.row)
    elif wrt in lowered.variables:
        variable = lowered.variables[wrt]
    else:
        variable = Value(ir.var(wrt, derivative.arrangement.x_shapes[0]))
    output = _named_output(program) or output_name(lowered)
    every_operation = verbose or len(assigned - {output}) == 0  # a single expression: its operations are the steps
    walk = Walk(lowered, variable, wrt, layout, output, every_operation)
    steps = walk.run() if walk.depends.get(id(lowered.value.node)) else []
    chain, is_product = chain_of_steps(steps, layout, wrt)
    @functools.lru_cache(maxsize=1)
    def result_named() -> str | None:
        if not steps:
            return None
        last = steps[-1].accumulated
        assert last.node is not None  # _factor always sets it
        arranged = simplify(apply_arrangement(ir.reshape(last.node, derivative.arrangement.y_shape +
                                                         derivative.arrangement.x_shapes[0]),
                                              derivative.arrangement), derivative.assume)
        return matrix_form(arranged, derivative.assume)
    notes = list(derivative.notes)
    if layout == "numerator" and not derivative.arrangement.y_shape and len(variable.surface()) == 2:
        notes.append(f"numerator layout puts ∂{output}/∂{wrt}[i,j] at row j, column i: the transpose of "
                     f"{wrt}'s shape (denominator and gradient layouts keep {wrt}'s shape)")
    if layout == "gradient" and any(step.shape for step in steps[:-1]):
        notes.append("intermediate steps that are not scalars are shown in the denominator layout, which the "
                     "gradient layout extends")
    try:
        view = backprop(original if intermediate is None else lower(program, shapes, assume=derivative.assume),
                        output=output, assume=derivative.assume, wanted=(wrt,), verbose=verbose)
    except MatdiffError:
        view = None
    vec = None
    if derivative.text is None:
        in_vec = derivative if layout == "vec" else diff(expression, wrt=wrt, shapes=shapes, layout="vec",
                                                         assume=derivative.assume)
        in_vec_form = in_vec.matrix_program  # with the commutation matrix K, which only the notation has
        if in_vec_form is not None and (in_vec.text is not None or not in_vec_form.in_language):
            commuted = "" if in_vec.text is not None else ", with K(m, n) the commutation matrix (vec(A') = " \
                "K(m, n)*vec(A) for A m×n), which is not in the input language"
            vec = f"{in_vec_form.text}, {shape_text(in_vec.shape)}{commuted}"
    printed = value_name(derivative)  # the name md.diff's index form gives the value
    index = derivative.index.replace(f"∂{printed}/", f"∂{output}/").replace(f"∂{printed}[", f"∂{output}[")
    program_text = derivative.matrix_program
    value: str | None = None
    where: tuple[str, ...] = ()
    if program_text is not None and program_text.bindings:
        value = matrix_text(program_text.value)
        where = tuple(f"{name} = {matrix_text(body)}" for name, body in program_text.bindings)
    return Explanation(expression, wrt, layout, output, variable.surface(), tuple(steps), chain, is_product,
                       derivative.text, result_named, vec, index, derivative.shape, _WHY[layout], tuple(notes), view,
                       derivative, _conventions(expression, wrt, shapes, layout, derivative), verbose, value, where)


def _named_output(program: Program) -> str | None:
    """f, for a program whose last statement is ``f = …`` (the parser then reads f as its value)."""
    statements = program.statements
    last = statements[-1].value
    if len(statements) > 1 and isinstance(last, Name) and last.name == statements[-2].target:
        return last.name
    return None


def _conventions(expression: str, wrt: str, shapes, layout: str, derivative: Derivative) -> tuple:
    """Each convention's derivative by a structured ``wrt``, printed, and when it is the right one."""
    if not derivative.assume.structure_of(wrt).square:
        return ()
    shown = []
    for name, convention in CONVENTIONS.items():
        other = diff(expression, wrt=wrt, shapes=shapes, layout=layout, assume=derivative.assume, convention=name)
        shown.append((name, f"{convention.formula} = {other.text or other.index}", convention.when))
    return tuple(shown)


def _product_operand(program: MatrixProgram) -> str:
    """A factor's matrix form as an operand of ``*``, parenthesised as the precedence printer decides:
    a sign, a sum or an elementwise product would bind differently in the chain; a product needs none
    (matrix products associate)."""
    printed, value = program.text, program.value
    divides = value.op == "product" and value.args[0].op == "number" and fraction(value.args[0].value)  # A/2
    loose = level(value) <= 3 and (value.op != "product" or divides)
    return f"({printed})" if loose and not program.bindings else printed
