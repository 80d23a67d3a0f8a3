"""The entry points of code generation: a derivative's or a backward pass's source, compiled.

``d.code``/``d.compile`` and ``g.code``/``g.compile`` come here. When the derivative has a matrix
program, its statements are lowered one at a time (:mod:`matdiff.codegen.passes`) and written in the
order of the reverse pass; otherwise the whole IR is planned as one DAG
(:func:`matdiff.codegen.writer.program_source`)."""

from __future__ import annotations

import linecache

from matdiff.engine import ir
from matdiff.errors import MatdiffError
from matdiff.language.shapes import shape_text
from matdiff.codegen.backends import backend_named
from matdiff.codegen.passes import statement_program
from matdiff.codegen.writer import program_source


def _value_node(derivative) -> ir.Tensor:
    """The program's value as ``md.evaluate`` shapes it, in terms of the inputs only."""
    lowered = derivative.lowered
    node = lowered.value.node
    node = lowered.filled_in(node) if lowered.intermediate in derivative.wrt else node
    surface = lowered.value.surface()
    if ir.is_all_ones(surface):
        return ir.reshape(node, ())
    return ir.reshape(node, surface) if lowered.value.row else node


def _describe(derivative, *, with_value: bool) -> str:
    order = len(derivative.wrt)
    partial = "∂" + (str(order).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")) if order > 1 else "")
    by = "".join(f"∂{name}" for name in derivative.wrt)
    shown = shape_text(derivative.shape)
    lead = "The value f and " if with_value else ""
    program = "\n".join("    " + line.strip() for line in derivative.source.strip().splitlines() if line.strip())
    return f"{lead}{partial}f/{by}, {derivative.layout} layout, {shown}, where f is the value of\n\n{program}\n"


def _structures(assume, check: bool) -> dict:
    """The assumed structures generated code checks on each call (none when ``check`` is off)."""
    return assume.as_dict() if check else {}


def derivative_source(derivative, backend: str = "numpy", *, with_value: bool = False,
                      check_assumptions: bool = True) -> str:
    """The source of the function ``compile_derivative`` returns (``d.code``)."""
    structures = _structures(derivative.assume, check_assumptions)
    name = "value_and_derivative" if with_value else "derivative"
    doc = _describe(derivative, with_value=with_value)
    program = derivative.matrix_program
    planned = None
    if program is not None and program.in_language:
        planned = statement_program(list(program.bindings), [program.value], derivative.input_variables,
                                    [derivative.shape], derivative.assume)
    if planned is None:  # no matrix form: the whole IR, planned as one DAG
        roots = ([_value_node(derivative)] if with_value else []) + [derivative.tensor]
        return program_source(roots, derivative.input_variables, backend, name=name, doc=doc, structures=structures)
    roots = ([planned.over_statements(_value_node(derivative))] if with_value else []) + list(planned.results)
    return program_source(roots, derivative.input_variables, backend, name=name, doc=doc,
                          statements=planned.statements, structures=structures)


def gradients_source(gradients, backend: str = "numpy", *, check_assumptions: bool = True) -> str:
    """The source of ``g.compile(backend)``: ``value_and_gradients(**inputs)`` returns the value and
    {input name: gradient}, from one forward and one reverse pass (the statements ``g.text``
    prints); without a matrix form for every gradient, the whole IR planned as one DAG."""
    derivatives = list(gradients.values())
    first = derivatives[0]
    structures = _structures(first.assume, check_assumptions)
    names = tuple(gradients)
    value = _value_node(first)
    program = "\n".join("    " + line.strip() for line in first.source.strip().splitlines() if line.strip())
    doc = f"The value f and its gradients by {', '.join(names)} (gradient layout), where f is the value of\n\n{program}\n"
    shared = gradients.shared_program
    planned = None
    if shared is not None and all(d.matrix_program is not None and d.matrix_program.in_language for d in derivatives):
        targets = [gradients.names[name] for name in names]
        planned = statement_program(shared.statements(targets), [], first.input_variables, [], first.assume)
    if planned is None:
        return program_source([value] + [d.tensor for d in derivatives], first.input_variables, backend,
                              name="value_and_gradients", doc=doc, result_keys=names, structures=structures)
    results = []
    for name, derivative in zip(names, derivatives):
        node = planned.names[gradients.names[name]]
        results.append(node if node.shape == derivative.shape else ir.reshape(node, derivative.shape))
    return program_source([planned.over_statements(value)] + results, first.input_variables, backend,
                          name="value_and_gradients", doc=doc, statements=planned.statements, result_keys=names,
                          structures=structures)


def compile_gradients(gradients, backend: str = "numpy", *, check_assumptions: bool = True):
    """A callable(**inputs) → (value, {name: gradient}) running :func:`gradients_source`."""
    backend_named(backend)
    return compile_source(gradients_source(gradients, backend, check_assumptions=check_assumptions),
                          "value_and_gradients", backend)


def compile_derivative(derivative, backend: str = "numpy", *, with_value: bool = False,
                       check_assumptions: bool = True):
    """A callable(**inputs) → the derivative in its layout (``with_value``: (value, derivative)),
    running the generated source for ``backend``; ``check_assumptions``: check the structure
    ``assume`` gives an input on every call (a ValueError when a value breaks it)."""
    backend_named(backend)
    source = derivative_source(derivative, backend, with_value=with_value, check_assumptions=check_assumptions)
    name = "value_and_derivative" if with_value else "derivative"
    return compile_source(source, name, backend)


def compile_source(source: str, name: str, backend: str):
    """Execute generated source and return its function; the source stays readable in tracebacks."""
    requirement = {"jax": "jax", "torch": "torch"}.get(backend)
    if requirement:
        from importlib.util import find_spec

        if find_spec(requirement) is None:
            raise MatdiffError(f"the {backend} backend needs {requirement}: pip install 'matdiff[{backend}]'")
    filename = f"<matdiff-{backend}-{abs(hash(source)):x}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": f"matdiff_generated_{backend}"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    function = namespace[name]
    try:
        function.source = source
    except AttributeError:  # some jit wrappers take no attributes
        pass
    return function
