"""Which nodes of a derivative get a name, and which name: the user's own (``a2``) for their
intermediates, else one after the node's function (``s`` for a sigmoid, ``H`` for a hidden layer),
fresh beside every name in use. Shared by the matrix form's bindings and the index form."""

from __future__ import annotations

import re

from matdiff.engine.ir import Tensor, postorder
from matdiff.engine.functions import FUNCTIONS


_LEAVES = ("var", "const", "eye")
NUMBERED = re.compile(r"[A-Za-z]+_?(\d+)")


def preactivation_name(activation: str) -> str:
    """The name of the argument of ``a3 = sigmoid(W3*a2)`` when the user gave it none: z3, the
    textbook's z beside its a (z_h for h = sigmoid(W*x)). The delta ∂L/∂z3 is then dz3 in every
    view: the answer, ``grads``, ``explain``'s backward pass and the claims ``check`` reads."""
    numbered = NUMBERED.fullmatch(activation)
    return "z" + numbered.group(1) if numbered else "z_" + activation


def invented_name(node: Tensor) -> str:
    """A name that reads forwards: a layer's activation after its weight's number, as the user
    numbers layers (a1 = sigmoid(W1*X), a2 = sigmoid(W2*a1 + b2)); else after the function (s for a
    sigmoid of a vector, S of a matrix); else P for a matrix, u for a vector."""
    record = FUNCTIONS.get(node.op)  # its facts, read here (a function registered later has them too)
    if node.op == "exp" or (record and record.activation):  # a layer: a<k> after its weight
        layer = _layer_number(node.args[0])
        if layer is not None:
            return "a" + layer
    short = "r" if node.op == "add" else record.short if record and record.short else ""
    if node.rank == 2:  # in capitals, as books name a layer on a batch: H = relu(W*X), R = W'*H - X
        return (record.matrix_short if record and record.matrix_short else "") or (short or "P").upper()
    return short or "u"


def _layer_number(preactivation: Tensor) -> str | None:
    """The number of the weight matrix in W*x or W*x + b (W2 → "2"), if it has one."""
    terms = preactivation.args if preactivation.op == "add" else (preactivation,)
    weights = [candidate.params[0] for term in terms for operand in (term.args if term.op == "einsum" else ())
               for candidate in (operand,) + (operand.args if _is_view(operand) else ())
               if candidate.op == "var" and candidate.rank == 2]
    return layer_number(weights)


def layer_number(weights) -> str | None:
    """The number of the first numbered weight among the names ``weights`` (W2 → "2"): a layer's
    number, for the IR's contractions and the matrix tree's products alike."""
    for name in weights:
        match = NUMBERED.fullmatch(name)
        if match:
            return match.group(1)
    return None


def _is_view(node: Tensor) -> bool:
    """A transpose or scaling of one tensor: printed as that tensor with a mark."""
    return node.op == "einsum" and sum(1 for a in node.args if not (a.op == "const" and a.rank == 0)) <= 1


def _is_small(node: Tensor) -> bool:
    """Built from leaves (or views of leaves) alone, as W*x or inv(X): cheaper to repeat than to name."""
    def simple(a: Tensor) -> bool:
        return a.op in _LEAVES or (_is_view(a) and all(b.op in _LEAVES for b in a.args))
    return all(simple(a) for a in node.args)


MAX_NESTING = 12  # levels of unnamed operands a printer may recurse through (six layers of a nest)


def choose_names(roots: list[Tensor], *, assigned: dict, reserved: set, max_rank: int | None = 2,
                 nested: set | None = None) -> dict[int, str]:
    """id(node) → name for each node that would otherwise be printed twice or more.

    Parents are decided before children: a node is printed once per print of each
    parent, or once in all if the parent is itself named. ``assigned`` maps the user's
    intermediate names to (node, is_row); ``reserved`` holds names already taken;
    nodes of rank above ``max_rank`` (the matrix form's 2; None for the index form,
    which names tensors of any rank) stay unnamed. ``nested`` receives the names given only to
    break a deep nesting (every MAX_NESTING levels), which a printed program keeps though used once.
    """
    user_names: dict[int, str] = {}
    for name, (node, row) in assigned.items():
        if not row and name not in reserved:
            user_names.setdefault(id(node), name)
    taken = set(reserved) | set(assigned)
    order: list[Tensor] = []
    seen: set[int] = set()
    for root in roots:
        for node in postorder(root):
            if id(node) not in seen:
                seen.add(id(node))
                order.append(node)
    prints: dict[int, int] = {id(root): 0 for root in roots}
    for root in roots:
        prints[id(root)] += 1
    names: dict[int, str] = {}
    numbers: dict[str, int] = {}
    constant: dict[int, bool] = {}  # of numbers alone (1/sqrt(8)): written where used, never named
    for node in order:
        constant[id(node)] = node.op == "const" or (node.op not in _LEAVES and all(constant[id(a)] for a in node.args))

    def nameable(node: Tensor) -> bool:
        return (max_rank is None or node.rank <= max_rank) and node.op not in _LEAVES and not _is_view(node) \
            and not constant[id(node)]

    folded = frozenset(name.lower() for name in taken)  # the user's names, and those reserved

    def name_of(node: Tensor) -> str:
        if id(node) in user_names:
            return user_names[id(node)]
        base = invented_name(node)
        if base not in taken and base.lower() in folded:  # Y beside the user's y: the plain letters instead
            base = "P" if node.rank == 2 else "u"
        return fresh(base, taken, numbers=numbers, folded=folded)

    for node in reversed(order):  # parents before children
        count = prints.get(id(node), 0)
        bound = False
        if count >= 2 and nameable(node) and (id(node) in user_names or not _is_small(node)):
            names[id(node)] = name_of(node)
            bound = True
        for arg in node.args:
            prints[id(arg)] = prints.get(id(arg), 0) + (1 if bound else count)
    # The printers recurse through unnamed operands: a name every MAX_NESTING levels of a long
    # unnamed nesting (a 10,000-factor product, a chain of single-use values) bounds their
    # depth, however long the program.
    height: dict[int, int] = {}
    for node in order:  # children first
        levels = 1 + max((height[id(a)] for a in node.args), default=-1)
        if id(node) not in names and levels >= MAX_NESTING and nameable(node) and prints.get(id(node), 0):
            names[id(node)] = name_of(node)
            if nested is not None:
                nested.add(names[id(node)])
        height[id(node)] = 0 if id(node) in names else levels
    return names


def fresh(base: str, taken: set, separator: str = "", numbers: dict | None = None, folded: frozenset = frozenset()) -> str:
    """base, or base2, base3, … (base_2, … with ``separator="_"``) — the first not taken (and now taken).

    ``numbers`` (base → the next number to try), kept by a caller that asks for many names,
    makes the thousandth ``u`` one lookup rather than a thousand. ``folded``: the user's names in
    lower case, which an invented name must not equal but for case (no Y beside the data y)."""
    name, number_ = base, (numbers or {}).get(base, 2)
    while name in taken or name.lower() in folded:
        name, number_ = f"{base}{separator}{number_}", number_ + 1
    if numbers is not None:
        numbers[base] = number_
    taken.add(name)
    return name
