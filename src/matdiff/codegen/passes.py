"""Generated code in the order of the reverse pass: the forward values, one delta per step, the
gradients — the same statements ``d.text`` and ``matdiff grads`` print.

A derivative's IR is one DAG over the inputs. Simplified as a whole, a network's gradient fuses into
a single contraction of every weight, activation and derivative factor, and no contraction order of
that is as cheap as backprop: a greedy order built a 64 GiB intermediate for a 4-layer MLP. The
printed matrix program already has backprop's structure, so code is generated from it: each
statement is lowered on its own, with the earlier statements' names as opaque inputs, simplified
and planned within that statement only (a matrix product, a Hadamard product, a few operands), and
bound to its printed name. No intermediate is larger than an input, an activation or a result, and
the products are those a person would write, in that order.

When there is no matrix program (a fourth-order Jacobian, a commutation matrix), the caller falls
back to planning the whole IR (:mod:`matdiff.codegen.contraction`).
"""

from __future__ import annotations

from dataclasses import dataclass

from matdiff.engine import ir
from matdiff.engine.lowering import lower
from matdiff.engine.primitives import reapply
from matdiff.errors import MatdiffError
from matdiff.language.assumptions import Assumptions
from matdiff.language.syntax import parse
from matdiff.notation.naming import fresh
from matdiff.notation.printing import text as matrix_text


@dataclass(frozen=True)
class StatementProgram:
    """Statements (name, node) in order, each node reading the inputs and earlier names as ``var``
    nodes; ``names`` maps each statement's name to its ``var`` node; ``results`` are the nodes of
    the values asked for; ``inlined`` maps the id of each statement's node written over the inputs
    alone to that statement's ``var`` node (to find the forward values inside the program's value)."""

    statements: tuple[tuple[str, ir.Tensor], ...]
    names: dict[str, ir.Tensor]
    results: tuple[ir.Tensor, ...]
    inlined: dict[int, ir.Tensor]

    def over_statements(self, node: ir.Tensor) -> ir.Tensor:
        """``node`` (over the inputs) with every subexpression a statement computes read from it."""
        return _over_names(node, self.inlined, {})


def statement_program(statements: list, results: list, inputs: dict[str, ir.Tensor], shapes: list[tuple],
                      assume: Assumptions) -> StatementProgram | None:
    """Lower printed statements (name, MatrixExpr) and result expressions (MatrixExpr or IR) as one
    program, then read each statement over the earlier statements' names; None when the printed
    program does not read back to the inputs and shapes expected (then the whole IR is used)."""
    order = [name for name, _ in statements]
    taken = set(order) | set(inputs)
    if len(set(order)) < len(order) or set(order) & set(inputs):
        return None
    result_names = [fresh("result", taken) for _ in results]
    lines = [f"{name} = {matrix_text(body)}" for name, body in statements]
    lines += [f"{name} = {matrix_text(body)}" for name, body in zip(result_names, results) if not isinstance(body, ir.Tensor)]
    if not lines:
        return None
    try:
        lowered = lower(parse("; ".join(lines) + "; " + lines[-1].split(" = ", 1)[0]),
                        {name: node.shape for name, node in inputs.items()}, assume=assume)
    except MatdiffError:
        return None
    if any(value.node is not inputs.get(name) for name, value in lowered.variables.items()):
        return None
    names: dict[str, ir.Tensor] = {}
    inlined: dict[int, ir.Tensor] = {}  # id of a statement's node over the inputs -> its name's var
    memo: dict[int, ir.Tensor] = {}
    lowered_statements: list[tuple[str, ir.Tensor]] = []
    for name in order:
        over_inputs = lowered.assigned[name].node
        node = elementwise_products_in_order(_over_names(over_inputs, inlined, memo))
        names[name] = ir.var(name, over_inputs.shape)
        lowered_statements.append((name, node))
        inlined.setdefault(id(over_inputs), names[name])
    nodes = []
    for body, result_name, shape in zip(results, result_names, shapes):
        node = body if isinstance(body, ir.Tensor) else _over_names(lowered.assigned[result_name].node, inlined, memo)
        if tuple(node.shape) != tuple(shape):
            if ir.dim_product(node.shape or (1,)) != ir.dim_product(tuple(shape) or (1,)):
                return None
            node = ir.reshape(node, tuple(shape))
        nodes.append(node)
    return StatementProgram(tuple(lowered_statements), names, tuple(nodes), inlined)


def _over_names(root: ir.Tensor, inlined: dict[int, ir.Tensor], memo: dict[int, ir.Tensor]) -> ir.Tensor:
    """``root`` with each earlier statement's node replaced by its name's var; ``memo`` is shared by
    the statements, so the program is walked once in all, not once per statement."""
    if id(root) in inlined:  # a statement that repeats an earlier one reads it
        return inlined[id(root)]
    pending = [(root, False)]
    while pending:
        node, ready = pending.pop()
        if id(node) in memo:
            continue
        if ready:
            args = [inlined.get(id(a)) or memo[id(a)] for a in node.args]
            memo[id(node)] = node if all(a is b for a, b in zip(args, node.args)) else reapply(node, args)
            continue
        pending.append((node, True))
        pending.extend((a, False) for a in node.args if id(a) not in inlined and id(a) not in memo)
    return memo[id(root)]


def elementwise_products_in_order(node: ir.Tensor) -> ir.Tensor:
    """``node`` with the factors of each elementwise product in one order (by their structure), so a
    delta printed twice with its factors swapped (``(1 - a7.^2).*(W8'*dz8)`` and
    ``(W8'*dz8).*(1 - a7.^2)``) becomes one node and is computed once."""
    keys: dict[int, str] = {}
    memo: dict[int, ir.Tensor] = {}
    for part in ir.postorder(node):
        args = [memo[id(a)] for a in part.args]
        if part.op == "einsum":
            inputs, output = part.params
            if all(labels == output or not labels for labels in inputs) and len(set(output)) == len(output):
                pairs = sorted(zip(args, inputs), key=lambda pair: keys[id(pair[0])])
                args, inputs = [a for a, _ in pairs], tuple(labels for _, labels in pairs)
                rebuilt = ir.einsum(output, *zip(args, inputs))
            else:
                rebuilt = reapply(part, args)
        else:
            rebuilt = part if all(a is b for a, b in zip(args, part.args)) else reapply(part, args)
        memo[id(part)] = rebuilt
        keys[id(part)] = keys.get(id(rebuilt)) or _structure_key(rebuilt, keys)
        keys[id(rebuilt)] = keys[id(part)]
    return memo[id(node)]


def _structure_key(node: ir.Tensor, keys: dict[int, str]) -> str:
    """A deterministic text of a node's structure from its operands' keys (a statement is small)."""
    return f"{node.op}{node.params!r}{node.shape!r}(" + ",".join(keys[id(a)] for a in node.args) + ")"
