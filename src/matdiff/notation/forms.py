"""The printed forms of a derivative: matrix notation (text and LaTeX), the vec form, index
notation, and why a layout has no matrix form.

``md.Derivative`` (in the API layer) owns the numbers and the public attributes; what it
prints is computed here, from the pieces of the pipeline it holds. The name the derivative
calls its value (∂y/∂x, ∂f/∂W) is chosen by :func:`output_name`, the one place that does so.
"""

from __future__ import annotations

from typing import Protocol

from matdiff.engine import ir
from matdiff.engine.layout import Arrangement, layout_y_shape
from matdiff.engine.lowering import Lowered
from matdiff.engine.simplify import simplify
from matdiff.language.assumptions import Assumptions
from matdiff.language.syntax import Name, Program
from matdiff.notation.bindings import MatrixProgram, ProgramBuilder
from matdiff.notation.naming import fresh
from matdiff.notation.indexform import index_program, indexed
from matdiff.notation.printing import latex_name
from matdiff.notation.mtree import transpose
from matdiff.notation.printing import text
from matdiff.notation.rewrite import compact
from matdiff.notation.vecform import no_matrix_form, vec_form


def output_name(lowered: Lowered, preferred: str | None = None) -> str:
    """What ∂…/∂x calls the value: ``preferred`` when given, else y for a scalar (then f, L) and
    Y for a matrix (then F); never a name the program uses."""
    taken = set(lowered.variables) | set(lowered.assigned)
    scalar = not layout_y_shape(lowered.value.surface())
    for candidate in ((preferred,) if preferred else ()) + (("y", "f", "L") if scalar else ("Y", "F")):
        if candidate not in taken:
            return candidate
    return fresh("out", taken, separator="_")


def value_name(derivative: "PrintedDerivative") -> str:
    """What a derivative calls its value: the program's own name when it ends with one
    (``L = 0.5*sum(r.^2)``: ∂L/∂W), f for another program of several statements, else y or Y."""
    statements = derivative.program.statements
    if len(statements) > 1 and isinstance(statements[-1].value, Name) \
            and statements[-2].target == statements[-1].value.name:
        return statements[-1].value.name
    return output_name(derivative.lowered, "f" if len(statements) > 1 else None)


class PrintedDerivative(Protocol):
    """What a derivative must hold to be printed (``md.Derivative`` does)."""

    program: Program
    lowered: Lowered
    wrt: tuple
    declared: tuple
    layout: str
    arrangement: Arrangement
    jacobian: ir.Tensor
    tensor: ir.Tensor
    order: int
    assume: Assumptions

    @property
    def shape(self) -> tuple: ...


class DerivativeForms:
    """The matrix, vec and index forms of one derivative (each computed when first asked for)."""

    def __init__(self, derivative: PrintedDerivative):
        self.d = derivative
        self.y_name = value_name(derivative)
        self.unplaced: str | None = None  # why the matrix form fails: the index no order places
        self._programs: dict[bool, MatrixProgram | None] = {}

    def names_in_use(self) -> tuple[dict, set]:
        """The user's intermediates (name → (node, is_row)), to name bindings after them, and
        the names a binding may not take."""
        d = self.d
        assigned = {name: (value.node, value.row) for name, value in d.lowered.assigned.items()}
        if d.lowered.intermediate in d.wrt:  # the derivative has the intermediate filled in
            assigned = {name: (d.lowered.filled_in(node), row) for name, (node, row) in assigned.items()}
        return assigned, set(d.lowered.variables) | set(d.declared) | set(d.wrt)

    def matrix_program(self, *, vec: bool) -> MatrixProgram | None:
        """The compact matrix form (shared subexpressions as assignments, then the value) in the
        layout, or as ∂vec(Y)/∂vec(X) with ``vec``; None when there is none. Each is found once: the
        vec form serves the vec text, the reason, the LaTeX and a vector's Kronecker form."""
        if vec not in self._programs:
            self._programs[vec] = self._matrix_program(vec=vec)
        return self._programs[vec]

    def _matrix_program(self, *, vec: bool) -> MatrixProgram | None:
        d, a = self.d, self.d.arrangement
        assigned, reserved = self.names_in_use()
        vector_like = len(a.y_shape) <= 1 and all(len(s) <= 1 for s in a.x_shapes)
        hessian = vec and d.order == 2 and not a.y_shape  # ∂²f/∂vec(X)∂vec(Z): Kronecker products
        if not vec:
            root = d.tensor
        elif d.order == 1 or hessian:
            root = d.jacobian  # vec of a scalar, column or matrix by one variable; or a Hessian
        else:
            return None
        if not vec and d.layout == "numerator" and d.order == 1 and not a.y_shape and a.x_shapes[0]:
            transposed = self.transposed_gradient()
            if transposed is not None:
                return transposed
        squeezed = tuple(size for size in root.shape if size != 1)
        if not vec and root.rank > 2 and len(squeezed) <= 2:  # 1×2×1×3 is the 2×3 matrix it is
            root = simplify(ir.reshape(root, squeezed))
        symmetric = frozenset(name for name in d.assume.names if d.assume.symmetric(name))
        builder = ProgramBuilder([root], assigned=assigned, reserved=reserved, symmetric=symmetric,
                                 summed_to_one=d.assume)
        if vec and d.order == 1:
            value = vec_form(root, a.y_shape, a.x_shapes[0], builder)
        elif hessian and not vector_like:
            value = vec_form(root, a.x_shapes[0], a.x_shapes[1], builder)
        else:
            value = builder(root)
        if value is None and not vec and vector_like and d.order == 1 and d.layout != "vec":
            return self._as_vec_form()
        if value is None:
            self.unplaced = self.unplaced or builder.recovery.failure
        return None if value is None else builder.finish(value)

    def _as_vec_form(self) -> MatrixProgram | None:
        """A vector by a vector is ∂vec(y)/∂vec(x), in the numerator (jacobian) layout and transposed
        in the denominator layout: its Kronecker form when only that one exists (kron(eye(3), y)
        for ∂kron(x, y)/∂x)."""
        found = self.matrix_program(vec=True)
        if found is None or self.d.layout != "denominator":
            return found
        return MatrixProgram(found.bindings, compact(transpose(found.value)), found.note)

    def transposed_gradient(self) -> MatrixProgram | None:
        """A scalar's derivative by a vector or matrix in numerator layout is its gradient transposed:
        printed so, over the backprop deltas the gradient binds (x*dz2' for the gradient dz2*x', as
        ``grads`` prints it), with a note saying so. None when the gradient binds no delta (then
        the numerator form is found directly, as for any other derivative)."""
        d = self.d
        assigned, reserved = self.names_in_use()
        symmetric = frozenset(name for name in d.assume.names if d.assume.symmetric(name))
        builder = ProgramBuilder([d.jacobian], assigned=assigned, reserved=reserved, symmetric=symmetric,
                                 summed_to_one=d.assume)
        value = builder(d.jacobian)
        if value is None:
            return None
        gradient = builder.finish(value)
        deltas = [name for name, _ in gradient.bindings if name in builder.deltas]
        if not deltas:
            return None
        note = (f"the numerator layout of a scalar's derivative is its gradient transposed: here the gradient "
                f"is {text(gradient.value)}, with the backprop delta{'s' if len(deltas) > 1 else ''} {', '.join(deltas)} "
                "(dz = ∂/∂z of the scalar, z an activation's argument, as in the backward pass)")
        return MatrixProgram(gradient.bindings, transpose(gradient.value), note)

    def reason(self, vec_text: str | None) -> str:
        """Why there is no matrix form in this layout, in one line (with the Kronecker form that needs
        the commutation matrix, where that is the reason)."""
        d = self.d
        vec = self.matrix_program(vec=True) if vec_text is None and d.order == 1 or d.layout == "vec" else None
        commuted = vec.text if vec is not None and not vec.in_language else None
        return no_matrix_form(f"∂{self.y_name}/∂{''.join(d.wrt)}", d.shape, d.layout, vec_text, self.unplaced,
                              commuted)

    def latex(self, matrix: MatrixProgram | None) -> str:
        """The matrix form's LaTeX; without one, index notation (and the vec form when it exists)."""
        d = self.d
        if matrix is not None:
            return matrix.latex(self.latex_result() if matrix.bindings else None)
        index = self.index(latex=True)
        vec = None if d.layout == "vec" or d.order != 1 else self.matrix_program(vec=True)
        if vec is None or vec.bindings:
            return index
        return rf"{index},\quad \frac{{\partial \operatorname{{vec}} {self.y_name}}}" \
               rf"{{\partial \operatorname{{vec}} {latex_name(d.wrt[0])}}} = {vec.latex()}"

    def latex_result(self) -> str:
        """∂f/∂W_{2} (∂²f/∂x∂x for a Hessian): the left-hand side of the last line of a program."""
        d = self.d
        order = f"^{{{d.order}}}" if d.order > 1 else ""
        denominator = " ".join(r"\partial " + latex_name(x) for x in d.wrt)
        return rf"\frac{{\partial{order} {self.y_name}}}{{{denominator}}}"

    def index(self, *, latex: bool) -> str:
        """Index notation, always available: the arranged entry, then the Jacobian entry's formula."""
        d, a = self.d, self.d.arrangement
        letters = iter("ijklmnpqrstuvw")
        y_indices = [next(letters) if size != 1 else "1" for size in a.y_shape]  # a unit axis has one index, 1
        x_indices = [[next(letters) if size != 1 else "1" for size in s] for s in a.x_shapes]
        y_name = self.y_name
        assigned, reserved = self.names_in_use()
        program = index_program(d.jacobian, y_indices + [i for xs in x_indices for i in xs], latex=latex,
                                assigned=assigned, reserved=reserved | {"D", y_name})
        body = program.body

        def entry(name, indices):
            return indexed(latex_name(name) if latex else name, indices, latex=latex)

        numerator = entry(y_name, y_indices)
        partial = r"\partial " if latex else "∂"
        denominator = " ".join(partial + entry(x, xs) for x, xs in zip(d.wrt, x_indices))
        order = f"^{len(d.wrt)}" if len(d.wrt) > 1 else ""
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
        line = f"{arranged} = {jacobian_entry} = {body}{how}"
        if not program.bindings:
            return line
        if latex:
            lines = [binding.replace(" = ", " &= ", 1) for binding in program.bindings]
            return r"\begin{aligned}" + r" \\ ".join(lines + [line.replace(" = ", " &= ", 1)]) + r"\end{aligned}"
        return "; ".join(program.bindings + (line,))
