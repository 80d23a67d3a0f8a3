"""Reverse-mode symbolic differentiation of an IR DAG.

The derivative of Y (shape S_Y) with respect to a variable X (shape S_X) is the
Jacobian tensor J of shape S_Y + S_X. It is found the way backprop finds a
gradient: start from the identity ∂Y/∂Y (a product of Kronecker deltas) and
push cotangents from the output to the inputs, each node applying its VJP rule
from :mod:`matdiff.engine.primitives`. The cotangents carry S_Y as leading axes, so one
pass gives the whole Jacobian, and differentiating a Jacobian again gives
Hessians. Every node is visited once (the DAG is shared), so the cost is linear
in the size of the expression.

A product of many factors is the one place where that could fail: the product rule
gives each of its n factors the product of the other n − 1, n² operands in all, and a
third derivative of a depth-100 nest would hold millions of nodes. Such a product
shares its prefix and suffix products among the factors instead (the "all but one"
products of :func:`all_but_one`), so each order stays linear in the size of the last.
"""

from __future__ import annotations

from matdiff.engine.ir import Tensor, add, const, einsum, eye, is_zero, postorder
from matdiff.engine.primitives import vjp

# Products of more factors than this differentiate through shared prefix and suffix products;
# smaller ones factor by factor, as the textbook writes them (the printed forms people expect).
LONG_PRODUCT = 6


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
    return jacobians(output, (variable,))[0]


def jacobians(output: Tensor, variables: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """∂output/∂v for each v of ``variables`` from one reverse pass: a backward pass gives every
    gradient at the cost of one, because the cotangents of the shared nodes are found once."""
    n_lead = output.rank
    order = postorder(output)
    wanted = {id(v) for v in variables}
    found: dict[int, Tensor] = {}
    cotangents: dict[int, list[Tensor]] = {id(output): [seed(output.shape)]}
    for node in reversed(order):
        parts = cotangents.pop(id(node), None)
        if not parts:
            continue
        G = add(*parts) if len(parts) > 1 else parts[0]
        if id(node) in wanted:
            found[id(node)] = G
            if len(found) == len(wanted):
                break
            continue  # a variable is a leaf: nothing flows on
        if is_zero(G):
            continue
        long_product = node.op == "einsum" and len(node.args) > LONG_PRODUCT
        contributions = all_but_one(node, G, n_lead) if long_product else \
            [vjp(node, k, G, n_lead) for k in range(len(node.args))]
        for argument, contribution in zip(node.args, contributions):
            if not is_zero(contribution):
                cotangents.setdefault(id(argument), []).append(contribution)
    return tuple(found.get(id(v), const(0.0, output.shape + v.shape)) for v in variables)


def all_but_one(node: Tensor, G: Tensor, n_lead: int) -> list[Tensor]:
    """The product rule for every factor of a contraction at once, in linear size.

    Factor k's cotangent is G contracted with the product of factors 0..k-1 (a prefix,
    built from the previous one by one more factor) and of factors k+1..n-1 (a suffix,
    likewise), each keeping only the indices the other side, G or factor k still needs.
    """
    inputs, output = node.params
    operands = list(zip(node.args, inputs))
    sizes = {label: size for arg, labels in operands for label, size in zip(labels, arg.shape)}
    lead = [("lead", i) for i in range(n_lead)]

    def partial_products(items: list) -> list:
        """products[k] = (node, labels) of items[:k], keeping what items[k:] or the output use."""
        later = [set(output)]  # later[j]: the labels of items[len - j:] and of the output
        for _, labels in reversed(items[1:]):
            later.append(later[-1] | set(labels))
        products: list = [None]
        for k, (arg, labels) in enumerate(items[:-1]):
            needed = later[len(items) - 1 - k]
            previous = products[-1]
            factors = [(arg, labels)] + ([previous] if previous is not None else [])
            kept = list(dict.fromkeys(label for _, ls in factors for label in ls if label in needed))
            products.append((einsum(kept, *factors), kept))
        return products

    prefixes = partial_products(operands)
    suffixes = partial_products(operands[::-1])[::-1]
    contributions = []
    for k, (arg, labels) in enumerate(operands):
        others = [p for p in (prefixes[k], suffixes[k]) if p is not None]
        own = {label: sizes[label] for label in labels}
        contributions.append(einsum(lead + list(labels), (G, lead + list(output)), *others, sizes=own))
    return contributions
