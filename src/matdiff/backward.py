"""The backward pass: ``md.gradients`` — a scalar's gradient by every input from one reverse pass,
printed over one set of bindings (the activations and the deltas), and compiled as one function."""

from __future__ import annotations

from collections.abc import Mapping

from matdiff.api import Derivative, check_options, make_derivative, derivative_in_convention, variables_of, wrt_names
from matdiff.engine.differentiate import jacobians
from matdiff.engine.layout import layout_y_shape
from matdiff.engine.lowering import lower
from matdiff.engine.simplify import simplify
from matdiff.errors import MatdiffError
from matdiff.guarded import guarded
from matdiff.language.assumptions import Assumptions
from matdiff.language.shapes import shape_text
from matdiff.language.syntax import parse
from matdiff.notation.bindings import ProgramBuilder, SharedProgram
from matdiff.notation.naming import fresh


_EACH = ("text", "latex", "index", "shape", "notes")  # each gradient's fields of Derivative.to_dict


class Gradients(Mapping):
    """{name: Derivative}: a scalar's gradient by each input, in the gradient layout, from one
    reverse pass. ``text`` is the whole backward pass as one program, each gradient assigned to
    ``d<name>`` right after the last activation or delta it needs::

        a2 = sigmoid(W2*x); …; dz3 = (a3 - y).*a3.*(1 - a3); dW3 = dz3*a2'; dz2 = …; dW2 = dz2*x'

    Each Derivative's own ``text`` holds the assignments it needs, under the same names."""

    def __init__(self, derivatives: dict, shared: SharedProgram | None, names: dict):
        self._derivatives = dict(derivatives)  # an immutable mapping: {name: Derivative}, in wrt order
        self._shared = shared
        self.names = names  # input -> the name of its gradient in ``text`` ("W2" -> "dW2")

    @property
    def text(self) -> str | None:
        """The backward pass in matrix notation; followed by ``; dW2`` it is a program whose value
        ``md.evaluate`` gives. None when a gradient has no matrix form."""
        if self._shared is None:
            return None
        return self._shared.text([self.names[name] for name in self])

    def printed(self, form: str) -> str | None:
        """The backward pass in a registered printed form (``text``, ``latex``, or one added with
        ``matdiff.notation.printing.register_form``); None when a gradient has no matrix form."""
        if form == "latex":
            return self.latex
        return None if self._shared is None else self._shared.printed(form, [self.names[name] for name in self])

    @property
    def latex(self) -> str:
        if self._shared is None:
            return r" \\ ".join(d.latex for d in self.values())
        return self._shared.latex({self.names[name]: d._forms.latex_result() for name, d in self.items()})

    def __getitem__(self, name: str) -> "Derivative":
        return self._derivatives[name]

    def __iter__(self):
        return iter(self._derivatives)

    def __len__(self) -> int:
        return len(self._derivatives)

    @property
    def shared_program(self) -> SharedProgram | None:
        """The backward pass's statements (None when a gradient has no matrix form)."""
        return self._shared

    def compile(self, backend: str = "numpy", *, check_assumptions: bool = True):
        """One function for numpy, jax or torch: ``f(**values) → (value, {name: gradient})``, the
        loss and every gradient from one forward and one reverse pass (the statements of
        :attr:`text`), each gradient in the gradient layout, keyed by input name in ``wrt`` order;
        ``check_assumptions`` as for :meth:`Derivative.compile`."""
        from matdiff.codegen.sources import compile_gradients

        with guarded(None):
            return compile_gradients(self, backend, check_assumptions=check_assumptions)

    def code(self, backend: str = "numpy", *, check: bool = False, check_assumptions: bool = True) -> str:
        """Standalone source of the function :meth:`compile` returns (``value_and_gradients``); with
        ``check``, a runnable script that checks every gradient against finite differences."""
        with guarded(None):
            if check:
                from matdiff.codegen.script import gradients_check_script

                return gradients_check_script(self, backend)
            from matdiff.codegen.sources import gradients_source

            return gradients_source(self, backend, check_assumptions=check_assumptions)

    def to_dict(self) -> dict:
        """JSON-ready: the whole pass, then each gradient as ``diff --format json`` gives it."""
        return {"text": self.text, "latex": self.latex, "layout": "gradient",
                "gradients": {name: {"name": self.names[name], **d.to_dict(_EACH)} for name, d in self.items()}}

    def __repr__(self) -> str:
        return f"<Gradients {', '.join(self)}: {self.text or '…'}>"


def gradients(program: str, shapes: dict | None = None, wrt=None, *, assume=None,
              convention: str = "unconstrained") -> Gradients:
    """The gradient of a scalar program by every input (or those in ``wrt``), from one reverse pass:
    {name: Derivative} in the gradient layout, printed over one set of bindings.
    ``assume`` and ``convention`` mean what they mean for :func:`diff`."""
    source = program if isinstance(program, str) else None
    with guarded(source):
        parsed = parse(program)
        assumptions = Assumptions.of(assume)
        check_options("gradient", convention)
        lowered = lower(parsed, shapes, assume=assumptions)
        surface = lowered.value.surface()
        if layout_y_shape(surface):
            shown = f"{surface[0]}×1" if len(surface) == 1 else shape_text(surface)
            raise MatdiffError(f"gradients are of a scalar, and this program's value is {shown}: "
                               "use diff for its Jacobian")
        names = tuple(lowered.variables) if wrt is None else wrt_names(wrt)
        if not names:
            raise MatdiffError("the program has no inputs, so no gradients: it is a constant")
        intermediates = {s.target for s in parsed.statements if s.target}
        for name in names:
            if name in intermediates:
                raise MatdiffError(f"{name} is an intermediate, not an input: its delta is "
                                   f"diff(…, wrt={name!r}, layout='gradient')")
        names = tuple(dict.fromkeys(names))
        variables = variables_of(names, lowered, parsed, shapes, None, source)
        found = jacobians(lowered.value.node, tuple(v.node for v in variables))
        structured = {name for name in names if assumptions.structure_of(name).square}
        if convention != "unconstrained" and not structured:
            derivative_in_convention(lowered.value.node, names, (), 0, assumptions, convention, [])  # says why not
        plain = [make_derivative(parsed, lowered, (name,), [variable], simplify(j, assumptions.without((name,))),
                             "gradient", shapes, assumptions, convention if name in structured else "unconstrained")
                 for name, variable, j in zip(names, variables, found)]
        taken = set(lowered.variables) | set(lowered.assigned) | set(shapes or ())
        gradient_names = {name: fresh("d" + name, taken) for name in names}
        assigned, reserved = plain[0]._forms.names_in_use()  # one lowering, no intermediate: the same for all
        symmetric = frozenset(name for name in assumptions.names if assumptions.symmetric(name))
        builder = ProgramBuilder([d.tensor for d in plain], assigned=assigned,
                                 reserved=reserved | set(gradient_names.values()), symmetric=symmetric,
                                 summed_to_one=assumptions)
        values = [builder(d.tensor) for d in plain]
        recovered = [value for value in values if value is not None]
        if len(recovered) < len(values):
            return Gradients(dict(zip(names, plain)), None, gradient_names)
        shared = builder.finish_all(recovered)
        for k, derivative in enumerate(plain):
            derivative._shared = shared.program(k)  # the same names in every gradient's text
        return Gradients(dict(zip(names, plain)), shared, gradient_names)
