"""A term of ∂vec(Y)/∂vec(X) as one Kronecker form (``kron(A, B)``, with the commutation matrix
K where the indices cross), and the plumbing that reads an einsum's operands for it: nested
einsums opened with the sizes of their labels, a vec selector read back as Y's row and column.
:mod:`matdiff.notation.vecform` splits a Jacobian into such terms and products of them."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

from matdiff.engine.ir import Tensor, einsum, einsum_operands, eye
from matdiff.notation.mtree import MatrixExpr, call, commutation, leaf, number, product, transpose
from matdiff.notation.printing import cost

Recover = Callable[[Tensor], "MatrixExpr | None"]


def _labelled(node: Tensor):
    """(operands with labels, one output label per axis of ``node`` — None for a unit axis the
    contraction does not have), for an einsum or a reshape of one that only adds 1s. Operands
    that are themselves contractions of order 3 or more (a shared seed δδ) are inlined."""
    if node.op == "einsum":
        operands, sizes = inlined_with_sizes(node)  # the opened einsums' labels have sizes too
        return operands, list(node.params[1]), sizes
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
        operands, sizes = inlined_with_sizes(inner)
        return operands, labels, sizes
    return None


def inlined_with_sizes(node: Tensor) -> tuple[list, dict]:
    """:func:`_inline_tensors` and the size of every label, those of opened einsums included."""
    operands = _inline_tensors(node)
    sizes = dict(label_sizes(node))
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


def label_sizes(node: Tensor):
    for operand, labels in einsum_operands(node):
        yield from zip(labels, operand.shape)
    yield from zip(node.params[1], node.shape)


def kron_term(term: Tensor, y_rank: int, recover: Recover) -> MatrixExpr | None:
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
    p, q = (leaf(str(sizes[axis]), "scalar") for axis in (k, l))
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
