"""A claimed derivative as something to compute: the names it may use, its value at given inputs.

A claim is a formula in the input language over the expression's inputs, the program's own
intermediates (``a2``) and, for a scalar program, the names of its backward pass: the backprop
view's deltas and gradients (``dz2 = ∂L/∂z2``, ``dW3``, as ``matdiff explain`` shows them and
``diff`` and ``grads`` print them). Each such name is bound to its definition by an
assignment placed before the claim, so the claim is lowered and evaluated like any program:
numbers, never a guess from the name. ``check`` (tools/checking.py) and its diagnoses
(tools/diagnoses.py) use this module; it decides nothing about right or wrong.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from matdiff.api import declared_sizes
from matdiff.backward import gradients
from matdiff.engine.lowering import lower
from matdiff.engine.numeric import evaluate as evaluate_ir
from matdiff.errors import MatdiffError
from matdiff.language.assumptions import Assumptions
from matdiff.language.syntax import Call, Name, Node, Program, Statement, children, parse, unparse
from matdiff.tools.backprop import backprop

SIZES_OF = ("eye", "ones")  # functions whose arguments are sizes, not values


class Claim:
    """The claim as a program over the expression's names (the assignments of ``context`` first),
    and its value at given values."""

    def __init__(self, context: tuple, claim: Program, shapes: dict):
        self.program = Program(context + claim.statements, claim.source)
        self.shapes = shapes
        self.lowered = lower(self.program, shapes)
        self.surface = self.lowered.value.surface()

    def value(self, values: dict) -> np.ndarray:
        """The claim at ``values``; sizes come from every input's value, so ``ones(n)`` works in a
        claim that does not use the input that has n."""
        lowered = self.lowered
        result = evaluate_ir(lowered.value.node, values, positions=lowered.positions, source=self.program.source,
                             variables={n: v.node for n, v in lowered.variables.items()},
                             extra_sizes=declared_sizes(values, self.shapes))
        result = np.asarray(result, dtype=float)
        if result.ndim == 1 and lowered.value.row:
            return result.reshape(1, -1)
        return canonical(result)


def canonical(array) -> np.ndarray:
    """Scalars as 1×1, vectors as columns: how the language shows values. A tensor with axes of
    length 1 (∂x'/∂x in numerator layout is 1×3×3) loses them, as its printed matrix form does."""
    array = np.asarray(array, dtype=float)
    if array.ndim > 2 and 1 in array.shape:
        array = array.reshape([n for n in array.shape if n != 1])
    if array.ndim == 0:
        return array.reshape(1, 1)
    if array.ndim == 1:
        return array.reshape(-1, 1)
    return array


def close(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal numbers (relative to b's size), in the same shape, all finite."""
    if a.shape != b.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
    return bool(np.all(np.isfinite(a)) and np.allclose(a, b, rtol=1e-7, atol=1e-9 * scale))


def parts(node: Node) -> Iterator[Node]:
    """Every part of a formula, outermost first (not the sizes in eye(n), ones(m, n))."""
    stack = [node]
    while stack:
        part = stack.pop()
        yield part
        stack.extend(reversed(subformulas(part)))


def subformulas(node: Node) -> list[Node]:
    """A part's operands that are values (a call of eye or ones has only sizes)."""
    return [] if isinstance(node, Call) and node.function in SIZES_OF else children(node)


def names_in(node: Node) -> set[str]:
    """The variable names a formula uses."""
    return {part.name for part in parts(node) if isinstance(part, Name)}


def backward_pass_names(program: Program, expression: str, inputs: dict, shapes: dict | None,
                        assume: Assumptions, output: str) -> dict[str, tuple[Statement, str]]:
    """For a scalar program: name -> (its assignment, what it stands for) for the backprop view's
    deltas and gradients (dz2 = ∂L/∂z2, dW2, with ``output`` the loss's name) and the names
    ``grads`` prints (the same), each defined over the program's names, in an order that defines every
    name before its use; {} when they do not all typecheck after the program's assignments."""
    taken = {s.target for s in program.statements if s.target} | set(inputs)
    formulas: list[tuple[str, str | None, str]] = []
    try:
        view = backprop(lower(program, inputs, assume=assume), output=output, assume=assume)
        formulas += [(g.symbol, g.formula, f"∂{view.loss}/∂{g.name}") for g in view.order]
    except MatdiffError:
        pass
    try:
        backward = gradients(expression, shapes=shapes, assume=assume).text
        formulas += [(s.target, unparse(s.value), "as `matdiff grads` defines it")
                     for s in (parse(backward).statements if backward else ()) if s.target]
    except MatdiffError:
        pass
    found: dict[str, tuple[Statement, str]] = {}
    for name, formula, meaning in formulas:
        if formula is None or name in taken or name in found:
            continue
        try:
            statement = parse(f"{name} = {formula}").statements[0]
        except MatdiffError:
            continue
        if names_in(statement.value) <= taken | set(found):
            found[name] = (statement, meaning)
    try:
        lower(Program(program.statements[:-1] + tuple(s for s, _ in found.values()), expression), inputs)
    except MatdiffError:
        return {}
    return found
