"""The vec layout in matrix notation: ∂vec(Y)/∂vec(X) as Kronecker products.

With vec stacking columns (Magnus–Neudecker), the entry of ∂vec(Y)/∂vec(X) at
row (j, i) and column (l, k) is J[i,j,k,l] = ∂Y_ij/∂X_kl, and
kron(P, Q)[(j,i),(l,k)] = P_jl·Q_ik. So a Jacobian whose tensor network splits
into a part over (j, l) and a part over (i, k) is kron(P, Q): ∂vec(AXB)/∂vec(X)
= kron(Bᵀ, A), because J = A_ik·B_lj. A sum of such terms is a sum of Kronecker
products; a term that links i with l (the commutation matrix, as in ∂X'/∂X) has
no such form and the result is None. A vector is a column, so its missing
second index makes P a row, a column or a number. A scalar Y gives vec(G)ᵀ, G
the gradient.

This module only reads the IR; it prints through the ``recover`` callable it is
given (a :class:`matdiff.notation.matrixform.Recovery` or a binding-aware builder).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

from matdiff.engine.ir import Tensor, einsum, einsum_operands, eye
from matdiff.language.shapes import shape_text
from matdiff.notation.mtree import MatrixExpr, call, cost, number, product, total, transpose

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
    terms = jacobian.args if jacobian.op == "add" else (jacobian,)
    krons = []
    for term in terms:
        kron = _kron_term(term, len(y_shape), recover)
        if kron is None:
            return None
        krons.append(kron)
    return total(*krons)


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
        return _inline_tensors(inner), labels, dict(_sizes(inner))
    return None


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
        found_forms = [f for f in forms if f is not None]
        if found_forms:
            return product(left, min(found_forms, key=cost), right)
    return None


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
                   unplaced: str | None = None) -> str:
    """One line saying why ``derivative`` has no matrix form in ``layout`` (``unplaced``: the index the
    recovery could not place), and what to use instead."""
    shown = shape_text(shape)
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
