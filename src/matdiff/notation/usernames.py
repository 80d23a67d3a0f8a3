"""The user's names first: a value the user named is printed by that name wherever the answer holds it.

``choose_names`` (notation/naming.py) finds a user-named IR node that occurs in the answer as it is.
Two more ways it may occur are found here: as its transpose (a row the user named, ``S =
sqrt(mean(M.^2, 1) + c)``, is a vector in the IR; ``P = softmax(Q*K'/sqrt(8), 2)`` is the transpose
of a softmax by columns), and fused into a longer product (``w = inv(A)*X'*y`` inside
``y'*X*inv(A)'*inv(A)*inv(A)*X'*y``, which is ``w'*inv(A)*w``).
"""

from __future__ import annotations

from matdiff.engine.ir import Tensor, postorder
from matdiff.notation.mtree import MatrixExpr, leaf, transpose
from matdiff.notation.orientation import transposed_of
from matdiff.notation.rewrite import rebuild
from matdiff.notation.summands import Summand, summand_of


def transposed_user_names(roots: list[Tensor], assigned: dict, names: dict[int, str]) -> dict[int, str]:
    """id → the user's name, for a node whose transpose the user named and that the answer uses only
    as it is (P = softmax(Q*K'/sqrt(8), 2) is the transpose of a softmax by columns; the answer holds
    that one): it is printed P', and P is bound as the user wrote it. An invented name it had gives way."""
    named = set(names.values())
    candidates: list[tuple[str, Tensor, bool]] = []  # (name, the node the answer may hold, it is the value)
    for name, (node, row) in assigned.items():
        if name in named:
            continue
        if row and node.rank == 1:  # a row the user named (S = sqrt(mean(M.^2, 1) + c)): the IR's vector is S'
            candidates.append((name, node, True))
        elif not row and transposed_of(node) is not None:
            candidates.append((name, node, False))
    found: dict[int, str] = {}
    if not candidates:
        return found
    used = {id(node) for root in roots for node in postorder(root)}
    for name, node, is_value in candidates:
        inner = node if is_value else node.args[0]
        if (is_value or id(node) not in used) and id(inner) in used and id(inner) not in found:
            names.pop(id(inner), None)
            found[id(inner)] = name
    return found


def with_user_chains(x: MatrixExpr, chains: dict[str, MatrixExpr]) -> tuple[MatrixExpr, set]:
    """x with each run of a product's factors that spells a user-named product (``chains``: name → the
    product), or that product's transpose, replaced by the name; and the names used."""
    used: set[str] = set()
    runs = []  # (the run of factors, what replaces it, the name), each product's both ways round
    for name, body in chains.items():
        factors = summand_of(body).chain
        named = leaf(name, body.shape_class)
        runs += [(factors, named, name), (tuple(transpose(f) for f in reversed(factors)), transpose(named), name)]

    def visit(y: MatrixExpr) -> MatrixExpr:
        if y.args:
            args = tuple(visit(a) for a in y.args)
            if args != y.args:
                y = rebuild(y, args)
        if y.op != "product":
            return y
        parts = summand_of(y)
        chain = list(parts.chain)
        for run, replacement, name in runs:
            k = _find(chain, run)
            while k is not None:
                chain[k:k + len(run)] = [replacement]
                used.add(name)
                k = _find(chain, run)
        return Summand(parts.coefficient, parts.scalars, tuple(chain)).build() if len(chain) != len(parts.chain) else y

    return visit(x), used


def _find(chain: list, run: tuple) -> int | None:
    for k in range(len(chain) - len(run) + 1):
        if tuple(chain[k:k + len(run)]) == run:
            return k
    return None
