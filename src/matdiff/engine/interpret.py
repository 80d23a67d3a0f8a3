"""One walk over the IR for every kind of value: the numbers (:mod:`matdiff.engine.numeric`) and the
SymPy entries (:mod:`matdiff.tools.componentwise`) are the same traversal with another algebra.

An :class:`Algebra` says how one kind of array computes each op: the structural ops of the IR
(``var``, ``const``, ``eye``, ``einsum``, ``add``, ``reshape`` and the two powers) one by one, and
every function of the language through its record in the primitives table (its ``numpy`` field,
or its ``sympy`` one). A new function is one record: both algebras pick it up from the table.

:func:`interpret` visits each node once, arguments first, and drops each intermediate after the
last node that reads it, so that a long chain holds two or three values at a time, not all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from matdiff.engine.ir import Tensor, postorder
from matdiff.engine.functions import FUNCTIONS, Function

STRUCTURAL_OPS = frozenset({"var", "const", "eye", "einsum", "add", "reshape", "constant_power", "power"})

# (node, argument values, concrete shape) -> the node's value
Evaluator = Callable[[Tensor, list, tuple], Any]


@dataclass(frozen=True)
class Algebra:
    """How one kind of array computes each op of the IR."""

    structural: Mapping[str, Evaluator]  # how to compute each name in STRUCTURAL_OPS
    function: Callable[[Function, Any], Any]  # a record of the primitives table applied to a value

    def apply(self, node: Tensor, args: list, shape: tuple) -> Any:
        if node.op in FUNCTIONS:
            return self.function(FUNCTIONS[node.op], args[0])
        return self.structural[node.op](node, args, shape)


def interpret(root: Tensor, compute: Evaluator, shape_of: Callable[[Tensor], tuple], *,
              kept: Callable[[Tensor, Any], None] | None = None,
              dropped: Callable[[Tensor, Any], None] | None = None) -> Any:
    """The value of ``root``: ``compute(node, args, shape)`` for each node in post order, with the
    concrete shape ``shape_of(node)`` gives (which may refuse one too large). ``kept`` hears of
    each value as it is stored, ``dropped`` of each intermediate freed after its last reader: a
    caller bounds what is held at once with them."""
    nodes = postorder(root)
    last_use = {id(arg): position for position, node in enumerate(nodes) for arg in node.args}
    results: dict[int, Any] = {}
    for position, node in enumerate(nodes):
        shape = shape_of(node)
        value = compute(node, [results[id(a)] for a in node.args], shape)
        if kept is not None:
            kept(node, value)
        results[id(node)] = value
        for arg in node.args:  # free what no later node reads
            if last_use[id(arg)] == position and arg is not root and id(arg) in results:
                freed = results.pop(id(arg))
                if dropped is not None:
                    dropped(arg, freed)
    return results[id(root)]
