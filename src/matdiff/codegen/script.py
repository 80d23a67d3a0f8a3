"""A ready-to-run script (``d.code(backend, check=True)``): the value, the derivative and a
finite-difference check at random values, like the gradient check matrixcalculus.org users know.

The script holds the generated ``value_and_derivative`` function, draws random inputs (symbolic
dimensions get small sizes), prints the value and the derivative, and compares the derivative with
central differences of the value, arranged as the engine arranges the Jacobian in each layout (a
permutation of its axes, then a reshape: :class:`matdiff.engine.layout.Arrangement`). It exits with
status 1 when they disagree. Nothing the user typed reaches the script except names that passed
the grammar and the docstring, which the writer escapes.
"""

from __future__ import annotations

import inspect

from matdiff.codegen.sources import derivative_source, gradients_source
from matdiff.engine.ir import dim_value, small_sizes
from matdiff.engine.sampling import structured_value
from matdiff.errors import MatdiffError

TOLERANCE = {1: 1e-5, 2: 1e-3}  # relative error allowed: central differences, first and second order

_PRELUDE = {
    "numpy": "",
    "jax": 'jax.config.update("jax_enable_x64", True)  # finite differences need float64\n',
    "torch": "",
}

_INPUTS = '''

# ----- the check: central differences of the value, arranged in the layout ---------------------------

import sys

import numpy
import numpy as np  # the name matdiff's own structured draw (below, copied) uses

SHAPES = {shapes}
STRUCTURE = {structure}
TOLERANCE = {tolerance}


{draw}

def random_inputs(rng, positive=False):
    """Random values of every input, with its assumed structure; positive ones (square matrices
    made diagonally dominant) when the value is not finite at normal ones (log, sqrt, log det)."""
    inputs = {{}}
    for name, shape in SHAPES.items():
        if name in STRUCTURE:
            inputs[name] = structured_value(STRUCTURE[name], shape, rng, safe=positive)
            continue
        value = rng.uniform(0.5, 1.5, shape) if positive else rng.standard_normal(shape)
        if positive and len(shape) == 2 and shape[0] == shape[1]:
            value = value + shape[0] * numpy.eye(shape[0])
        inputs[name] = value
    return inputs


def moved(inputs, name, index, step):
    changed = dict(inputs)
    changed[name] = numpy.array(inputs[name], dtype=numpy.float64)
    changed[name][index] += step
    return changed
'''

_DERIVATIVE_CHECK = '''
WRT = {wrt}
Y_SHAPE = {y_shape}
PERMUTATION = {permutation}
LAYOUT_SHAPE = {layout_shape}


def value_at(inputs):
    value, _ = value_and_derivative(**inputs)
    return numpy.reshape(numpy.asarray(value, dtype=numpy.float64), Y_SHAPE)


def central_differences(inputs):
    """J[i…, j…(, k…)] = ∂ value[i…] / ∂ WRT[0][j…] (∂ WRT[1][k…]): first or second differences."""
    if len(WRT) == 1:
        name, step = WRT[0], 1e-6
        slices = [(value_at(moved(inputs, name, j, step)) - value_at(moved(inputs, name, j, -step))) / (2 * step)
                  for j in numpy.ndindex(*SHAPES[name])]
        return numpy.moveaxis(numpy.array(slices).reshape(SHAPES[name] + Y_SHAPE), list(range(len(SHAPES[name]))),
                              list(range(len(Y_SHAPE), len(Y_SHAPE) + len(SHAPES[name]))))
    (first, second), step = WRT, 1e-4
    slices = []
    for j in numpy.ndindex(*SHAPES[first]):
        for k in numpy.ndindex(*SHAPES[second]):
            corners = [value_at(moved(moved(inputs, first, j, a * step), second, k, b * step))
                       for a, b in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
            slices.append((corners[0] - corners[1] - corners[2] + corners[3]) / (4 * step * step))
    x_shape = SHAPES[first] + SHAPES[second]
    return numpy.moveaxis(numpy.array(slices).reshape(x_shape + Y_SHAPE), list(range(len(x_shape))),
                          list(range(len(Y_SHAPE), len(Y_SHAPE) + len(x_shape))))


def main():
    rng = numpy.random.default_rng(0)
    inputs = random_inputs(rng)
    if not numpy.all(numpy.isfinite(value_at(inputs))):
        inputs = random_inputs(rng, positive=True)
    value, derivative = value_and_derivative(**inputs)
    derivative = numpy.asarray(derivative, dtype=numpy.float64)
    numpy.set_printoptions(precision=4, suppress=True)
    for name, array in inputs.items():
        print(f"{{name}} =\\n{{array}}")
    print(f"value =\\n{{numpy.asarray(value)}}")
    print(f"derivative ({layout} layout, shape {{derivative.shape}}) =\\n{{derivative}}")
    expected = central_differences(inputs).transpose(PERMUTATION).reshape(LAYOUT_SHAPE)
    scale = max(1.0, float(numpy.max(numpy.abs(expected), initial=0.0)))
    error = float(numpy.max(numpy.abs(derivative - expected), initial=0.0)) / scale
    passed = derivative.shape == expected.shape and error < TOLERANCE
    print(f"finite-difference check: largest relative error {{error:.1e}}: {{'passed' if passed else 'FAILED'}}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
'''


_GRADIENTS_CHECK = '''
NAMES = {names}


def value_at(inputs):
    value, _ = value_and_gradients(**inputs)
    return float(numpy.asarray(value, dtype=numpy.float64))


def central_differences(inputs, name, step=1e-6):
    """The gradient by ``name``, entry by entry: (f(x + h·e) − f(x − h·e)) / 2h."""
    return numpy.array([(value_at(moved(inputs, name, j, step)) - value_at(moved(inputs, name, j, -step))) / (2 * step)
                        for j in numpy.ndindex(*SHAPES[name])]).reshape(SHAPES[name])


def main():
    rng = numpy.random.default_rng(0)
    inputs = random_inputs(rng)
    if not numpy.isfinite(value_at(inputs)):
        inputs = random_inputs(rng, positive=True)
    value, gradients = value_and_gradients(**inputs)
    numpy.set_printoptions(precision=4, suppress=True)
    print(f"value = {{float(numpy.asarray(value)):.6g}}")
    passed = True
    for name in NAMES:
        gradient = numpy.asarray(gradients[name], dtype=numpy.float64)
        expected = central_differences(inputs, name).reshape(gradient.shape)
        scale = max(1.0, float(numpy.max(numpy.abs(expected), initial=0.0)))
        error = float(numpy.max(numpy.abs(gradient - expected), initial=0.0)) / scale
        passed = passed and error < TOLERANCE
        print(f"gradient by {{name}} ({{'×'.join(map(str, gradient.shape)) or 'scalar'}}): largest relative error "
              f"{{error:.1e}}: {{'passed' if error < TOLERANCE else 'FAILED'}}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
'''


def _concrete_shapes(inputs: dict):
    """Small, all-different sizes for the dimensions the user left symbolic (ir.small_sizes, as
    check uses): (shapes by input, a function giving any shape's sizes, products such as "m*n"
    included)."""
    sizes = small_sizes([variable.shape for variable in inputs.values()])

    def concrete(shape) -> tuple:
        return tuple(dim_value(d, sizes) for d in shape)

    return {name: concrete(variable.shape) for name, variable in inputs.items()}, concrete


def _inputs_part(shapes: dict, structure: dict, order: int) -> str:
    return _INPUTS.format(shapes=repr(shapes), structure=repr(structure), tolerance=repr(TOLERANCE[order]),
                          draw=inspect.getsource(structured_value))


def check_script(derivative, backend: str = "numpy") -> str:
    """The standalone script: ``value_and_derivative`` for ``backend``, then the check above."""
    lowered = derivative.lowered
    intermediates = [name for name in derivative.wrt if name not in lowered.variables]
    if intermediates:
        raise MatdiffError(f"{intermediates[0]} is an intermediate: a finite-difference check perturbs inputs; "
                           "differentiate by an input to get a checked script")
    if derivative.order > 2:
        raise MatdiffError("the finite-difference script checks first and second derivatives only")
    structure = derivative.assume.as_dict()
    if derivative.convention != "unconstrained" and any(name in structure for name in derivative.wrt):
        raise MatdiffError(f"the finite-difference script checks the unconstrained derivative; this one is in "
                           f"the {derivative.convention} convention")
    arrangement = derivative.arrangement
    shapes, concrete = _concrete_shapes(derivative.input_variables)
    # finite differences move one entry at a time, breaking a symmetric structure: no check of it
    source = derivative_source(derivative, backend, with_value=True, check_assumptions=False)
    return source + _PRELUDE[backend] + _inputs_part(shapes, structure, derivative.order) + _DERIVATIVE_CHECK.format(
        wrt=repr(tuple(derivative.wrt)),
        y_shape=repr(concrete(arrangement.y_shape)),
        permutation=repr(tuple(arrangement.permutation)),
        layout_shape=repr(concrete(arrangement.shape)),
        layout=derivative.layout,
    )


def gradients_check_script(gradients, backend: str = "numpy") -> str:
    """``g.code(backend, check=True)``: ``value_and_gradients`` for ``backend``, then each gradient
    checked against central differences of the value (exit status 1 when one disagrees)."""
    first = next(iter(gradients.values()))
    structure = first.assume.as_dict()
    if any(d.convention != "unconstrained" for d in gradients.values()):
        raise MatdiffError("the finite-difference script checks unconstrained gradients only")
    shapes, _ = _concrete_shapes(first.input_variables)
    source = gradients_source(gradients, backend, check_assumptions=False)  # finite differences break structure
    return source + _PRELUDE[backend] + _inputs_part(shapes, structure, 1) + _GRADIENTS_CHECK.format(
        names=repr(tuple(gradients)))
