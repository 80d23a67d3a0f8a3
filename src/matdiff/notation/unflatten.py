"""Merged axes taken apart again: vec and kron of the variable read back as plain matrices.

``vec(X)'*kron(B, A)*vec(X)`` differentiates into contractions over merged indices (one
index running over the pq entries of vec(X)) and reshapes that merge and split them. A
merged index α = (a, b), row-major, can be replaced by its two parts wherever every
factor that carries it can be read over the parts too: a reshape that merged them (its
source, over a and b), a δ over α and β (δ_ab·δ_a'b', splitting β alike), a constant, a
contraction (split inside). Split everywhere, the network is over the plain indices of
the matrices again, and the recovery finds ``A*X*B' + A'*X*B``; a trace of kron(A, X)
becomes tr(A)*eye(n). Sizes must be numbers; anything else is left as it is.
"""

from __future__ import annotations

from itertools import count

from matdiff.engine.ir import Tensor, add, const, einsum, eye, reshape

Split = dict  # label → tuple of sizes, the parts of a merged index, row-major


def _groups(outer: tuple, inner: tuple) -> list[tuple[tuple, tuple]] | None:
    """Runs of axes of equal size: [(outer positions, inner positions)], finest; None if sizes are not
    numbers or do not line up."""
    if not all(isinstance(d, int) for d in outer + inner):
        return None
    runs, i, j = [], 0, 0
    while i < len(outer) or j < len(inner):
        a, b = [i], [j]
        if i >= len(outer) or j >= len(inner):
            return None
        left, right = outer[i], inner[j]
        while left != right:
            if left < right:
                i += 1
                if i >= len(outer):
                    return None
                a.append(i)
                left *= outer[i]
            else:
                j += 1
                if j >= len(inner):
                    return None
                b.append(j)
                right *= inner[j]
        runs.append((tuple(a), tuple(b)))
        i, j = i + 1, j + 1
    return runs


class Splitter:
    """Split merged labels across one contraction (and the factors inside it)."""

    def __init__(self):
        self.fresh = count()

    def part(self, label, k: int):
        return ("part", label, k)

    def parts(self, label, splits: Split, sizes: dict) -> list:
        """The labels label stands for, and their sizes."""
        if label not in splits:
            return [(label, sizes[label])]
        return [(self.part(label, k), d) for k, d in enumerate(splits[label])]

    def split(self, node: Tensor, output_splits: Split) -> Tensor | None:
        """node (an einsum) with its output labels split as asked and every merged label inside split where
        the factors allow; None when some factor cannot follow."""
        inputs, output = node.params
        splits: Split = {output[p]: s for p, s in output_splits.items()}
        sizes = {label: d for operand, labels in zip(node.args, inputs) for label, d in zip(labels, operand.shape)}
        sizes.update(zip(output, node.shape))
        for _ in range(8):  # until no factor asks for another split
            grown = False
            for operand, labels in zip(node.args, inputs):
                asked = self._asks(operand, labels, splits)
                if asked is None:
                    return None
                for label, parts in asked.items():
                    if splits.get(label) != parts:
                        splits[label], grown = parts, True
            if not grown:
                break
        if any(splits.get(label) != output_splits.get(p) for p, label in enumerate(output) if label in splits):
            return None  # a factor would split an output index the caller keeps whole
        operands: list[tuple[Tensor, tuple]] = []
        for operand, labels in zip(node.args, inputs):
            pieces = self._pieces(operand, labels, splits, sizes)
            if pieces is None:
                return None
            operands.extend(pieces)
        new_output = [x for label in output for x, _ in self.parts(label, splits, sizes)]
        all_sizes = {x: d for label in sizes for x, d in self.parts(label, splits, sizes)}
        return einsum(new_output, *operands, sizes={x: all_sizes[x] for x in new_output})

    def _asks(self, operand: Tensor, labels: tuple, splits: Split) -> Split | None:
        """The splits a factor implies for its labels (a reshape that merged them, a δ whose other side is
        split); None when it cannot take the splits already asked of it."""
        if operand.op == "eye":
            a, b = labels
            parts = splits.get(a) or splits.get(b)
            return {a: parts, b: parts} if parts else {}
        if operand.op == "reshape":
            runs = _groups(operand.shape, operand.args[0].shape)
            if runs is None:
                return None
            asked: Split = {}
            for outer, inner in runs:
                if len(outer) == 1 and len(inner) > 1:  # a merged axis: its parts are the source's axes
                    label = labels[outer[0]]
                    parts = tuple(operand.args[0].shape[k] for k in inner)
                    if splits.get(label, parts) != parts:
                        return None
                    asked[label] = parts
            return asked
        if operand.op in ("const", "einsum"):
            return {}
        return {} if not any(label in splits for label in labels) else None

    def _pieces(self, operand: Tensor, labels: tuple, splits: Split, sizes: dict) -> list | None:
        """The factor over the split labels, as one or more (node, labels)."""
        if operand.op == "reshape":
            return self._source(operand, labels, splits, sizes)
        if not any(label in splits for label in labels):
            return [(operand, labels)]
        if operand.op == "const":
            flat = [x for label in labels for x, _ in self.parts(label, splits, sizes)]
            shape = tuple(d for label in labels for _, d in self.parts(label, splits, sizes))
            return [(const(operand.params[0], shape), tuple(flat))]
        if operand.op == "eye":
            a, b = labels
            return [(eye(d), (x, y)) for (x, d), (y, _) in zip(self.parts(a, splits, sizes),
                                                                self.parts(b, splits, sizes))]
        if operand.op == "einsum":
            wanted = {p: splits[label] for p, label in enumerate(labels) if label in splits}
            inner = self.split(operand, wanted)
            if inner is None:
                return None
            flat = [x for label in labels for x, _ in self.parts(label, splits, sizes)]
            return self._inline(inner, flat)
        return None

    def _source(self, operand: Tensor, labels: tuple, splits: Split, sizes: dict) -> list | None:
        """reshape(S) over split labels: S itself, each of its axes over the labels it stands for (a δ
        whose axes both split is δ's over the parts; a contraction splits its output)."""
        source = operand.args[0]
        flat = [x for label in labels for x, _ in self.parts(label, splits, sizes)]
        shape = tuple(d for label in labels for _, d in self.parts(label, splits, sizes))
        runs = _groups(shape, source.shape)
        if runs is None or any(len(outer) > 1 and len(inner) > 1 for outer, inner in runs) or \
                any(len(inner) > 1 for _, inner in runs):
            return None
        wanted = {inner[0]: tuple(shape[k] for k in outer) for outer, inner in runs if len(outer) > 1}
        groups = [[flat[k] for k in outer] for outer, _ in runs]
        if not wanted:  # a contraction's own operands join the enclosing one (B⊗A: B[a,c]·A[b,d])
            return self._inline(source, flat) if source.op == "einsum" else [(source, tuple(flat))]
        if source.op == "const":
            return [(const(source.params[0], shape), tuple(flat))]
        if source.op == "eye" and len(groups) == 2 and wanted.get(0) == wanted.get(1):
            return [(eye(d), (x, y)) for x, y, d in zip(groups[0], groups[1], wanted[0])]
        if source.op == "einsum":
            inner_split = self.split(source, wanted)
            return None if inner_split is None else self._inline(inner_split, flat)
        return None

    def _inline(self, node: Tensor, labels: list) -> list | None:
        """The operands of einsum node, renamed into the enclosing contraction (its output as ``labels``)."""
        if node.op != "einsum":
            return [(node, tuple(labels))]
        inputs, output = node.params
        rename = dict(zip(output, labels))
        for inner_labels in inputs:
            for label in inner_labels:
                rename.setdefault(label, ("inlined", next(self.fresh)))
        return [(arg, tuple(rename[x] for x in ls)) for arg, ls in zip(node.args, inputs)]


def unflattened(node: Tensor) -> Tensor | None:
    """An einsum over merged indices, or a reshape that splits an einsum's output, written over the
    parts; None when there is nothing to split or a factor cannot follow."""
    if node.op == "reshape" and node.args[0].op == "add":  # reshape(A + B) = reshape(A) + reshape(B)
        terms = [reshape(t, node.shape) for t in node.args[0].args]
        split = [unflattened(t) if t.op == "reshape" else None for t in terms]
        return None if all(t is None for t in split) else add(*(u or t for u, t in zip(split, terms)))
    if node.op == "reshape" and node.args[0].op == "einsum":
        inner = node.args[0]
        runs = _groups(inner.shape, node.shape)
        if runs is None or all(len(target) == 1 for _, target in runs):
            return None
        wanted = {outer[0]: tuple(node.shape[k] for k in target) for outer, target in runs
                  if len(outer) == 1 and len(target) > 1}
        if any(len(outer) > 1 for outer, _ in runs):
            return None  # the reshape also merges axes: not a pure split
        result = Splitter().split(inner, wanted)
        return result if result is not None and result.shape == node.shape else None
    if node.op == "einsum" and any(a.op == "reshape" for a in node.args):
        result = Splitter().split(node, {})
        return None if result is None or result is node else result
    return None
