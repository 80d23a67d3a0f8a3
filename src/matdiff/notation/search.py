"""Matrix notation for a contraction, found by searching its contraction trees.

An einsum over scalars, vectors and matrices is a tensor network: each operand
carries up to two indices, an index shared by several operands is summed unless
the result keeps it. It has a matrix form when the operands can be combined two
at a time so that every step is one matrix operation and every intermediate is
again a scalar, vector or matrix (Laue, Mitterreiter & Giesen, NeurIPS 2018, read
backwards). The steps:

- a product, with transposes: A[i,k]·B[k,j] is ``A*B`` and v[k]·A[k,j] is ``A'*v``;
- a Hadamard product over the same indices (``A.*B``, ``A.*B'``), or over an index
  one operand lacks (``diag(v)*A``): used when the shared index is still needed
  elsewhere, as the batch index of ``E.*S`` in ``(E.*S)*X'``;
- an outer product ``u*v'`` (a broadcast ``b*ones(1,n)`` when v is all ones), or a
  scaling by a scalar;
- on one operand: a repeated index is ``diag(A)`` (or ``tr(A)`` when nothing else
  needs it); an index nothing else needs is summed (``sum(v)``, ``A*ones(n)``).

:func:`best_form` tries every order by dynamic programming over subsets of the
operands (memoised per subset, within a budget of steps; past it, a greedy pass),
keeping for each subset the form of least printed cost (:func:`cost`, computed on
the tree). Where no order works, :class:`NoForm` names an index that cannot be
placed: one shared by three or more operands that no Hadamard product can join.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections import Counter

from matdiff.notation.mtree import MatrixExpr, call, hadamard, leaf, product, transpose
from matdiff.notation.printing import WEIGHT, cost

# Dynamic programming over all subsets is exponential; past this many operands (after the
# same-index ones are grouped) or this many steps the search turns greedy.
MAX_EXACT_OPERANDS = 9

# The search weighs diag(v) as any call: the rewrites turn diag(v)*w into w.*v afterwards, so a
# tree through diag(v) is not to lose to one that avoids it by an outer product inside a Hadamard.
SEARCH_WEIGHT = {**WEIGHT, "diag": 1.0}
STEP_BUDGET = 4000


@dataclass(frozen=True)
class Piece:
    """A partial result: ``expression`` indexed by ``labels`` (none, one: a column, or two)."""

    expression: MatrixExpr
    labels: tuple


class NoForm(Exception):
    """No contraction order gives a matrix form; ``label`` is an index that cannot be placed."""

    def __init__(self, label, holders: list[MatrixExpr]):
        super().__init__(label)
        self.label = label
        self.holders = holders


def _dim(size) -> MatrixExpr:
    return leaf(str(size), "scalar")


def ones(size) -> MatrixExpr:
    return call("ones", (_dim(size),), "column")


def _as_column(x: MatrixExpr) -> MatrixExpr:
    """A 1×n or n×1 matrix read as the vector it is."""
    return x if x.shape_class in ("column", "scalar") else MatrixExpr(x.op, x.args, x.name, "column", x.value)


class Search:
    """The contraction-tree search for one einsum: ``pieces`` with their labels, ``output`` labels,
    ``sizes`` of every label."""

    def __init__(self, pieces: list[Piece], output: tuple, sizes: dict):
        self.output = tuple(output)
        self.sizes = sizes
        self.costs: dict[int, float] = {}
        self.alive: list[MatrixExpr] = []  # keeps costed nodes alive, so ids in ``costs`` stay their own
        self.steps = 0
        pieces = [p for p in pieces if not _is_one(p.expression)]
        self.scalars = [p.expression for p in pieces if not p.labels]
        self.pieces = _grouped([p for p in pieces if p.labels])

    def cost(self, x: MatrixExpr) -> float:
        self.alive.append(x)
        return cost(x, self.costs, SEARCH_WEIGHT)

    # -- the answer --

    def run(self) -> MatrixExpr:
        pieces = self.pieces
        if not pieces:
            return product(*self.scalars) if self.scalars else product()
        exact = len(pieces) <= MAX_EXACT_OPERANDS
        best = self._exact((1 << len(pieces)) - 1) if exact else None
        if best is None and (not exact or self.steps > STEP_BUDGET):
            best = self._greedy()
        if best is None:
            raise self._no_form()
        return product(*self.scalars, self._arranged(best))

    def _arranged(self, piece: Piece) -> MatrixExpr:
        """The final piece with its indices in the output's order (a vector over the output's second
        index, the first being of size 1 and carried by nothing, is a row)."""
        if len(self.output) == 2 and piece.labels not in (self.output, self.output[:1]):
            return transpose(piece.expression)
        return piece.expression

    # -- dynamic programming over subsets --

    def _needed(self, subset: int) -> set:
        """The labels something outside ``subset`` still needs: other operands and the output."""
        needed = set(self.output)
        for position, piece in enumerate(self.pieces):
            if not subset >> position & 1:
                needed.update(piece.labels)
        return needed

    def _exact(self, full: int) -> Piece | None:
        best: dict[int, Piece | None] = {}
        for position, piece in enumerate(self.pieces):
            subset = 1 << position
            best[subset] = self._close(piece, self._needed(subset))
        for subset in sorted(range(1, full + 1), key=lambda s: bin(s).count("1")):
            if subset in best:
                continue
            needed = self._needed(subset)
            lowest = subset & -subset
            rest = subset ^ lowest
            found: Piece | None = None
            found_cost = 0.0
            part = rest
            while True:  # every split into (part containing the lowest operand, the rest)
                left, right = subset ^ part, part
                p, q = best.get(left), best.get(right)
                if right and p is not None and q is not None:
                    self.steps += 1
                    if self.steps > STEP_BUDGET:
                        return None
                    for candidate in self._combine(p, q, needed):
                        candidate_cost = self.cost(candidate.expression)
                        if found is None or candidate_cost < found_cost:
                            found, found_cost = candidate, candidate_cost
                if part == 0:
                    break
                part = (part - 1) & rest
            best[subset] = found
        return best[full]

    def _greedy(self) -> Piece | None:
        """Past the budget: repeatedly combine two pieces that share an index (or any two, when none do),
        the pair whose indices shrink most first: linear in the operands, not the least cost."""
        current: dict[int, Piece] = {}
        for position, piece in enumerate(self.pieces):
            closed = self._close(piece, self._needed(1 << position))
            if closed is None:
                return None
            current[position] = closed
        fresh = len(self.pieces)
        while len(current) > 1:
            uses = Counter(self.output)
            holders: dict = {}
            for key, piece in current.items():
                uses.update(piece.labels)
                for label in piece.labels:
                    holders.setdefault(label, set()).add(key)
            pairs = {(a, b) for keys in holders.values() for a in keys for b in keys if a < b}
            if not pairs:
                pairs = {(a, b) for a in current for b in current if a < b}
            merged = None
            for a, b in sorted(pairs, key=lambda pair: (_growth(current[pair[0]], current[pair[1]]), pair)):
                pa, pb = current[a], current[b]
                mine = Counter(pa.labels) + Counter(pb.labels)
                needed = {x for x in mine if uses[x] > mine[x]}
                merged = next(iter(self._combine(pa, pb, needed)), None)
                if merged is not None:
                    break
            if merged is None:
                return None
            del current[a], current[b]
            current[fresh] = merged
            fresh += 1
        return next(iter(current.values()))

    # -- one step --

    def _combine(self, p: Piece, q: Piece, needed: set) -> list[Piece]:
        """The ways of combining p and q into one piece, each closed over what is not needed."""
        shared = set(p.labels) & set(q.labels)
        if not shared:
            joined = _outer(p, q)
        elif not shared & needed:
            joined = _product(p, q, shared)
        else:
            joined = _elementwise(p, q)
        if joined is None:
            return []
        closed = self._close(joined, needed)
        return [] if closed is None else [closed]

    def _close(self, piece: Piece, needed: set) -> Piece | None:
        """A diagonal or trace for a repeated index, a sum over each index nothing needs; None when
        the piece would still have more than two indices."""
        x, labels = piece.expression, piece.labels
        if len(labels) == 2 and labels[0] == labels[1]:
            if labels[0] in needed:
                x, labels = call("diag", (x,), "column"), labels[:1]
            else:
                return Piece(call("tr", (x,), "scalar"), ())
        if len(labels) > 2:
            return None
        summed = [label for label in labels if label not in needed]
        if len(summed) == 2:
            return Piece(call("sum", (x,), "scalar"), ())
        for label in summed:
            axis = labels.index(label)
            if len(labels) == 1:
                return Piece(call("sum", (x,), "scalar"), ())
            if self.sizes.get(label) == 1 and x.op == "call" and x.name == "ones":  # ones(1, n) read as ones(n)
                x = ones(self.sizes[labels[1 - axis]])
            elif self.sizes.get(label) == 1:  # a 1×n matrix summed over its unit axis is the vector
                x = _as_column(transpose(x) if axis == 0 else x)
            else:
                x = product(transpose(x), ones(self.sizes[label])) if axis == 0 else \
                    product(x, ones(self.sizes[label]))
            labels = labels[1 - axis:2 - axis]
        return Piece(x, labels)

    # -- failure --

    def _no_form(self) -> NoForm:
        """An index shared by three or more operands not all over the same indices (the one shared
        by most), else any index."""
        count: dict = {}
        for p in self.pieces:
            for label in set(p.labels):
                count[label] = count.get(label, 0) + 1
        for label in self.output:
            count[label] = count.get(label, 0) + 1
        label = max(count, key=lambda x: count[x])
        return NoForm(label, [p.expression for p in self.pieces if label in p.labels])


def _growth(p: Piece, q: Piece) -> int:
    """How many indices combining p and q leaves, less those it contracts (smaller is better)."""
    shared = set(p.labels) & set(q.labels)
    return len(set(p.labels) | set(q.labels)) - 2 * len(shared)


def _is_one(x: MatrixExpr) -> bool:
    """eye(1) or ones(1, 1): a factor of 1 that unit axes leave behind."""
    return x.op == "call" and x.name in ("eye", "ones") and all(a.op == "leaf" and a.name == "1" for a in x.args)


def _grouped(pieces: list[Piece]) -> list[Piece]:
    """Operands over the same indices multiply elementwise first (never a worse tree)."""
    groups: dict[frozenset, list[Piece]] = {}
    for piece in pieces:
        if len(set(piece.labels)) == len(piece.labels):
            groups.setdefault(frozenset(piece.labels), []).append(piece)
        else:
            groups.setdefault(frozenset({id(piece)}), []).append(piece)
    result = []
    for group in groups.values():
        first = group[0]
        parts = [q.expression if q.labels == first.labels else transpose(q.expression) for q in group]
        result.append(Piece(hadamard(*parts), first.labels))
    return result


def _outer(p: Piece, q: Piece) -> Piece | None:
    """No shared index: a scaling, or u·vᵀ for two vectors (u·ones(n)' when v is all ones: not
    ones(1, n), a 1×n matrix, which times a column is a vector of length 1, not a number)."""
    if not p.labels or not q.labels:
        return Piece(product(p.expression, q.expression), p.labels + q.labels)
    if len(p.labels) == 1 and len(q.labels) == 1:
        return Piece(product(p.expression, transpose(q.expression)), p.labels + q.labels)
    return None


def _product(p: Piece, q: Piece, shared: set) -> Piece | None:
    """Every shared index summed: a matrix product (u'*v, A*v, A'*v, A*B with transposes), or
    sum(A.*B) when two matrices share both indices."""
    if len(shared) == 2:
        other = q.expression if q.labels == p.labels else transpose(q.expression)
        for a, b in ((p.expression, other), (other, p.expression)):
            if a.op == "call" and a.name == "eye":  # Σ δ_kl·A_kl = tr(A)
                return Piece(call("tr", (b,), "scalar"), ())
        return Piece(call("sum", (hadamard(p.expression, other),), "scalar"), ())
    (k,) = shared
    left = p.expression if p.labels[-1] == k else transpose(p.expression)
    right = q.expression if q.labels[0] == k else transpose(q.expression)
    labels = tuple(x for x in p.labels if x != k) + tuple(x for x in q.labels if x != k)
    if len(p.labels) == 1 and len(q.labels) == 2:  # v[k]·A[k,j]: the column A'*v
        return Piece(product(transpose(right), p.expression), labels)
    if len(p.labels) == 1:
        left = transpose(p.expression)
    return Piece(product(left, right), labels)


def _elementwise(p: Piece, q: Piece) -> Piece | None:
    """A shared index still needed: a Hadamard product over the same indices, or over an index
    a vector shares with a matrix (diag(v)*A, A*diag(v)); other summed indices are then closed."""
    if set(q.labels) - set(p.labels):
        p, q = q, p
    if set(q.labels) - set(p.labels):
        return None  # each has an index the other lacks: an order-3 tensor
    if len(p.labels) == len(q.labels):
        other = q.expression if q.labels == p.labels else transpose(q.expression)
        return Piece(hadamard(p.expression, other), p.labels)
    (k,) = q.labels
    scale = call("diag", (q.expression,), "matrix")
    if p.labels[0] == k:
        return Piece(product(scale, p.expression), p.labels)
    return Piece(product(p.expression, scale), p.labels)
