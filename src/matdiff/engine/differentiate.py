"""Reverse-mode symbolic differentiation of an IR DAG.

The derivative of Y (shape S_Y) with respect to a variable X (shape S_X) is the
Jacobian tensor J of shape S_Y + S_X. It is found the way backprop finds a
gradient: start from the identity ∂Y/∂Y (a product of Kronecker deltas) and
push cotangents from the output to the inputs, each node applying its VJP rule
from :mod:`matdiff.engine.primitives`. The cotangents carry S_Y as leading axes, so one
pass gives the whole Jacobian, and differentiating a Jacobian again gives
Hessians. Every node is visited once (the DAG is shared), so the cost is linear
in the size of the expression.
"""

from __future__ import annotations

from matdiff.engine.ir import Tensor, add, const, einsum, eye, postorder
from matdiff.engine.primitives import vjp


def seed(shape: tuple) -> Tensor:
    """∂Y/∂Y: δ over each axis, of shape S_Y + S_Y (the number 1 for a scalar)."""
    if not shape:
        return const(1.0)
    rank = len(shape)
    output = [("y", i) for i in range(rank)] + [("x", i) for i in range(rank)]
    deltas = [(eye(n), (("y", i), ("x", i))) for i, n in enumerate(shape)]
    return einsum(output, *deltas)


def jacobian(output: Tensor, variable: Tensor) -> Tensor:
    """J = ∂output/∂variable, shape output.shape + variable.shape (zero if unused)."""
    n_lead = output.rank
    order = postorder(output)
    cotangents: dict[int, list[Tensor]] = {id(output): [seed(output.shape)]}
    for node in reversed(order):
        parts = cotangents.pop(id(node), None)
        if not parts:
            continue
        G = add(*parts) if len(parts) > 1 else parts[0]
        if node is variable:
            return G
        if G.op == "const" and G.params[0] == 0.0:
            continue
        for k, argument in enumerate(node.args):
            contribution = vjp(node, k, G, n_lead)
            if contribution is not None and not (contribution.op == "const" and contribution.params[0] == 0.0):
                cotangents.setdefault(id(argument), []).append(contribution)
    return const(0.0, output.shape + variable.shape)
