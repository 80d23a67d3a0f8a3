"""How the engine differentiates: each IR op's vector-Jacobian product, and rebuilding a node.

The functions of the language are records in engine/functions.py (an elementwise one brings its
f'(x), the others their VJP); the structural ops (einsum, add, reshape, power) have their VJPs here,
each with the identity it implements.

A VJP rule receives the node, which operand, the incoming cotangent G of shape
``lead + node.shape`` and the number of leading axes; it returns the contribution to
that operand's cotangent, of shape ``lead + operand.shape`` (a zero is the constant 0,
the one symbolic zero: ``ir.is_zero``). The leading axes carry the output's own indices, so the
same rules give full Jacobians, Hessians and gradients.
"""

from __future__ import annotations

from typing import Callable

from matdiff.engine.functions import ENTRIES, FUNCTIONS, lead_axes
from matdiff.engine.ir import (
    Tensor,
    add,
    apply,
    const,
    einsum,
    postorder,
    power,
    reshape,
    scale,
)


def elementwise_derivative(node: Tensor) -> Tensor:
    """f'(x) for the elementwise node y = f(x), as a tensor of x's shape."""
    (x,) = node.args
    if node.op == "constant_power":
        exponent = node.params[0]
        return scale(exponent, apply("constant_power", x, exponent - 1.0))  # d/dx x^p = p·x^(p-1)
    derivative = FUNCTIONS[node.op].derivative
    assert derivative is not None
    return derivative(x, node)


def is_elementwise(op: str) -> bool:
    return op == "constant_power" or (op in FUNCTIONS and FUNCTIONS[op].acts == ENTRIES)


# ----- Vector-Jacobian products of the structural ops --------------------------------


def vjp_einsum(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """Product rule for a multilinear contraction: the cotangent of operand k is G
    contracted with every other operand, indexed like operand k."""
    inputs, output = node.params
    lead = lead_axes(n_lead)
    others = [(a, labels) for m, (a, labels) in enumerate(zip(node.args, inputs)) if m != k]
    sizes = dict(zip(inputs[k], node.args[k].shape))
    return einsum(lead + list(inputs[k]), (G, lead + list(output)), *others, sizes=sizes)


def vjp_add(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """d(a + b) = da + db."""
    return G


def vjp_reshape(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """A reshape is linear; its transpose is the inverse reshape."""
    return reshape(G, G.shape[:n_lead] + node.args[0].shape)


def vjp_elementwise(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """Chain rule through a diagonal Jacobian: G ⊙ f'(x)."""
    derivative = elementwise_derivative(node)
    lead, own = lead_axes(n_lead), list(range(node.rank))
    return einsum(lead + own, (G, lead + own), (derivative, own))


def vjp_power(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """y = x.^e: ∂y/∂x = e.*x.^(e - 1), ∂y/∂e = y.*log(x) (elementwise, so diagonal)."""
    base, exponent = node.args
    own = list(range(node.rank))
    if k == 0:
        lowered = add(exponent, const(-1.0, exponent.shape))
        local = einsum(own, (exponent, own[:exponent.rank]), (power(base, lowered), own))
    else:
        local = einsum(own, (node, own), (apply("log", base), own[:base.rank]))
    lead = lead_axes(n_lead)
    operand = own if node.args[k].rank else []  # a scalar operand sums the contributions of every entry
    return einsum(lead + operand, (G, lead + own), (local, own))


VJP: dict[str, Callable] = {
    "power": vjp_power,
    "einsum": vjp_einsum,
    "add": vjp_add,
    "reshape": vjp_reshape,
}


def vjp(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    if is_elementwise(node.op):
        return vjp_elementwise(node, k, G, n_lead)
    if node.op in FUNCTIONS:
        rule = FUNCTIONS[node.op].vjp
        assert rule is not None
        return rule(node, k, G, n_lead)
    return VJP[node.op](node, k, G, n_lead)


# ----- The same operation over new operands ---------------------------------------------


def reapply(node: Tensor, args: list[Tensor]) -> Tensor:
    """The same operation applied to new operands (through the simplifying factories)."""
    if node.op == "einsum":
        inputs, output = node.params
        return einsum(output, *zip(args, inputs))
    if node.op == "add":
        return add(*args)
    if node.op == "reshape":
        return reshape(args[0], node.shape)
    if node.op == "power":
        return power(args[0], args[1])
    if node.op == "constant_power":
        return apply("constant_power", args[0], *node.params)
    if node.op in FUNCTIONS:
        return FUNCTIONS[node.op](args[0])
    raise AssertionError(f"cannot reapply a {node.op} node")


def substitute(root: Tensor, replacements: dict[int, Tensor]) -> Tensor:
    """``root`` with nodes replaced (keys are ids of nodes in the DAG), rebuilt bottom-up."""
    memo: dict[int, Tensor] = dict(replacements)
    for node in postorder(root, stop=lambda n: id(n) in replacements):  # not inside what is replaced
        if id(node) in memo:
            continue
        new_args = [memo[id(a)] for a in node.args]
        if all(n is a for n, a in zip(new_args, node.args)):
            memo[id(node)] = node
        else:
            memo[id(node)] = reapply(node, new_args)
    return memo[id(root)]
