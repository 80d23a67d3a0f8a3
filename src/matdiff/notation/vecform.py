"""The vec layout in matrix notation: ∂vec(Y)/∂vec(X) as Kronecker products.

With vec stacking columns (Magnus–Neudecker), the entry of ∂vec(Y)/∂vec(X) at
row (j, i) and column (l, k) is J[i,j,k,l] = ∂Y_ij/∂X_kl, and
kron(P, Q)[(j,i),(l,k)] = P_jl·Q_ik. So a Jacobian whose tensor network splits
into a part over (j, l) and a part over (i, k) is kron(P, Q): ∂vec(AXB)/∂vec(X)
= kron(Bᵀ, A), because J = A_ik·B_lj. A sum of such terms is a sum of Kronecker
products. A term that links i with l and j with k (as in ∂X'/∂X) is kron(P, Q)
times the commutation matrix K(p, q), vec(Xᵀ) = K·vec(X): ∂vec(XᵀX)/∂vec(X) =
kron(I, Xᵀ) + kron(Xᵀ, I)·K. K is not in the input language, so such a form is
printed in LaTeX and in the reason, not as text (:func:`mtree.in_language`). A vector is a column,
so its missing second index makes P a row, a column or a number. A scalar Y gives vec(G)ᵀ, G
the gradient.

A term that splits no such way may still be a product through a pair of summed indices: Kronecker
forms on either side of diag(vec(C)), C the elementwise part (:func:`_chain`). That is how the
Hessian of a layer on a batch reads, kron(X, I)·diag(vec(f''(W·X)))·kron(Xᵀ, I), and the
Gauss–Newton part of a hidden layer's, …·diag(vec(σ'))·kron(I, W2ᵀW2)·diag(vec(σ'))·… .

This module only reads the IR; it prints through the ``recover`` callable it is
given (a :class:`matdiff.notation.matrixform.Recovery` or a binding-aware builder).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from matdiff.engine.ir import Tensor, add, einsum, einsum_operands, eye
from matdiff.engine.simplify import simplify
from matdiff.language.shapes import shape_text
from matdiff.notation.mtree import MatrixExpr, call, in_language, leaf, number, product, total, transpose
from matdiff.notation.printing import cost, text

from matdiff.notation.kronecker import inlined_with_sizes, kron_term, label_sizes

Recover = Callable[[Tensor], "MatrixExpr | None"]


def vec_form(jacobian: Tensor, y_shape: tuple, x_shape: tuple, recover: Recover) -> MatrixExpr | None:
    """∂vec(Y)/∂vec(X) for J = ``jacobian`` of shape y_shape + x_shape (each of rank ≤ 2)."""
    if len(y_shape) > 2 or len(x_shape) > 2 or jacobian.rank != len(y_shape) + len(x_shape):
        return None
    if jacobian.op == "const" and all(isinstance(d, int) for d in y_shape + x_shape):  # Y - Y: c*ones
        rows, columns = math.prod(y_shape), math.prod(x_shape)
        ones = call("ones", (leaf(str(rows), "scalar"), leaf(str(columns), "scalar")), "matrix")
        return ones if jacobian.params[0] == 1.0 else product(number(jacobian.params[0]), ones)
    if not y_shape:  # a scalar: the gradient, vectorised, as a row
        gradient = recover(jacobian)
        if gradient is None or not x_shape:
            return gradient
        return transpose(gradient if len(x_shape) == 1 else call("vec", (gradient,), "column"))
    if not x_shape:  # by a scalar: vec of the derivative, a column
        derivative = recover(jacobian)
        if derivative is None or len(y_shape) == 1:
            return derivative
        return call("vec", (derivative,), "column")
    if len(y_shape) == 1 and len(x_shape) == 1:  # vector by vector: the Jacobian matrix itself
        direct = recover(jacobian)
        if direct is not None or jacobian.rank != 2:
            return direct  # else Y is vec(M) or kron(u, v) of a matrix: read back as Kronecker products
    terms = [t for term in (jacobian.args if jacobian.op == "add" else (jacobian,)) for t in _distributed(term)]
    krons = []
    sandwiches: dict[tuple, tuple[MatrixExpr, MatrixExpr, list]] = {}  # (L, R) printed → L, R, the middles to add
    for term in terms:
        kron = kron_term(term, len(y_shape), recover)
        parts = None if kron is not None else _sandwich(term, len(y_shape), recover, 0)
        if parts is not None and parts[2] is not None:  # middles of one L and R add up: L·diag(vec(C1 + C2))·R
            left, right, middle = parts
            sandwiches.setdefault((text(left), text(right)), (left, right, []))[2].append(middle)
            continue
        kron = kron or _chain(term, len(y_shape), recover)
        if kron is None:
            return None
        krons.append(kron)
    for left, right, middles in sandwiches.values():
        c = recover(add(*middles))
        if c is None:
            return None
        krons.append(product(left, _diag_vec(c), right))
    return total(*krons)


def _diag_vec(c: MatrixExpr) -> MatrixExpr:
    return call("diag", (call("vec", (c,), "column"),), "matrix")


MAX_CHAIN_DEPTH = 3  # how deep a term is split into products of Kronecker forms and diag(vec(C))


def _chain(term: Tensor, y_rank: int, recover: Recover, depth: int = 0) -> MatrixExpr | None:
    """A term of ∂vec(Y)/∂vec(X) as a product of Kronecker forms and diag(vec(C)) factors: a Kronecker
    form itself; else L·diag(vec(C))·R or L·R (:func:`_sandwich`), or L·diag(vec(H))·R at a Hadamard
    factor H over an index of Y and one of X (:func:`_pivot`), with L and R found the same way. The
    Gauss–Newton part of a network's Hessian, J'·diag(vec(σ'))·kron(I, W'*W)·diag(vec(σ'))·J, is one."""
    form = kron_term(term, y_rank, recover)
    if form is not None or depth >= MAX_CHAIN_DEPTH:
        return form
    for split in (_sandwich, _pivot):
        parts = split(term, y_rank, recover, depth)
        if parts is None:
            continue
        left, right, middle = parts
        if middle is None:
            return product(left, right)
        c = recover(middle)
        if c is not None:
            return product(left, _diag_vec(c), right)
    return None


def _pivot(term: Tensor, y_rank: int, recover: Recover, depth: int) -> tuple[MatrixExpr, MatrixExpr, Tensor | None] | None:
    """J[i,j,k,l] = Σ … H[a,b] … for a Hadamard factor H over one of Y's indices (a) and one of X's (b),
    as L·diag(vec(H))·R (or with Hᵀ): H's indices copied by δ into L (a) and R (b); the operands over
    Y's other index go to L (b read as H's), those over X's other index to R (a read as H's)."""
    if term.op != "einsum":
        return None
    (operands, sizes), labels = inlined_with_sizes(term), list(term.params[1])
    y_side, x_side = set(labels[:y_rank]), set(labels[y_rank:])
    copy_a, copy_b = ("a", depth), ("b", depth)
    for pivot, ls in operands:
        a, b = ls if len(ls) == 2 and ls[0] in y_side and ls[1] in x_side else \
            ls[::-1] if len(ls) == 2 and ls[1] in y_side and ls[0] in x_side else (None, None)
        if a is None or pivot.op == "eye":
            continue
        sizes[copy_a], sizes[copy_b] = sizes[a], sizes[b]
        rename = {a: copy_a, b: copy_b}
        middle: list[tuple[Tensor, tuple]] = []
        left, right = [(eye(sizes[a]), (a, copy_a))], [(eye(sizes[b]), (copy_b, b))]
        for node, node_labels in operands:
            carried = set(node_labels)
            to_left, to_right = carried & (y_side - {a}), carried & (x_side - {b})
            side = middle if carried <= {a, b} else left if to_left and not to_right else \
                right if to_right and not to_left else None
            if side is None:
                break
            kept = {a} if side is left else {b} if side is right else set()
            side.append((node, tuple(x if x in kept else rename.get(x, x) for x in node_labels)))
        else:
            if {x for _, ls in left for x in ls} & {x for _, ls in right for x in ls} - {copy_a, copy_b}:
                continue
            found = _split_through(left, right, middle, [copy_a, copy_b], labels, y_rank, sizes, recover, depth)
            if found is not None:
                return found
    return None


def _split_through(left: list, right: list, middle: list, inner: list, labels: list, y_rank: int, sizes: dict,
                   recover: Recover, depth: int) -> tuple[MatrixExpr, MatrixExpr, Tensor | None] | None:
    """(L, R, C) for J = L·diag(vec(C))·R (C None: L·R) through the pair of indices ``inner``, in the order
    that needs no commutation matrix, then the shorter; None when L or R has no form."""
    found = []
    for order in (inner, inner[::-1]):
        left_form = _chain(einsum(labels[:y_rank] + order, *left, sizes=sizes), y_rank, recover, depth + 1)
        right_form = _chain(einsum(order + labels[y_rank:], *right, sizes=sizes), 2, recover, depth + 1)
        if left_form is not None and right_form is not None:
            found.append((left_form, right_form, einsum(order, *middle, sizes=sizes) if middle else None))
    if not found:
        return None
    return min(found, key=lambda f: (not (in_language(f[0]) and in_language(f[1])), cost(product(f[0], f[1]))))


MAX_DISTRIBUTED = 16  # terms a product of sums may expand into before the vec form gives up


def _distributed(term: Tensor) -> list[Tensor]:
    """(Σ_t A_t)·B = Σ_t A_t·B for an operand A of order 3 or more that is a sum (the Hessian's
    ∂G/∂W of a network holds one), each term simplified (its deltas eliminated); [term] when there is
    none, or past MAX_DISTRIBUTED terms."""
    if term.op != "einsum":
        return [term]
    operands, output = list(einsum_operands(term)), term.params[1]
    position = next((k for k, (node, _) in enumerate(operands) if node.op == "add" and node.rank > 2), None)
    if position is None or len(operands[position][0].args) > MAX_DISTRIBUTED:
        return [term]
    summed, labels = operands[position]
    sizes = dict(label_sizes(term))
    rest = operands[:position] + operands[position + 1:]
    result: list[Tensor] = []
    for part in summed.args:
        result += _distributed(simplify(einsum(output, *rest, (part, labels), sizes=sizes)))
        if len(result) > MAX_DISTRIBUTED:
            return [term]
    return result


def _sandwich(term: Tensor, y_rank: int, recover: Recover, depth: int) -> tuple[MatrixExpr, MatrixExpr, Tensor | None] | None:
    """A term J = L·diag(vec(C))·R, as (L, R, C): the operands over Y's indices (L), over X's (R), and
    the rest (C), which meet only in two summed indices, the rows and columns of C. L and R are then
    Kronecker forms themselves. This is the Hessian of Σ f(A*W*X) in W, kron(X, A')*diag(vec(f''))*
    kron(X', A), and with A = I (a δ joining a row of Y to a row of X, which becomes C's row index)
    kron(X, I)*diag(vec(f''(W*X)))*kron(X', I) (Magnus & Neudecker, ch. 10). None when the term is
    not so shaped."""
    if term.op != "einsum":
        return None
    (operands, sizes), labels = inlined_with_sizes(term), list(term.params[1])
    y_side, x_side = set(labels[:y_rank]), set(labels[y_rank:])
    deltas = [(node, ls) for node, ls in operands if node.op == "eye" and set(ls) & y_side and set(ls) & x_side]
    if len(deltas) > 1:
        return None
    inner = ("inner", 0)
    if deltas:  # δ[u,w] = Σ_e δ[u,e]·δ[e,w]: e is an index of C, u and w stay with L and R
        u, w = deltas[0][1] if deltas[0][1][0] in y_side else deltas[0][1][::-1]
        sizes[inner] = sizes[u]
        operands = [pair for pair in operands if pair != deltas[0]] + \
            [(eye(sizes[u]), (u, inner)), (eye(sizes[u]), (inner, w))]
        y_side, x_side = y_side - {u}, x_side - {w}  # u and w may meet C's row, as the δ said
        rename = {u: inner, w: inner}
    else:
        rename = {}
    left: list[tuple[Tensor, tuple]] = []
    right: list[tuple[Tensor, tuple]] = []
    middle: list[tuple[Tensor, tuple]] = []
    for node, ls in operands:
        carried = set(ls)
        if carried & y_side and carried & x_side:
            return None
        if node.op == "eye" and inner in ls:
            (left if ls[0] != inner else right).append((node, ls))
            continue
        side = left if carried & y_side else right if carried & x_side else middle
        side.append((node, ls if side is not middle else tuple(rename.get(x, x) for x in ls)))
    carried_by = [{x for _, ls in side for x in ls} for side in (left, right, middle)]
    shared = carried_by[0] & carried_by[1]
    cut = [x for x in dict.fromkeys(x for _, ls in middle + right for x in ls) if x in shared]
    if len(cut) != 2 or (carried_by[2] & (carried_by[0] | carried_by[1])) - shared:
        return None  # C's rows and columns are the two indices L and R share, and C meets them nowhere else
    return _split_through(left, right, middle, cut, labels, y_rank, sizes, recover, depth)


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def no_matrix_form(derivative: str, shape: tuple, layout: str, vec_text: str | None,
                   unplaced: str | None = None, commuted: str | None = None) -> str:
    """One line saying why ``derivative`` has no matrix form in ``layout`` (``unplaced``: the index the
    recovery could not place; ``commuted``: its vec form, which needs the commutation matrix), and what
    to use instead."""
    shown = shape_text(shape)
    if commuted is not None:
        where = "" if layout == "vec" else " (nor in the vec layout)"
        return (f"{derivative} ({shown}) has no matrix form in the {layout} layout{where}: its vec form "
                f"{commuted} needs K(m, n), the commutation matrix (K(m, n)*vec(A) = vec(A') for A m×n), which "
                "is not in the language; .latex shows that form, and the index notation gives every entry")
    if len([d for d in shape if d != 1]) <= 2 and unplaced:
        why = f"{derivative} ({shown}) has no matrix form in the {layout} layout: {unplaced}"
    elif len(shape) > 2:
        why = f"{derivative} is a {_ordinal(len(shape))}-order tensor ({shown}): no matrix form in the {layout} layout"
    else:
        why = (f"{derivative} ({shown}) has no matrix form in the {layout} layout: its index structure is not a "
               "product, Hadamard product, diag or trace")
    if vec_text is not None and layout != "vec":
        return f"{why}; the vec layout gives {vec_text}"
    return f"{why}; the index notation gives every entry"
