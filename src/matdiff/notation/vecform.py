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

from collections.abc import Callable
from itertools import count

from matdiff.engine.ir import Tensor, add, einsum, einsum_operands, eye
from matdiff.engine.simplify import simplify
from matdiff.language.shapes import shape_text
from matdiff.notation.mtree import (MatrixExpr, _dim_text, call, commutation, cost, in_language, leaf, number, product, text,
                                    total, transpose)

Recover = Callable[[Tensor], "MatrixExpr | None"]


def vec_form(jacobian: Tensor, y_shape: tuple, x_shape: tuple, recover: Recover) -> MatrixExpr | None:
    """∂vec(Y)/∂vec(X) for J = ``jacobian`` of shape y_shape + x_shape (each of rank ≤ 2)."""
    if len(y_shape) > 2 or len(x_shape) > 2 or jacobian.rank != len(y_shape) + len(x_shape):
        return None
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
        kron = _kron_term(term, len(y_shape), recover)
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
    form = _kron_term(term, y_rank, recover)
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
    (operands, sizes), labels = _inlined_with_sizes(term), list(term.params[1])
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
    sizes = dict(_sizes(term))
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
    (operands, sizes), labels = _inlined_with_sizes(term), list(term.params[1])
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


def _labelled(node: Tensor):
    """(operands with labels, one output label per axis of ``node`` — None for a unit axis the
    contraction does not have), for an einsum or a reshape of one that only adds 1s. Operands
    that are themselves contractions of order 3 or more (a shared seed δδ) are inlined."""
    if node.op == "einsum":
        return _inline_tensors(node), list(node.params[1]), dict(_sizes(node))
    if node.op == "reshape" and node.args[0].op == "einsum":
        inner = node.args[0]
        labels, position = [], 0
        for d in node.shape:
            if position < inner.rank and inner.shape[position] == d:
                labels.append(inner.params[1][position])
                position += 1
            elif d == 1:
                labels.append(None)
            else:
                return None
        if position != inner.rank:
            return None
        operands, sizes = _inlined_with_sizes(inner)
        return operands, labels, sizes
    return None


def _inlined_with_sizes(node: Tensor) -> tuple[list, dict]:
    """:func:`_inline_tensors` and the size of every label, those of opened einsums included."""
    operands = _inline_tensors(node)
    sizes = dict(_sizes(node))
    for operand, labels in operands:
        for label, size in zip(labels, operand.shape):
            sizes.setdefault(label, size)
    return operands, sizes


def _inline_tensors(node: Tensor) -> list:
    """The operands of an einsum, with operands that are einsums of rank > 2 opened up (and theirs)."""
    operands: list[tuple[Tensor, tuple]] = []
    fresh = count()
    pending = list(einsum_operands(node))
    while pending:
        operand, labels = pending.pop(0)
        if operand.op == "einsum" and operand.rank > 2:
            inputs, output = operand.params
            rename = dict(zip(output, labels))
            for inner_labels in inputs:
                for label in inner_labels:
                    rename.setdefault(label, ("inlined", next(fresh)))
            pending[:0] = [(arg, tuple(rename[x] for x in ls)) for arg, ls in zip(operand.args, inputs)]
        else:
            operands.append((operand, tuple(labels)))
    return operands


def _unvec(operands: list, y_labels: list):
    """Y = vec(M): the selector reshape(I)[α, b, a] that carries α stands for α = (b, a) row-major,
    that is M's row a and column b; drop it and let Y's labels be (a, b)."""
    (alpha,) = y_labels
    carriers = [(node, labels) for node, labels in operands if alpha in labels]
    if len(carriers) != 1:
        return operands, y_labels
    node, labels = carriers[0]
    if not (node.op == "reshape" and node.args[0].op == "eye" and node.rank == 3 and labels[0] == alpha
            and len(set(labels)) == 3):
        return operands, y_labels
    rest = [(n, ls) for n, ls in operands if ls is not labels or n is not node]
    return rest, [labels[2], labels[1]]


def _sizes(node: Tensor):
    for operand, labels in einsum_operands(node):
        yield from zip(labels, operand.shape)
    yield from zip(node.params[1], node.shape)


def _kron_term(term: Tensor, y_rank: int, recover: Recover) -> MatrixExpr | None:
    """One term J[i,j,k,l] of ∂vec(Y)/∂vec(X) in matrix notation: kron(P, Q) when it splits as
    P[j,l]·Q[i,k] (a vector Y or X may pair its one index with either side); vec(G)*vec(H)' when no
    index links Y with X; a factor over all of Y's indices (or X's) in front as diag(vec(G))."""
    found = _labelled(term)
    if found is None:
        return None
    operands, labels, sizes = found
    y_labels, x_labels = labels[:y_rank], labels[y_rank:]
    if y_rank == 1:
        operands, y_labels = _unvec(operands, y_labels)
    operands, x_labels = _distinct(operands, y_labels, x_labels, sizes)
    i, j = (y_labels + [None])[:2]
    k, l = (x_labels + [None])[:2]
    y_present, x_present = [x for x in (i, j) if x is not None], [x for x in (k, l) if x is not None]
    if len(y_present) == 1 and len(x_present) == 1:  # a row or column by a row or column: D is J itself
        return recover(einsum(y_present + x_present, *operands, sizes=sizes))
    attempts = (lambda ops: ops, lambda ops: ops, lambda ops: _through_deltas(ops, y_present, x_present))
    for pull, rewrite in zip((False, True, True), attempts):
        candidates = rewrite(operands)
        left = right = number(1.0)
        if pull:  # Hadamard factors over Y's (or X's) indices, in front as diag(vec(G))
            left, candidates = _elementwise_part(candidates, y_present, sizes, recover)
            right, candidates = _elementwise_part(candidates, x_present, sizes, recover)
            if left is None or right is None:
                continue
        splits = [((j, l), (i, k))]
        if l is None:  # x[k] may pair with Y's column: kron(P[j,k], q[i])
            splits.append(((j, k), (i, None)))
        if j is None:  # y[i] may pair with X's column: kron(P[i,l], q[k]')
            splits.append(((i, l), (None, k)))
        forms = [_kron_split(candidates, p, q, sizes, recover) for p, q in splits]
        forms.append(_outer_form(candidates, y_present, x_present, sizes, recover))
        found_forms = [f for f in forms if f is not None] or _commuted(candidates, (i, j), (k, l), sizes, recover)
        if found_forms:
            return product(left, min(found_forms, key=cost), right)
    return None


def _commuted(operands: list, y_axes: tuple, x_axes: tuple, sizes: dict, recover: Recover) -> list[MatrixExpr]:
    """[kron(P, Q)*K(p, q)] for a term P[j,k]·Q[i,l] of ∂vec(Y)/∂vec(X) that links Y's rows with X's
    columns (∂X'/∂X = K, the X' in ∂(X'*X)/∂X), X p×q: kron(P, Q)*K at ((j,i), (l,k)) is
    Σ P[j,b]·Q[i,a]·K[(b,a),(l,k)] = P[j,k]·Q[i,l], as K[(b,a),(l,k)] = δ[b,k]·δ[a,l]. Only for matrices
    Y and X ([] otherwise: a vector's commutation matrix is the identity, and the splits above have it)."""
    (i, j), (k, l) = y_axes, x_axes
    if None in (i, j, k, l):
        return []
    form = _kron_split(operands, (j, k), (i, l), sizes, recover)
    if form is None:
        return []
    p, q = (leaf(_dim_text(sizes[axis]), "scalar") for axis in (k, l))
    return [product(form, commutation(p, q))]


def _through_deltas(operands: list, y_indices: list, x_indices: list) -> list:
    """δ[y,x] makes X's index x equal to Y's y: every other factor over x is read over y instead, so a
    Hadamard factor σ'(W*X)[k,j] of ∂σ(W*X)/∂W, with δ[i,k], is over Y's indices (i, j)."""
    operands = list(operands)
    for position in range(len(operands)):
        node, labels = operands[position]
        if node.op != "eye" or labels[0] == labels[1]:
            continue
        a, b = labels
        y, x = (a, b) if a in y_indices and b in x_indices else (b, a) if b in y_indices and a in x_indices \
            else (None, None)
        if y is not None:
            operands = [(n, ls if k == position else tuple(y if v == x else v for v in ls))
                        for k, (n, ls) in enumerate(operands)]
    return operands


def _distinct(operands: list, y_labels: list, x_labels: list, sizes: dict):
    """An X index that is also one of Y's (∂kron(x, y)/∂x after vec is read back) becomes its own
    index joined to Y's by a δ."""
    fresh = count()
    x_labels = list(x_labels)
    for position, label in enumerate(x_labels):
        if label is not None and label in y_labels:
            copy = ("x-copy", next(fresh))
            sizes[copy] = sizes[label]
            x_labels[position] = copy
            operands = operands + [(eye(sizes[label]), (label, copy))]
    return operands, x_labels


def _elementwise_part(operands: list, indices: list, sizes: dict, recover: Recover):
    """Factors over exactly both of ``indices`` (a Hadamard factor of Y, or of X) pulled out as
    diag(vec(G)); the number 1 when there are none (or only one index)."""
    if len(indices) != 2:
        return number(1.0), operands
    mine = [(node, labels) for node, labels in operands if set(labels) == set(indices)]
    if not mine:
        return number(1.0), operands
    rest = [(node, labels) for node, labels in operands if set(labels) != set(indices)]
    g = recover(einsum(indices, *mine, sizes=sizes))
    if g is None:
        return None, rest
    return call("diag", (call("vec", (g,), "column"),), "matrix"), rest


def _kron_split(operands: list, p_axes: tuple, q_axes: tuple, sizes: dict, recover: Recover) -> MatrixExpr | None:
    """kron(P, Q) with P over ``p_axes`` (row, column) and Q over ``q_axes``; None if an operand
    links the two sides."""
    p_side, q_side = set(p_axes) - {None}, set(q_axes) - {None}
    p_operands: list[tuple[Tensor, tuple]] = []
    q_operands: list[tuple[Tensor, tuple]] = []
    for component in _components(operands):
        carried = {x for _, ls in component for x in ls}
        if carried & p_side and carried & q_side:
            return None  # links a row index of Y with a column index of X: a commutation matrix
        (q_operands if carried & q_side else p_operands).extend(component)
    p = _matrix_factor(einsum([x for x in p_axes if x is not None], *p_operands, sizes=sizes), p_axes[0], p_axes[1], recover)
    q = _matrix_factor(einsum([x for x in q_axes if x is not None], *q_operands, sizes=sizes), q_axes[0], q_axes[1], recover)
    if p is None or q is None:
        return None
    if p.shape_class == "scalar":
        return product(p, q)
    return call("kron", (p, q), "matrix")


def _outer_form(operands: list, y_indices: list, x_indices: list, sizes: dict, recover: Recover) -> MatrixExpr | None:
    """vec(G)*vec(H)' when no operand joins an index of Y with one of X: J = G[i,j]·H[k,l]."""
    y_side = set(y_indices)
    y_operands: list[tuple[Tensor, tuple]] = []
    x_operands: list[tuple[Tensor, tuple]] = []
    for component in _components(operands):
        carried = {x for _, ls in component for x in ls}
        if carried & y_side and carried & set(x_indices):
            return None
        (y_operands if carried & y_side else x_operands).extend(component)
    g = recover(einsum(y_indices, *y_operands, sizes=sizes))
    h = recover(einsum(x_indices, *x_operands, sizes=sizes))
    if g is None or h is None:
        return None
    return product(_vec(g, len(y_indices)), transpose(_vec(h, len(x_indices))))


def _vec(x: MatrixExpr, rank: int) -> MatrixExpr:
    return call("vec", (x,), "column") if rank == 2 else x


def _matrix_factor(node: Tensor, row, column, recover: Recover) -> MatrixExpr | None:
    """A Kronecker factor as a matrix, a column (no column index), a row (no row index) or a number."""
    x = recover(node)
    if x is None:
        return None
    return transpose(x) if row is None and column is not None else x


def _components(operands: list) -> list[list]:
    """The operands grouped into connected parts of the tensor network (linked by shared labels)."""
    groups: list[tuple[set, list]] = []
    for operand, labels in operands:
        linked = [g for g in groups if g[0] & set(labels)]
        merged_labels, merged = set(labels), [(operand, labels)]
        for g in linked:
            merged_labels |= g[0]
            merged = g[1] + merged
            groups.remove(g)
        groups.append((merged_labels, merged))
    return [members for _, members in groups]


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
