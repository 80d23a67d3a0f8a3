"""Contraction planning for generated code: an einsum node as pairwise products in the order
opt_einsum chooses (``A @ B``, ``tensordot``, broadcasting), a symbolic size taken as
SYMBOLIC_SIZE (for JAX, one einsum XLA orders when sizes are symbolic); Kronecker deltas never
built."""

from __future__ import annotations

from typing import Any, Callable

import functools
from collections.abc import Hashable

from matdiff.engine import ir
from matdiff.codegen.backends import ATOM, Code, NumpyBackend, PRODUCT, UNARY, number_code, wrap


# One generated einsum may name at most this many indices (a-z, A-Z); beyond, contractions go pairwise.
EINSUM_LETTERS = 52


class Contractions:
    """How an einsum node becomes code: deltas merged, a contraction order planned with
    opt_einsum, pairwise products written, free deltas embedded as diagonals. Mixed into the
    writer, which provides what is declared here."""

    backend: NumpyBackend
    code: dict[int, Code]
    helpers: set[str]
    lines: list[str]
    dim: Callable[[Any], str]
    shape: Callable[[Any], str]
    cost: Callable[[Any], int]
    array: Callable[[ir.Tensor], Code]
    _assign: Callable[[str], str]
    _temporary: Callable[[], str]
    multiply_adds: int | None

    def count(self, labels) -> None:
        """Add one pairwise product's multiply-adds (the product of its labels' sizes) to the
        plan's total: what the CI guards compare with hand-written backprop, whatever the clock."""
        if self.multiply_adds is None:
            return
        total = 1
        for label in labels:
            size = self.sizes[label]
            if not isinstance(size, int):
                self.multiply_adds = None
                return
            total *= size
        self.multiply_adds += total

    def einsum(self, node: ir.Tensor) -> Code:
        inputs, output = node.params
        parent: dict = {}

        def find(label):
            while parent.get(label, label) != label:
                label = parent[label]
            return label

        sizes: dict = {}
        self.sizes = sizes
        factors: list[Code] = []
        ones: set = set()
        tensors: list[tuple[Code, list, tuple]] = []
        for argument, labels in zip(node.args, inputs):
            for label, size in zip(labels, argument.shape):
                sizes.setdefault(label, size)
            code = self.code[id(argument)]
            if code.holds == "delta":  # a product of deltas: each of its deltas merges two of these labels
                inner_inputs, inner_output = argument.params
                rename = dict(zip(inner_output, labels))
                for inner_labels in inner_inputs:
                    a, b = (rename[x] for x in inner_labels)
                    parent[find(b)] = find(a)
            elif code.holds == "eye":
                a, b = labels
                parent[find(b)] = find(a)
            elif code.holds == "scalar":
                if code.expr != "1.0":
                    factors.append(code)
                ones.update(labels)
            elif argument.rank == 0:
                factors.append(code)
            else:
                tensors.append((code, list(labels), argument.shape))

        reduced_output = list(dict.fromkeys(find(label) for label in output))
        represented = []
        for code, labels, shape in tensors:
            labels = [find(label) for label in labels]
            if len(set(labels)) < len(labels):  # a diagonal: A_ii
                unique = list(dict.fromkeys(labels))
                letters = {label: letter(k) for k, label in enumerate(unique)}
                code = self.backend.einsum("".join(letters[x] for x in labels) + "->" +
                                           "".join(letters[x] for x in unique), [code])
                shape = tuple(sizes[label] for label in unique)
                labels = unique
            represented.append((code, labels, shape))
        carried = {label for _, labels, _ in represented for label in labels}
        every = {find(label) for labels in inputs for label in labels} | {find(label) for label in ones}
        for label in sorted(every - carried - set(reduced_output), key=str):
            factors.append(Code(self.dim(sizes[label]), PRODUCT if "*" in str(sizes[label]) else ATOM))

        kept = [label for label in reduced_output if label in carried]
        inner, inner_labels = self.contract(represented, kept, factors, sizes)

        # Arrange: inner's axes into reduced-output order, broadcasting what nobody carries.
        if inner_labels and inner_labels != [label for label in reduced_output if label in inner_labels]:
            order = [label for label in reduced_output if label in inner_labels]
            inner = self.backend.transpose(inner, [inner_labels.index(label) for label in order])
            inner_labels = order
        full_output = [find(label) for label in output]
        if len(full_output) == len(reduced_output):
            if len(inner_labels) == len(reduced_output):
                return inner
            if inner.holds == "scalar":
                return inner
            aligned = align(inner, inner_labels, reduced_output)
            return self.backend.broadcast(aligned, self.shape(node.shape))
        return self.embed(node, inner, inner_labels, reduced_output, full_output, sizes)

    def contract(self, tensors, kept, factors, sizes) -> tuple[Code, list]:
        """The product of ``tensors`` summed to the labels ``kept``, times the scalar ``factors``."""
        if not tensors:
            value = 1.0
            symbolic = []
            for factor in factors:
                if is_number(factor.expr):
                    value *= float(factor.expr)
                else:
                    symbolic.append(factor)
            if not symbolic:
                return number_code(value), []
            text = " * ".join(wrap(f, PRODUCT) for f in symbolic)
            if value != 1.0:
                text = f"{wrap(number_code(value), PRODUCT)} * {text}"
            return Code(text, PRODUCT, "scalar"), []
        factor = product_code(factors)
        result_cost = self.cost(sizes[label] for label in kept)
        smallest = min(range(len(tensors)), key=lambda k: self.cost(tensors[k][2]))
        scale_result = factor is not None and result_cost <= self.cost(tensors[smallest][2])
        if factor is not None and not scale_result:
            code, labels, shape = tensors[smallest]
            tensors = list(tensors)
            tensors[smallest] = (scaled_code(factor, code), labels, shape)

        if len(tensors) == 1:
            code, labels, _ = tensors[0]
            summed = [k for k, label in enumerate(labels) if label not in kept]
            if summed:
                code = self.backend.sum(code, summed, len(labels))
                labels = [label for label in labels if label in kept]
        elif self.backend.name == "jax" and len(tensors) >= 3 \
                and not all(isinstance(sizes[l], int) for _, ls, _ in tensors for l in ls) \
                and len({label for _, labels, _ in tensors for label in labels}) <= EINSUM_LETTERS:
            # JAX traces once per shape and XLA orders the einsum itself. NumPy's einsum with a path
            # runs its pairs through bmm_einsum, 30× slower than BLAS here (attention at 256×64), so
            # NumPy and PyTorch plan pairwise now, a symbolic dimension taken as SYMBOLIC_SIZE.
            letters: dict[Hashable, str] = {}
            for _, labels, _ in tensors:
                for label in labels:
                    letters.setdefault(label, letter(len(letters)))
            subscripts = ",".join("".join(letters[l] for l in labels) for _, labels, _ in tensors)
            subscripts += "->" + "".join(letters[l] for l in kept)
            code, labels = self.backend.contract(subscripts, [t[0] for t in tensors]), list(kept)
            self.multiply_adds = None  # planned at the first call, when the sizes are known
            if self.backend.name == "numpy":
                self.helpers.add("_contract")
        else:
            code, labels = self.pairwise(tensors, kept, sizes)
        if scale_result:
            code = scaled_code(factor, code)
        return code, labels

    def pairwise(self, tensors, kept, sizes) -> tuple[Code, list]:
        """Contract two operands at a time, in the order opt_einsum finds cheapest."""
        import opt_einsum

        letters: dict[Hashable, str] = {}
        for _, labels, _ in tensors:
            for label in labels:
                letters.setdefault(label, opt_einsum.get_symbol(len(letters)))
        equation = ",".join("".join(letters[l] for l in labels) for _, labels, _ in tensors)
        equation += "->" + "".join(letters[l] for l in kept)
        shapes = [tuple(sizes[l] if isinstance(sizes[l], int) else SYMBOLIC_SIZE for l in labels)
                  for _, labels, _ in tensors]
        path = ((0, 1),) if len(tensors) == 2 else contraction_path(equation, tuple(shapes))
        operands = [(code, list(labels)) for code, labels, _ in tensors]
        for step, positions in enumerate(path):
            picked = [operands[p] for p in positions]
            for p in sorted(positions, reverse=True):
                del operands[p]
            needed = set(kept) | {label for _, labels in operands for label in labels}
            while len(picked) > 1:
                second, first = picked.pop(), picked.pop()
                later = needed | {label for _, labels in picked for label in labels}
                picked.append(self.pair(first, second, later))
            code, labels = picked[0]
            summed = [k for k, label in enumerate(labels) if label not in needed]
            if summed:
                code = self.backend.sum(code, summed, len(labels))
                labels = [label for label in labels if label in needed]
            if step < len(path) - 1 and not code.expr.isidentifier():
                code = Code(self._assign(code.expr))
            operands.append((code, labels))
        return operands[0]

    def pair(self, first, second, needed) -> tuple[Code, list]:
        """One pairwise contraction: a matrix product, a tensordot or a broadcasting product."""
        backend = self.backend
        (a, la), (b, lb) = first, second
        a, la = self._sum_alone(a, la, lb, needed)
        b, lb = self._sum_alone(b, lb, la, needed)
        self.count(dict.fromkeys(la + lb))
        batch = [label for label in la if label in lb and label in needed]
        summed = [label for label in la if label in lb and label not in needed]
        if not batch and not summed:  # outer product
            if not la or not lb:
                return Code(f"{wrap(a, PRODUCT)} * {wrap(b, PRODUCT + 1)}", PRODUCT), la + lb
            expanded = Code(f"{wrap(a, ATOM)}[..., {', '.join(['None'] * len(lb))}]")
            return Code(f"{expanded.expr} * {wrap(b, PRODUCT + 1)}", PRODUCT), la + lb
        if not batch:
            if len(summed) == 1 and len(la) <= 2 and len(lb) <= 2:
                (k,) = summed
                left = a if la[-1] == k else backend.transpose(a, [1, 0])
                right = b if lb[0] == k else backend.transpose(b, [1, 0])
                labels = [x for x in la if x != k] + [x for x in lb if x != k]
                return Code(f"{wrap(left, PRODUCT)} @ {wrap(right, PRODUCT + 1)}", PRODUCT), labels
            code = backend.tensordot(a, b, [la.index(x) for x in summed], [lb.index(x) for x in summed])
            return code, [x for x in la if x not in summed] + [x for x in lb if x not in summed]
        if not summed:  # a broadcasting (Hadamard-like) product, keeping the larger operand's order
            if self.cost(self.sizes[x] for x in lb) > self.cost(self.sizes[x] for x in la):
                (a, la), (b, lb) = (b, lb), (a, la)
            labels = la + [x for x in lb if x not in la]
            base = a if len(labels) == len(la) else Code(f"{wrap(a, ATOM)}[..., {', '.join(['None'] * (len(labels) - len(la)))}]")
            other = align(b, lb, labels, backend=backend, leading=False)
            return Code(f"{wrap(base, PRODUCT)} * {wrap(other, PRODUCT + 1)}", PRODUCT), labels
        letters: dict[Hashable, str] = {}
        for label in la + lb:
            letters.setdefault(label, letter(len(letters)))
        labels = batch + [x for x in la if x not in lb] + [x for x in lb if x not in la]
        subscripts = f"{''.join(letters[x] for x in la)},{''.join(letters[x] for x in lb)}->" \
                     f"{''.join(letters[x] for x in labels)}"
        return backend.einsum(subscripts, [a, b]), labels

    def _sum_alone(self, code, labels, other, needed):
        """Sum over the labels only this operand has and nothing later needs."""
        alone = [k for k, label in enumerate(labels) if label not in other and label not in needed]
        if not alone:
            return code, labels
        return self.backend.sum(code, alone, len(labels)), [x for k, x in enumerate(labels) if k not in alone]

    def embed(self, node, inner: Code, inner_labels, reduced_output, full_output, sizes) -> Code:
        """δ with both indices free: write ``inner`` on a diagonal of a zero array, never build δ."""
        out = self._temporary()
        letters = {label: letter(k) for k, label in enumerate(reduced_output)}
        view = "".join(letters[label] for label in full_output) + "->" + "".join(letters[l] for l in reduced_output)
        first = {label: full_output.index(label) for label in reduced_output}
        reduced = self.shape(tuple(node.shape[first[label]] for label in reduced_output))
        strides = [_folded(" + ".join(self._stride(node.shape, k) for k, x in enumerate(full_output) if x == label))
                   for label in reduced_output]
        # For JAX, which has no views to write through: inner times one identity per repeated
        # label, and ones for a label only broadcast (XLA generates both inside the product).
        operands, subscripts, position_letters = [], [], []
        if inner.holds != "scalar":
            operands.append(inner.expr)
            subscripts.append("".join(letters[label] for label in inner_labels))
        for k, label in enumerate(full_output):
            if k != first[label]:
                fresh = letter(len(reduced_output) + k)
                operands.append(f"jnp.eye({self.dim(node.shape[k])})")
                subscripts.append(letters[label] + fresh)
                position_letters.append(fresh)
            else:
                position_letters.append(letters[label])
        for label in reduced_output:
            if label not in inner_labels and full_output.count(label) == 1:
                operands.append(f"jnp.ones({self.dim(node.shape[first[label]])})")
                subscripts.append(letters[label])
        eyes = (",".join(subscripts) + "->" + "".join(position_letters), operands)
        aligned = inner if inner.holds == "scalar" else align(inner, inner_labels, reduced_output)
        self.lines.extend(self.backend.embed_diagonal(out, self.shape(node.shape), aligned, view, strides,
                                                      reduced, eyes))
        return Code(out)

    def _stride(self, shape, axis) -> str:
        after = shape[axis + 1:]
        return " * ".join(self.dim(d) for d in after) if after else "1"


SYMBOLIC_SIZE = 100  # the size assumed for a symbolic dimension when comparing costs
# opt_einsum's dynamic programming: its "optimal" counts only flops and happily builds an
# n×m×n broadcast to save a pass over a vector (X'·diag(v)·X); dp with a memory cap does not.
# Its search grows exponentially with the operands, so beyond _DP_OPERANDS the order is
# greedy (cheapest pair first, linear in practice): a 64-layer network compiles in well
# under a second. Paths are cached by structure (equation and sizes): a network's layers repeat.


_PATH_SEARCH = "dp"


_DP_OPERANDS = 8
# einsum subscripts are letters: a-z and A-Z in numpy and torch. A contraction with more
# labels is written as pairwise products, whose subscripts are local to each pair.


def _folded(expression: str) -> str:
    """An arithmetic expression of integer literals evaluated; one with names left alone."""
    if all(part.strip().isdigit() for part in expression.replace("+", "*").split("*")):
        return str(eval(expression, {"__builtins__": {}}))  # noqa: S307 - digits, + and * only
    return expression


def letter(k: int) -> str:
    import opt_einsum

    return opt_einsum.get_symbol(k)


def is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def product_code(factors: list[Code]) -> Code | None:
    if not factors:
        return None
    value, rest = 1.0, []
    for factor in factors:
        if is_number(factor.expr):
            value *= float(factor.expr)
        else:
            rest.append(factor)
    if not rest:
        return None if value == 1.0 else number_code(value)
    parts = ([wrap(number_code(value), PRODUCT)] if value != 1.0 else []) + [wrap(f, PRODUCT) for f in rest]
    return Code(" * ".join(parts), PRODUCT if len(parts) > 1 else rest[0].precedence, "scalar")


def scaled_code(factor: Code, code: Code) -> Code:
    if factor.expr == "-1.0":
        return Code(f"-{wrap(code, UNARY)}", UNARY, code.holds, negated=code)
    negated = None
    if is_number(factor.expr) and float(factor.expr) < 0:
        negated = Code(f"{wrap(number_code(-float(factor.expr)), PRODUCT)} * {wrap(code, PRODUCT + 1)}", PRODUCT)
    return Code(f"{wrap(factor, PRODUCT)} * {wrap(code, PRODUCT + 1)}", PRODUCT, code.holds, negated=negated)


def align(code: Code, labels: list, target: list, *, backend=None, leading: bool = True) -> Code:
    """``code`` (axes ``labels``) transposed and indexed with None to broadcast against ``target``.

    Leading new axes are left to broadcasting unless ``leading`` asks for every axis.
    """
    present = [label for label in target if label in labels]
    if present != list(labels):
        code = backend.transpose(code, [labels.index(label) for label in present])
    if not present:
        return code
    start = 0 if leading else target.index(present[0])
    index = [":" if label in labels else "None" for label in target[start:]]
    if all(i == ":" for i in index):
        return code
    return Code(f"{wrap(code, ATOM)}[{', '.join(index)}]")


@functools.lru_cache(maxsize=4096)
def contraction_path(equation: str, shapes: tuple) -> tuple:
    """The pairwise order for a contraction of three or more operands: dp with a memory cap
    for a few operands, greedy for many (see _DP_OPERANDS)."""
    import opt_einsum

    search = _PATH_SEARCH if len(shapes) <= _DP_OPERANDS else "greedy"
    try:
        path, _ = opt_einsum.contract_path(equation, *shapes, shapes=True, optimize=search, memory_limit="max_input")
    except RuntimeError:  # dp finds no order whose intermediates stay within the largest input: any will do
        path, _ = opt_einsum.contract_path(equation, *shapes, shapes=True, optimize="greedy")
    return tuple(path)
