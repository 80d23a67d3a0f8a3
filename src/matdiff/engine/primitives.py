"""The table of primitives: for each IR op, its numbers, its derivative and its names.

This is the one place that says what an operation *means*. Each elementwise
function is one line: its NumPy implementation and its derivative f'(x), written
with the IR factories and allowed to reuse the node's own value y = f(x) (so
sigmoid' is y.*(1 - y) and exp' is y itself). The structural ops (einsum, add,
reshape, inv, det, logdet) have their vector-Jacobian products below, each with
the identity it implements.

A VJP rule receives the node, which operand, the incoming cotangent G of shape
``lead + node.shape`` and the labels of the leading axes; it returns the
contribution to that operand's cotangent, of shape ``lead + operand.shape``, or
None for a symbolic zero. The leading axes carry the output's own indices, so the
same rules give full Jacobians, Hessians and gradients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


from matdiff.engine.ir import (
    Tensor,
    add,
    apply,
    const,
    einsum,
    matrix_function,
    postorder,
    power,
    reshape,
    scale,
)


class _LazyNumpy:
    """NumPy, imported on first use: parsing and differentiating need no numbers, and the CLI
    starts faster without it."""

    def __getattr__(self, name):
        import numpy

        return getattr(numpy, name)


np = _LazyNumpy()


def _one_minus(y: Tensor) -> Tensor:
    return add(const(1.0, y.shape), scale(-1.0, y))


def _times(left: Tensor, right: Tensor) -> Tensor:
    labels = tuple(range(left.rank))
    return einsum(labels, (left, labels), (right, labels))


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow warnings, unlike 1/(1+exp(-x))


@dataclass(frozen=True)
class Elementwise:
    """An elementwise function: numbers and derivative f'(x) given x and y = f(x)."""

    numpy: Callable
    derivative: Callable[[Tensor, Tensor], Tensor | None]


# ----- Elementwise functions ---------------------------------------------------------
# name:      Elementwise(numpy,                              derivative (x, y = f(x)))
ELEMENTWISE: dict[str, Elementwise] = {
    "exp":      Elementwise(lambda x: np.exp(x),                lambda x, y: y),
    "log":      Elementwise(lambda x: np.log(x),                lambda x, y: apply("pow", x, -1.0)),
    "sin":      Elementwise(lambda x: np.sin(x),                lambda x, y: apply("cos", x)),
    "cos":      Elementwise(lambda x: np.cos(x),                lambda x, y: scale(-1.0, apply("sin", x))),
    "tan":      Elementwise(lambda x: np.tan(x),                lambda x, y: add(const(1.0, y.shape), apply("pow", y, 2.0))),
    "tanh":     Elementwise(lambda x: np.tanh(x),               lambda x, y: _one_minus(apply("pow", y, 2.0))),
    "sigmoid":  Elementwise(_sigmoid,                           lambda x, y: _times(y, _one_minus(y))),
    "relu":     Elementwise(lambda x: np.maximum(x, 0.0),       lambda x, y: apply("step", x)),
    "softplus": Elementwise(lambda x: np.logaddexp(0.0, x),     lambda x, y: apply("sigmoid", x)),
    "sqrt":     Elementwise(lambda x: np.sqrt(x),               lambda x, y: scale(0.5, apply("pow", y, -1.0))),
    "abs":      Elementwise(lambda x: np.abs(x),                lambda x, y: apply("sign", x)),
    "step":     Elementwise(lambda x: (x > 0).astype(float),    lambda x, y: None),
    "sign":     Elementwise(lambda x: np.sign(x),               lambda x, y: None),
}


def _power_derivative(x: Tensor, exponent: float) -> Tensor:
    """d/dx x^p = p·x^(p-1)."""
    return scale(exponent, apply("pow", x, exponent - 1.0))


def elementwise_derivative(node: Tensor) -> Tensor | None:
    """f'(x) for the elementwise node y = f(x), as a tensor of x's shape."""
    (x,) = node.args
    if node.op == "pow":
        return _power_derivative(x, node.params[0])
    return ELEMENTWISE[node.op].derivative(x, node)


def is_elementwise(op: str) -> bool:
    return op == "pow" or op in ELEMENTWISE


# ----- Vector-Jacobian products of the structural ops --------------------------------


def _lead(count: int) -> list:
    return [("lead", i) for i in range(count)]


def vjp_einsum(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """Product rule for a multilinear contraction: the cotangent of operand k is G
    contracted with every other operand, indexed like operand k."""
    inputs, output = node.params
    lead = _lead(n_lead)
    others = [(a, labels) for m, (a, labels) in enumerate(zip(node.args, inputs)) if m != k]
    sizes = dict(zip(inputs[k], node.args[k].shape))
    return einsum(lead + list(inputs[k]), (G, lead + list(output)), *others, sizes=sizes)


def vjp_add(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """d(a + b) = da + db."""
    return G


def vjp_reshape(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """A reshape is linear; its transpose is the inverse reshape."""
    return reshape(G, G.shape[:n_lead] + node.args[0].shape)


def vjp_elementwise(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor | None:
    """Chain rule through a diagonal Jacobian: G ⊙ f'(x)."""
    derivative = elementwise_derivative(node)
    if derivative is None:
        return None
    lead, own = _lead(n_lead), list(range(node.rank))
    return einsum(lead + own, (G, lead + own), (derivative, own))


def vjp_inv(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """d(X⁻¹) = −X⁻¹·dX·X⁻¹, so ∂Y_ab/∂X_cd = −Y_ac·Y_db."""
    lead = _lead(n_lead)
    return einsum(lead + ["c", "d"], (G, lead + ["a", "b"]), (node, ["a", "c"]), (node, ["d", "b"]),
                  (const(-1.0), []))


def vjp_det(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """∂det(X)/∂X = det(X)·X⁻ᵀ (Jacobi's formula)."""
    lead = _lead(n_lead)
    inverse = matrix_function("inv", node.args[0])
    return einsum(lead + ["c", "d"], (G, lead), (node, []), (inverse, ["d", "c"]))


def vjp_logdet(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """∂log det(X)/∂X = X⁻ᵀ."""
    lead = _lead(n_lead)
    inverse = matrix_function("inv", node.args[0])
    return einsum(lead + ["c", "d"], (G, lead), (inverse, ["d", "c"]))


def vjp_power(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """y = x.^e: ∂y/∂x = e.*x.^(e - 1), ∂y/∂e = y.*log(x) (elementwise, so diagonal)."""
    base, exponent = node.args
    own = list(range(node.rank))
    if k == 0:
        lowered = add(exponent, const(-1.0, exponent.shape))
        local = einsum(own, (exponent, own[:exponent.rank]), (power(base, lowered), own))
    else:
        local = einsum(own, (node, own), (apply("log", base), own[:base.rank]))
    lead = _lead(n_lead)
    operand = own if node.args[k].rank else []  # a scalar operand sums the contributions of every entry
    return einsum(lead + operand, (G, lead + own), (local, own))


VJP: dict[str, Callable] = {
    "power": vjp_power,
    "einsum": vjp_einsum,
    "add": vjp_add,
    "reshape": vjp_reshape,
    "inv": vjp_inv,
    "det": vjp_det,
    "logdet": vjp_logdet,
}


def vjp(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor | None:
    if is_elementwise(node.op):
        return vjp_elementwise(node, k, G, n_lead)
    return VJP[node.op](node, k, G, n_lead)


# ----- Rebuilding a node over new operands ---------------------------------------------


def rebuild(node: Tensor, args: list[Tensor]) -> Tensor:
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
    if node.op in ("inv", "det", "logdet"):
        return matrix_function(node.op, args[0])
    if is_elementwise(node.op):
        return apply(node.op, args[0], *node.params)
    raise AssertionError(f"cannot rebuild a {node.op} node")


def substitute(root: Tensor, replacements: dict[int, Tensor]) -> Tensor:
    """``root`` with nodes replaced (keys are ids of nodes in the DAG), rebuilt bottom-up."""
    memo: dict[int, Tensor] = dict(replacements)
    for node in postorder(root):
        if id(node) in memo:
            continue
        new_args = [memo[id(a)] for a in node.args]
        if all(n is a for n, a in zip(new_args, node.args)):
            memo[id(node)] = node
        else:
            memo[id(node)] = rebuild(node, new_args)
    return memo[id(root)]
