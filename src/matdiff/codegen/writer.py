"""Generated code: a derivative's IR → standalone NumPy, JAX or PyTorch source.

This module owns ``Derivative.code`` / ``Derivative.compile`` and ``matdiff codegen``: it
writes one Python function that imports only its backend (matdiff is not needed to run
it) and computes the arranged derivative — optionally together with the value — from
keyword arrays named like the program's inputs. It reads the IR; it never changes it.

How the IR becomes code:

- one assignment per shared node, in postorder; nodes are interned, so a subexpression
  shared by the value and the derivative (or by several factors) is computed once.
  A node used once is written inline when its expression is short;
- an einsum becomes pairwise contractions in the order opt_einsum chooses when the code
  is generated: ``A @ B``, ``tensordot``, broadcasting products (``X * v[:, None]``).
  With a symbolic dimension the sizes are unknown until the call, so a contraction of
  three or more operands becomes one einsum whose path is chosen at the first call;
- Kronecker deltas and constant tensors are never built: a delta with a summed index
  was already eliminated by the simplifier, one whose indices are both free becomes a
  write into a diagonal view of the zero output (``np.einsum("ijil->ijl", out)[...] =
  inner``), and a constant becomes a number multiplied in or broadcast;
- symbolic dimensions are read from the input shapes, and every input is checked
  (``ValueError`` naming the input, the dimension and both sizes).
"""

from __future__ import annotations

import builtins
import functools
import keyword
import linecache
import re
from collections.abc import Hashable
from dataclasses import dataclass
from itertools import count

from matdiff.engine import ir
from matdiff.errors import MatdiffError
from matdiff.engine.primitives import ENTRIES, FUNCTIONS, reapply
from matdiff.language.shapes import shape_text
from matdiff.language.syntax import is_name

BACKENDS = ("numpy", "jax", "torch")

# Operator precedence of a rendered expression, to parenthesise exactly where needed.
SUM, PRODUCT, UNARY, POWER, ATOM = range(5)

_INLINE_LENGTH = 72  # single-use expressions longer than this get their own line
_SYMBOLIC_SIZE = 100  # the size assumed for a symbolic dimension when comparing costs
# opt_einsum's dynamic programming: its "optimal" counts only flops and happily builds an
# n×m×n broadcast to save a pass over a vector (X'·diag(v)·X); dp with a memory cap does not.
# Its search grows exponentially with the operands, so beyond _DP_OPERANDS the order is
# greedy (cheapest pair first, linear in practice): a 64-layer network compiles in well
# under a second. Paths are cached by structure (equation and sizes): a network's layers repeat.
_PATH_SEARCH = "dp"
_DP_OPERANDS = 8
# einsum subscripts are letters: a-z and A-Z in numpy and torch. A contraction with more
# labels is written as pairwise products, whose subscripts are local to each pair.
_EINSUM_LETTERS = 52
# Every name the generated module or function may use for itself: user inputs and dimensions
# get another name (lambda → lambda_) instead of shadowing one of these.
_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | {
    "np", "jnp", "jax", "torch", "dtype", "device", "sizes", "out", "values", "_check_shape", "_paths"}


@dataclass(frozen=True)
class Code:
    """A rendered node: its expression, how tightly it binds, and what it holds.

    kind "array": a full array of the node's shape; "view": a read-only broadcast of
    one; "scalar": a number (or 0-d array) standing for a node all of whose entries
    equal it; "eye": an identity matrix not built yet.
    """

    expr: str
    precedence: int = ATOM
    kind: str = "array"
    negated: "Code | None" = None  # -expr, when that reads better in a sum


def _wrap(code: Code, precedence: int) -> str:
    return code.expr if code.precedence >= precedence else f"({code.expr})"


def _number(value: float) -> Code:
    text = repr(float(value))
    if text in ("inf", "-inf", "nan"):
        text = f"float('{text}')"
    return Code(text, UNARY if value < 0 else ATOM, "scalar")


# ----- backends ------------------------------------------------------------------------


class NumpyBackend:
    """The NumPy spelling of each operation; JAX and PyTorch override what differs."""

    name = "numpy"
    module = "np"
    imports: tuple[str, ...] = ("import numpy as np",)
    decorator = ""
    def convert(self, name: str) -> str:
        return f"np.asarray({name}, dtype=np.float64)"

    def scalar(self, x: Code) -> Code:
        """A number as the backend's scalar, so that a function of it overflows to inf as an
        array would (Python's own ``1e200 ** 2`` raises OverflowError, ``1.0 / 0.0`` ZeroDivisionError)."""
        return Code(f"np.float64({x.expr})", ATOM, "scalar")

    def dtype_line(self, first_input: str | None) -> list[str]:
        return []

    def transpose(self, x: Code, permutation: list[int]) -> Code:
        if permutation == [1, 0]:
            return Code(f"{_wrap(x, ATOM)}.T")
        return Code(f"{_wrap(x, ATOM)}.transpose({', '.join(map(str, permutation))})")

    def sum(self, x: Code, axes: list[int], rank: int) -> Code:
        if len(axes) == rank:
            return Code(f"{_wrap(x, ATOM)}.sum()")
        return Code(f"{_wrap(x, ATOM)}.sum(axis={_tuple(axes)})")

    def tensordot(self, a: Code, b: Code, axes_a: list[int], axes_b: list[int]) -> Code:
        return Code(f"{self.module}.tensordot({a.expr}, {b.expr}, axes=({_tuple(axes_a)}, {_tuple(axes_b)}))")

    def einsum(self, subscripts: str, operands: list[Code]) -> Code:
        return Code(f"{self.module}.einsum({subscripts!r}, {', '.join(o.expr for o in operands)})")

    def contract(self, subscripts: str, operands: list[Code]) -> Code:
        """Three or more operands with sizes known only at the call: path chosen then, once."""
        return Code(f"_contract({subscripts!r}, {', '.join(o.expr for o in operands)})")

    def reshape(self, x: Code, shape: str) -> Code:
        return Code(f"{_wrap(x, ATOM)}.reshape({shape})")

    def broadcast(self, x: Code, shape: str) -> Code:
        return Code(f"np.broadcast_to({x.expr}, {shape})", kind="view")

    def full(self, value: str, shape: str) -> Code:
        if value == "0.0":
            return Code(f"np.zeros({shape})")
        return Code(f"np.full({shape}, {value})")

    def eye(self, n: str) -> Code:
        return Code(f"np.eye({n})")

    def contiguous(self, x: Code) -> Code:
        return Code(f"np.ascontiguousarray({x.expr})")

    def embed_diagonal(self, out: str, shape: str, inner: Code, view: str, strides: list[str],
                       reduced: str, eyes: tuple[str, list[str]]) -> list[str]:
        """out = zeros(shape) with ``inner`` written on the diagonal that ``view`` names."""
        return [f"{out} = np.zeros({shape})",
                f"np.einsum({view!r}, {out})[...] = {inner.expr}"]

    helpers = {
        "_contract": '''
_paths = {}


def _contract(subscripts, *operands):
    """np.einsum along a contraction path chosen once per combination of shapes."""
    key = (subscripts,) + tuple(operand.shape for operand in operands)
    if key not in _paths:
        _paths[key] = np.einsum_path(subscripts, *operands, optimize="greedy")[0]
    return np.einsum(subscripts, *operands, optimize=_paths[key])
''',
    }


class JaxBackend(NumpyBackend):
    name = "jax"
    module = "jnp"
    imports = ("import jax", "import jax.numpy as jnp")
    decorator = "@jax.jit\n"
    def convert(self, name: str) -> str:
        return f"jnp.asarray({name}, dtype=jnp.result_type(float))"

    def scalar(self, x: Code) -> Code:
        return Code(f"jnp.asarray({x.expr}, dtype=jnp.result_type(float))", ATOM, "scalar")

    def contract(self, subscripts: str, operands: list[Code]) -> Code:  # traced once per shape
        return Code(f"jnp.einsum({subscripts!r}, {', '.join(o.expr for o in operands)}, optimize='auto')")

    def broadcast(self, x: Code, shape: str) -> Code:
        return Code(f"jnp.broadcast_to({x.expr}, {shape})")

    def full(self, value: str, shape: str) -> Code:
        return Code(f"jnp.full({shape}, {value})")

    def eye(self, n: str) -> Code:
        return Code(f"jnp.eye({n})")

    def contiguous(self, x: Code) -> Code:
        return x

    def embed_diagonal(self, out, shape, inner, view, strides, reduced, eyes) -> list[str]:
        # No views to write through under jit: multiply by identity matrices, which XLA
        # generates inside the fused product (an iota comparison) instead of storing.
        subscripts, operands = eyes
        product = f"jnp.einsum({subscripts!r}, {', '.join(operands)})"
        if inner.kind == "scalar":
            product = f"{_wrap(inner, PRODUCT)} * {product}"
        return [f"{out} = {product}"]

    helpers: dict[str, str] = {}


class TorchBackend(NumpyBackend):
    name = "torch"
    module = "torch"
    imports = ("import torch",)
    def convert(self, name: str) -> str:
        return f"_tensor({name})"

    def scalar(self, x: Code) -> Code:  # torch functions take tensors only
        return Code(f"torch.as_tensor({x.expr}, dtype=dtype, device=device)", ATOM, "scalar")

    def dtype_line(self, first_input: str | None) -> list[str]:
        if first_input is None:
            return ["dtype, device = torch.float64, None"]
        return [f"dtype, device = {first_input}.dtype, {first_input}.device"]

    def transpose(self, x: Code, permutation: list[int]) -> Code:
        if permutation == [1, 0]:
            return Code(f"{_wrap(x, ATOM)}.T")
        return Code(f"{_wrap(x, ATOM)}.permute({', '.join(map(str, permutation))})")

    def sum(self, x: Code, axes: list[int], rank: int) -> Code:
        if len(axes) == rank:
            return Code(f"{_wrap(x, ATOM)}.sum()")
        return Code(f"{_wrap(x, ATOM)}.sum(dim={_tuple(axes)})")

    def tensordot(self, a, b, axes_a, axes_b) -> Code:
        return Code(f"torch.tensordot({a.expr}, {b.expr}, dims=({list(axes_a)}, {list(axes_b)}))")

    def contract(self, subscripts: str, operands: list[Code]) -> Code:  # torch.einsum asks opt_einsum
        return self.einsum(subscripts, operands)

    def broadcast(self, x: Code, shape: str) -> Code:
        return Code(f"{_wrap(x, ATOM)}.expand({shape})", kind="view")

    def full(self, value: str, shape: str) -> Code:
        if value == "0.0":
            return Code(f"torch.zeros({shape}, dtype=dtype, device=device)")
        return Code(f"torch.full({shape}, {value}, dtype=dtype, device=device)")

    def eye(self, n: str) -> Code:
        return Code(f"torch.eye({n}, dtype=dtype, device=device)")

    def contiguous(self, x: Code) -> Code:
        return Code(f"{_wrap(x, ATOM)}.contiguous()")

    def embed_diagonal(self, out, shape, inner, view, strides, reduced, eyes) -> list[str]:
        fill = f"fill_({inner.expr})" if inner.kind == "scalar" else f"copy_({inner.expr})"
        return [f"{out} = torch.zeros({shape}, dtype=dtype, device=device)",
                f"{out}.as_strided({reduced}, {_tuple(strides)}).{fill}"]

    helpers = {
        "_tensor": '''
def _tensor(value):
    """A floating-point tensor: a tensor's own dtype when floating, else float64 (as matdiff computes)."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value
    return torch.as_tensor(value, dtype=torch.float64)
''',
    }


_BACKENDS = {"numpy": NumpyBackend(), "jax": JaxBackend(), "torch": TorchBackend()}

_CHECK_SHAPE = '''
def _check_shape(name, array, expected, sizes):
    """Bind the symbolic dimensions of ``expected`` (into ``sizes``: name → (size, input))
    from ``array``'s shape; ValueError on a mismatch."""
    shape = tuple(array.shape)
    if len(shape) != len(expected):
        wanted = "a scalar" if not expected else "×".join(map(str, expected))
        raise ValueError(f"{name} must be {wanted}, but its value has shape {shape}")
    for dimension, size in zip(expected, shape):
        if isinstance(dimension, int) and dimension != size:
            raise ValueError(f"{name} must be {'×'.join(map(str, expected))}, but its value has shape {shape}")
        if isinstance(dimension, str):
            known, source = sizes.setdefault(dimension, (size, name))
            if known != size:
                raise ValueError(f"dimension {dimension} is {known} in {source} but {size} in {name}")
'''


def _tuple(items) -> str:
    items = list(items)
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(map(str, items))})"


# ----- the program ---------------------------------------------------------------------


class _Writer:
    """Writes the body of one generated function, node by node in postorder."""

    def __init__(self, backend: NumpyBackend, roots: list[ir.Tensor], variables: dict[str, ir.Tensor]):
        self.backend = backend
        self.lines: list[str] = []
        self.helpers: set[str] = set()
        self.code: dict[int, Code] = {}
        self.taken = set(_RESERVED) | set(_helper_sources(backend))
        self.temporaries = count(1)
        self.assigned: dict[str, str] = {}
        self.roots = roots
        self.order = self._postorder(roots)
        self.uses: dict[int, int] = {}
        for node in self.order:
            for argument in node.args:
                self.uses[id(argument)] = self.uses.get(id(argument), 0) + 1
        for root in roots:
            self.uses[id(root)] = self.uses.get(id(root), 0) + 2  # a root is always named
        self.variables = {name: node for name, node in variables.items()}
        self.names = {name: self._name(name) for name in variables}
        self.dimensions: dict[str, str] = {}

    @staticmethod
    def _postorder(roots):
        seen, order = set(), []
        for root in roots:
            for node in ir.postorder(root):
                if id(node) not in seen:
                    seen.add(id(node))
                    order.append(node)
        return order

    def _name(self, preferred: str, fallback: str = "input") -> str:
        """A fresh local name, ``preferred`` when it is a plain ASCII name nothing else uses."""
        name = preferred if is_name(preferred) else fallback
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        return name

    def _assign(self, expression: str) -> str:
        """A name bound to ``expression``; the same expression twice is computed once
        (two IR nodes can differ only in the order of their operands)."""
        if expression not in self.assigned:
            name = self._temporary()
            self.lines.append(f"{name} = {expression}")
            self.assigned[expression] = name
        return self.assigned[expression]

    def _temporary(self) -> str:
        while True:
            name = f"t{next(self.temporaries)}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    # -- dimensions --

    def bind_inputs(self, needed: list[str]) -> None:
        """Convert and check every needed input; name its symbolic dimensions."""
        backend = self.backend
        self.helpers.add("_check_shape")
        if backend.name == "torch":
            self.helpers.add("_tensor")
        self.lines.append("sizes = {}")
        for name in needed:
            local, shape = self.names[name], self.variables[name].shape
            self.lines.append(f"{local} = {backend.convert(local)}")
            if len(shape) == 1:  # a column or row given as a matrix, as md.evaluate accepts
                self.lines.append(f"if {local}.ndim == 2 and 1 in {local}.shape:")
                self.lines.append(f"    {local} = {local}.reshape(-1)")
            elif not shape:
                self.lines.append(f"if {local}.ndim and {local}.numel() == 1:" if backend.name == "torch"
                                  else f"if {local}.ndim and {local}.size == 1:")
                self.lines.append(f"    {local} = {local}.reshape(())")
            self.lines.append(f"_check_shape({name!r}, {local}, {tuple(shape)!r}, sizes)")
            for dimension in shape:
                if isinstance(dimension, str) and dimension not in self.dimensions:
                    self.dimensions[dimension] = self._name(dimension, "dim")
                    self.lines.append(f"{self.dimensions[dimension]} = sizes[{dimension!r}][0]")
        self.lines.extend(backend.dtype_line(self.names[needed[0]] if needed else None))

    def dim(self, dimension) -> str:
        if isinstance(dimension, int):
            return str(dimension)
        factors = []
        for factor in str(dimension).split("*"):
            if factor.isdigit():
                factors.append(factor)
            elif factor in self.dimensions:
                factors.append(self.dimensions[factor])
            else:
                raise MatdiffError(f"the size of dimension {factor} is not fixed by any input, so no code "
                                   "can compute it")
        return " * ".join(factors)

    def shape(self, dims) -> str:
        return _tuple(self.dim(d) for d in dims) if dims else "()"

    @staticmethod
    def cost(dims) -> int:
        total = 1
        for d in dims:
            total *= d if isinstance(d, int) else _SYMBOLIC_SIZE
        return total

    # -- nodes --

    def write(self, node: ir.Tensor) -> None:
        op = node.op
        if op == "var":
            code = Code(self.names[node.params[0]])
        elif op == "const":
            code = _number(node.params[0])
        elif op == "eye":
            code = Code(self.backend.eye(self.dim(node.shape[0])).expr, kind="eye")
        elif op == "einsum":
            code = self.einsum(node)
        elif op == "add":
            code = self.add(node)
        elif op == "reshape":
            code = self.reshape(node)
        elif op == "power":
            base, exponent = (self.array(a) for a in node.args)
            if base.kind == "scalar":  # NumPy's power: inf or nan, never Python's OverflowError
                base = self.backend.scalar(base)
            code = Code(f"{_wrap(base, ATOM)} ** {_wrap(exponent, ATOM)}", POWER)
        elif op == "constant_power" or (op in FUNCTIONS and FUNCTIONS[op].acts == ENTRIES):
            code = self.elementwise(node)
        elif op in FUNCTIONS:
            code = self.function(FUNCTIONS[op].code[self.backend.name], self.array(node.args[0]), FUNCTIONS[op])
        else:
            raise MatdiffError(f"no code generation for the {op} operation")
        self.code[id(node)] = self._place(node, code)

    def _place(self, node: ir.Tensor, code: Code) -> Code:
        """Inline a short single-use expression; name everything else."""
        if code.kind in ("scalar", "eye") and node.op in ("const", "eye"):
            return code
        if code.precedence == ATOM and code.expr.isidentifier():
            return code
        if self.uses.get(id(node), 0) <= 1 and len(code.expr) <= _INLINE_LENGTH:
            return code
        return Code(self._assign(code.expr), ATOM, code.kind)

    def array(self, node: ir.Tensor) -> Code:
        """The node as a real array of its shape (constants and identities built here)."""
        code = self.code[id(node)]
        if code.kind == "eye":
            return code
        if code.kind == "scalar" and node.rank:
            return self.backend.full(code.expr, self.shape(node.shape))
        return code

    def elementwise(self, node: ir.Tensor) -> Code:
        (argument,) = node.args
        x = self.code[id(argument)]
        if x.kind == "scalar" and _is_number(x.expr):  # a function of a constant: fold it here
            with _quiet():
                folded = _apply_number(node, float(x.expr))
            if folded is not None:
                return _number(folded)
        if x.kind == "eye":
            x = self.array(argument)
        elif x.kind == "scalar" and (self.backend.name == "torch" or node.op == "constant_power"):
            x = self.backend.scalar(x)  # x ** k of a Python float may raise instead of giving inf
        if node.op == "constant_power":
            exponent = node.params[0]
            if exponent == 0.5:
                result = self.function(FUNCTIONS["sqrt"].code[self.backend.name], x, FUNCTIONS["sqrt"])
            elif exponent == -1.0:
                result = Code(f"1.0 / {_wrap(x, PRODUCT + 1)}", PRODUCT)
            else:
                shown = str(int(exponent)) if float(exponent).is_integer() else repr(exponent)
                result = Code(f"{_wrap(x, ATOM)} ** {shown if exponent >= 0 else f'({shown})'}", POWER)
        else:
            result = self.function(FUNCTIONS[node.op].code[self.backend.name], x, FUNCTIONS[node.op])
        return Code(result.expr, result.precedence, "scalar" if x.kind == "scalar" else "array")

    def function(self, template: str, x: Code, function) -> Code:
        """A function's code for this backend, from its template in the table of primitives
        (``{x}``: the argument; ``{x!}``: the argument, parenthesised unless atomic)."""
        self.helpers.update(function.helpers.get(self.backend.name, {}))
        expression = template.replace("{x!}", _wrap(x, ATOM)).replace("{x}", x.expr)
        return Code(expression, ATOM if _is_atomic(template) else SUM)

    def add(self, node: ir.Tensor) -> Code:
        terms = [self.code[id(a)] if self.code[id(a)].kind != "eye" else self.array(a) for a in node.args]
        constants = [t for t in terms if t.kind == "scalar"]
        arrays = [t for t in terms if t.kind != "scalar"]
        ordered = constants + arrays
        text = ""
        for position, term in enumerate(ordered):
            if position == 0:
                text = term.expr if term.precedence >= SUM else f"({term.expr})"
            elif term.negated is not None:
                text += f" - {_wrap(term.negated, PRODUCT)}"
            elif term.expr.startswith("-") and _is_number(term.expr):
                text += f" - {term.expr[1:]}"
            else:
                text += f" + {_wrap(term, PRODUCT)}"
        kind = "scalar" if not arrays else "array"
        if arrays and all(t.kind == "view" for t in arrays):
            kind = "view"
        return Code(text, SUM, kind)

    def reshape(self, node: ir.Tensor) -> Code:
        x = self.code[id(node.args[0])]
        if x.kind == "scalar":
            return x
        return self.backend.reshape(self.array(node.args[0]), self.shape(node.shape))

    # -- contractions --

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
            if code.kind == "eye":
                a, b = labels
                parent[find(b)] = find(a)
            elif code.kind == "scalar":
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
                letters = {label: _letter(k) for k, label in enumerate(unique)}
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
            if inner.kind == "scalar":
                return inner
            aligned = _align(inner, inner_labels, reduced_output)
            return self.backend.broadcast(aligned, self.shape(node.shape))
        return self.embed(node, inner, inner_labels, reduced_output, full_output, sizes)

    def contract(self, tensors, kept, factors, sizes) -> tuple[Code, list]:
        """The product of ``tensors`` summed to the labels ``kept``, times the scalar ``factors``."""
        if not tensors:
            value = 1.0
            symbolic = []
            for factor in factors:
                if _is_number(factor.expr):
                    value *= float(factor.expr)
                else:
                    symbolic.append(factor)
            if not symbolic:
                return _number(value), []
            text = " * ".join(_wrap(f, PRODUCT) for f in symbolic)
            if value != 1.0:
                text = f"{_wrap(_number(value), PRODUCT)} * {text}"
            return Code(text, PRODUCT, "scalar"), []
        factor = _product(factors)
        result_cost = self.cost(sizes[label] for label in kept)
        smallest = min(range(len(tensors)), key=lambda k: self.cost(tensors[k][2]))
        scale_result = factor is not None and result_cost <= self.cost(tensors[smallest][2])
        if factor is not None and not scale_result:
            code, labels, shape = tensors[smallest]
            tensors = list(tensors)
            tensors[smallest] = (_scaled(factor, code), labels, shape)

        if len(tensors) == 1:
            code, labels, _ = tensors[0]
            summed = [k for k, label in enumerate(labels) if label not in kept]
            if summed:
                code = self.backend.sum(code, summed, len(labels))
                labels = [label for label in labels if label in kept]
        elif len(tensors) >= 3 and not all(isinstance(sizes[l], int) for _, ls, _ in tensors for l in ls) \
                and len({label for _, labels, _ in tensors for label in labels}) <= _EINSUM_LETTERS:
            letters: dict[Hashable, str] = {}
            for _, labels, _ in tensors:
                for label in labels:
                    letters.setdefault(label, _letter(len(letters)))
            subscripts = ",".join("".join(letters[l] for l in labels) for _, labels, _ in tensors)
            subscripts += "->" + "".join(letters[l] for l in kept)
            code, labels = self.backend.contract(subscripts, [t[0] for t in tensors]), list(kept)
            if self.backend.name == "numpy":
                self.helpers.add("_contract")
        else:
            code, labels = self.pairwise(tensors, kept, sizes)
        if scale_result:
            code = _scaled(factor, code)
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
        shapes = [tuple(sizes[l] if isinstance(sizes[l], int) else _SYMBOLIC_SIZE for l in labels)
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
        batch = [label for label in la if label in lb and label in needed]
        summed = [label for label in la if label in lb and label not in needed]
        if not batch and not summed:  # outer product
            if not la or not lb:
                return Code(f"{_wrap(a, PRODUCT)} * {_wrap(b, PRODUCT + 1)}", PRODUCT), la + lb
            expanded = Code(f"{_wrap(a, ATOM)}[..., {', '.join(['None'] * len(lb))}]")
            return Code(f"{expanded.expr} * {_wrap(b, PRODUCT + 1)}", PRODUCT), la + lb
        if not batch:
            if len(summed) == 1 and len(la) <= 2 and len(lb) <= 2:
                (k,) = summed
                left = a if la[-1] == k else backend.transpose(a, [1, 0])
                right = b if lb[0] == k else backend.transpose(b, [1, 0])
                labels = [x for x in la if x != k] + [x for x in lb if x != k]
                return Code(f"{_wrap(left, PRODUCT)} @ {_wrap(right, PRODUCT + 1)}", PRODUCT), labels
            code = backend.tensordot(a, b, [la.index(x) for x in summed], [lb.index(x) for x in summed])
            return code, [x for x in la if x not in summed] + [x for x in lb if x not in summed]
        if not summed:  # a broadcasting (Hadamard-like) product, keeping the larger operand's order
            if self.cost(self.sizes[x] for x in lb) > self.cost(self.sizes[x] for x in la):
                (a, la), (b, lb) = (b, lb), (a, la)
            labels = la + [x for x in lb if x not in la]
            base = a if len(labels) == len(la) else Code(f"{_wrap(a, ATOM)}[..., {', '.join(['None'] * (len(labels) - len(la)))}]")
            other = _align(b, lb, labels, backend=backend, leading=False)
            return Code(f"{_wrap(base, PRODUCT)} * {_wrap(other, PRODUCT + 1)}", PRODUCT), labels
        letters: dict[Hashable, str] = {}
        for label in la + lb:
            letters.setdefault(label, _letter(len(letters)))
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
        letters = {label: _letter(k) for k, label in enumerate(reduced_output)}
        view = "".join(letters[label] for label in full_output) + "->" + "".join(letters[l] for l in reduced_output)
        first = {label: full_output.index(label) for label in reduced_output}
        reduced = self.shape(tuple(node.shape[first[label]] for label in reduced_output))
        strides = [_folded(" + ".join(self._stride(node.shape, k) for k, x in enumerate(full_output) if x == label))
                   for label in reduced_output]
        # For JAX, which has no views to write through: inner times one identity per repeated
        # label, and ones for a label only broadcast (XLA generates both inside the product).
        operands, subscripts, position_letters = [], [], []
        if inner.kind != "scalar":
            operands.append(inner.expr)
            subscripts.append("".join(letters[label] for label in inner_labels))
        for k, label in enumerate(full_output):
            if k != first[label]:
                fresh = _letter(len(reduced_output) + k)
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
        aligned = inner if inner.kind == "scalar" else _align(inner, inner_labels, reduced_output)
        self.lines.extend(self.backend.embed_diagonal(out, self.shape(node.shape), aligned, view, strides,
                                                      reduced, eyes))
        return Code(out)

    def _stride(self, shape, axis) -> str:
        after = shape[axis + 1:]
        return " * ".join(self.dim(d) for d in after) if after else "1"


def _folded(expression: str) -> str:
    """An arithmetic expression of integer literals evaluated; one with names left alone."""
    if all(part.strip().isdigit() for part in expression.replace("+", "*").split("*")):
        return str(eval(expression, {"__builtins__": {}}))  # noqa: S307 - digits, + and * only
    return expression


def _letter(k: int) -> str:
    import opt_einsum

    return opt_einsum.get_symbol(k)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _product(factors: list[Code]) -> Code | None:
    if not factors:
        return None
    value, rest = 1.0, []
    for factor in factors:
        if _is_number(factor.expr):
            value *= float(factor.expr)
        else:
            rest.append(factor)
    if not rest:
        return None if value == 1.0 else _number(value)
    parts = ([_wrap(_number(value), PRODUCT)] if value != 1.0 else []) + [_wrap(f, PRODUCT) for f in rest]
    return Code(" * ".join(parts), PRODUCT if len(parts) > 1 else rest[0].precedence, "scalar")


def _scaled(factor: Code, code: Code) -> Code:
    if factor.expr == "-1.0":
        return Code(f"-{_wrap(code, UNARY)}", UNARY, code.kind, negated=code)
    negated = None
    if _is_number(factor.expr) and float(factor.expr) < 0:
        negated = Code(f"{_wrap(_number(-float(factor.expr)), PRODUCT)} * {_wrap(code, PRODUCT + 1)}", PRODUCT)
    return Code(f"{_wrap(factor, PRODUCT)} * {_wrap(code, PRODUCT + 1)}", PRODUCT, code.kind, negated=negated)


def _align(code: Code, labels: list, target: list, *, backend=None, leading: bool = True) -> Code:
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
    return Code(f"{_wrap(code, ATOM)}[{', '.join(index)}]")


def _is_atomic(template: str) -> bool:
    """A call (``np.exp({x})``, ``(x > 0).to(dtype)``): nothing outside its parentheses but names."""
    depth, outside = 0, ""
    for character in template:
        depth += character == "("
        outside += character if depth == 0 else ""
        depth -= character == ")"
    return "(" in template and all(c.isalnum() or c in "_." for c in outside.replace(")", ""))


def _helper_sources(backend: NumpyBackend) -> dict[str, str]:
    """The helper functions generated code may define: the backend's and the functions' own."""
    sources = dict(backend.helpers)
    for function in FUNCTIONS.values():
        sources.update(function.helpers.get(backend.name, {}))
    return sources


def _quiet():
    import numpy as np

    return np.errstate(all="ignore")


def _apply_number(node: ir.Tensor, value: float) -> float | None:
    """f(value) as md.evaluate computes it, or None when that is not a finite number."""
    import numpy as np

    if node.op == "constant_power":
        result = np.power(value, node.params[0])
    else:
        result = FUNCTIONS[node.op].numpy(np.float64(value))
    result = float(result)
    return result if np.isfinite(result) else None


# ----- a rewrite for speed: common factors out of sums ------------------------------------


def factor_sums(roots: list[ir.Tensor]) -> list[ir.Tensor]:
    """Σ_t F·R_t = F·(Σ_t R_t) for a factor F every term of a sum shares, indexed the same way.

    Reverse mode leaves sums such as X'·diag(a) + X'·diag(b) (a logistic Hessian); computing
    X'·diag(a + b) instead saves a pass over X per term. Only factors whose indices are all
    free are moved, so no summation is reordered.
    """
    from matdiff.engine.simplify import simplify

    memo: dict[int, ir.Tensor] = {}
    order = _Writer._postorder(roots)
    for node in order:
        args = [memo[id(a)] for a in node.args]
        new = node if all(a is b for a, b in zip(args, node.args)) else reapply(node, args)
        if new.op == "add":
            new = _factor_sum(new)
        memo[id(node)] = new
    return [simplify(memo[id(root)]) for root in roots]


def _factor_sum(node: ir.Tensor) -> ir.Tensor:
    from matdiff.engine.simplify import simplify_einsum

    if len(node.args) < 2 or any(t.op != "einsum" for t in node.args):
        return node
    # a term that scales or transposes a shared product is looked at as that product
    terms = [simplify_einsum(t.params[1], list(zip(t.args, t.params[0])), [True] * len(t.args))
             for t in node.args]
    if any(t.op != "einsum" for t in terms):
        return node
    rank = node.rank

    def free_factors(term):
        """(id, operand, output positions) of each operand whose every index is free."""
        inputs, output = term.params
        position = {label: k for k, label in enumerate(output)}
        found = {}
        for operand, labels in zip(term.args, inputs):
            if operand.rank and all(label in position for label in labels):
                key = (id(operand), tuple(position[label] for label in labels))
                found[key] = operand
        return found

    common = free_factors(terms[0])
    for term in terms[1:]:
        others = free_factors(term)
        common = {key: operand for key, operand in common.items() if key in others}
    if not common:
        return node
    (key, factor), *_ = sorted(common.items(), key=lambda item: -_Writer.cost(item[1].shape))
    positions = key[1]
    rests, kept = [], set()
    for term in terms:
        inputs, output = term.params
        operands = list(zip(term.args, inputs))
        for k, (operand, labels) in enumerate(operands):
            if id(operand) == key[0] and all(label in output for label in labels) \
                    and tuple(output.index(label) for label in labels) == positions:
                del operands[k]
                break
        rests.append((operands, output))
        kept |= {output.index(label) for _, labels in operands for label in labels if label in output}
    kept_positions = sorted(kept)
    sizes = {("out", k): d for k, d in enumerate(node.shape)}
    summands = []
    for operands, output in rests:
        rename = {label: ("out", k) for k, label in enumerate(output)}
        relabelled = [(operand, tuple(rename.get(label, label) for label in labels)) for operand, labels in operands]
        summands.append(ir.einsum([("out", k) for k in kept_positions], *relabelled, sizes=sizes))
    inner = ir.add(*summands)
    return ir.einsum([("out", k) for k in range(rank)], (factor, [("out", k) for k in positions]),
                     (inner, [("out", k) for k in kept_positions]), sizes=sizes)


# ----- the public entry points ---------------------------------------------------------


def _backend(name: str) -> NumpyBackend:
    if not isinstance(name, str) or name not in _BACKENDS:
        raise MatdiffError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    return _BACKENDS[name]


def _value_node(derivative) -> ir.Tensor:
    """The program's value as ``md.evaluate`` shapes it, in terms of the inputs only."""
    lowered = derivative.lowered
    node = lowered.value.node
    node = lowered.filled_in(node) if lowered.intermediate in derivative.wrt else node
    surface = lowered.value.surface()
    if ir.is_all_ones(surface):
        return ir.reshape(node, ())
    return ir.reshape(node, surface) if lowered.value.row else node


def _describe(derivative, *, with_value: bool) -> str:
    order = len(derivative.wrt)
    partial = "∂" + (str(order).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")) if order > 1 else "")
    by = "".join(f"∂{name}" for name in derivative.wrt)
    shown = shape_text(derivative.shape)
    lead = "The value f and " if with_value else ""
    program = "\n".join("    " + line.strip() for line in derivative.source.strip().splitlines() if line.strip())
    return f"{lead}{partial}f/{by}, {derivative.layout} layout, {shown}, where f is the value of\n\n{program}\n"


def _docstring(text: str) -> str:
    """``text`` as a triple-quoted literal that shows it as written: backslashes and quotes are
    escaped, so no user text can end the string early, and unprintable characters become escapes."""
    escaped = "".join(
        "\\" + c if c in '\\"' else c if c.isprintable() or c == "\n" else c.encode("unicode_escape").decode("ascii")
        for c in text)
    return '"""' + escaped + '"""'


def program_source(roots: list[ir.Tensor], variables: dict[str, ir.Tensor], backend: str, *,
                   name: str = "derivative", doc: str = "") -> str:
    """Standalone source of ``def name(*, inputs...)`` returning the value of each root
    (one root: that array; several: a tuple), for ``backend``."""
    writer = _Writer(_backend(backend), factor_sums(roots), variables)
    used = {n.params[0] for n in writer.order if n.op == "var"}
    unknown = sorted(used - set(variables))
    if unknown:
        raise MatdiffError(f"no input named {unknown[0]} to generate code for")
    # An input the result does not read is still needed when it alone fixes a dimension (x in 2·I_n).
    symbols = {f for n in writer.order for d in n.shape if isinstance(d, str) for f in d.split("*")}
    bound = {d for v in used for d in variables[v].shape if isinstance(d, str)}
    for v, node in variables.items():
        dims = {d for d in node.shape if isinstance(d, str)}
        if v not in used and dims & (symbols - bound):
            used.add(v)
            bound |= dims
    needed = [v for v in variables if v in used]
    writer.bind_inputs(needed)
    for node in writer.order:
        writer.write(node)
    results = []
    for root in writer.roots:
        code = writer.code[id(root)]
        if code.kind in ("scalar", "eye"):
            code = writer.array(root) if root.rank else Code(f"{writer.backend.module}.asarray({code.expr})")
        elif code.kind == "view":
            code = writer.backend.contiguous(code)
        results.append(code.expr)
    writer.lines.append(f"return {', '.join(results)}")

    ordinary = all(writer.names[v] == v for v in variables)
    if ordinary:
        parameters = ", ".join(v if v in used else f"{v}=None" for v in variables)
        signature = f"def {name}(*, {parameters}):" if parameters else f"def {name}():"
        unpack = []
    else:  # an input named like a keyword or a module: take the values as a dict
        signature = f"def {name}(**values):"
        unpack = [f"{writer.names[v]} = values[{v!r}]" for v in needed]
    body = [re.sub(r"\n(?=.)", "\n    ", _docstring(doc))] if doc else []
    body += unpack + writer.lines
    backend_object = writer.backend
    sources = _helper_sources(backend_object)
    helpers = [sources.get(h, _CHECK_SHAPE) for h in sorted(writer.helpers)]
    header = f'"""Generated by matdiff for {backend_object.name}; needs only {backend_object.imports[-1].split()[1]}."""'
    blocks = [header + "\n\n" + "\n".join(backend_object.imports)] + [h.strip() for h in helpers]
    blocks.append(backend_object.decorator + signature + "\n" + "\n".join("    " + line for line in body))
    return "\n\n\n".join(blocks) + "\n"


def derivative_source(derivative, backend: str = "numpy", *, with_value: bool = False) -> str:
    """The source of the function ``compile_derivative`` returns (``d.code``)."""
    roots = ([_value_node(derivative)] if with_value else []) + [derivative.tensor]
    name = "value_and_derivative" if with_value else "derivative"
    return program_source(roots, derivative.input_variables, backend, name=name,
                          doc=_describe(derivative, with_value=with_value))


def compile_derivative(derivative, backend: str = "numpy", *, with_value: bool = False):
    """A callable(**inputs) → the derivative in its layout (``with_value``: (value, derivative)),
    running the generated source for ``backend``."""
    _backend(backend)
    source = derivative_source(derivative, backend, with_value=with_value)
    name = "value_and_derivative" if with_value else "derivative"
    return compile_source(source, name, backend)


def compile_source(source: str, name: str, backend: str):
    """Execute generated source and return its function; the source stays readable in tracebacks."""
    requirement = {"jax": "jax", "torch": "torch"}.get(backend)
    if requirement:
        from importlib.util import find_spec

        if find_spec(requirement) is None:
            raise MatdiffError(f"the {backend} backend needs {requirement}: pip install 'matdiff[{backend}]'")
    filename = f"<matdiff-{backend}-{abs(hash(source)):x}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": f"matdiff_generated_{backend}"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    function = namespace[name]
    try:
        function.source = source
    except AttributeError:  # some jit wrappers take no attributes
        pass
    return function



@functools.lru_cache(maxsize=4096)
def contraction_path(equation: str, shapes: tuple) -> tuple:
    """The pairwise order for a contraction of three or more operands: dp with a memory cap
    for a few operands, greedy for many (see _DP_OPERANDS)."""
    import opt_einsum

    search = _PATH_SEARCH if len(shapes) <= _DP_OPERANDS else "greedy"
    path, _ = opt_einsum.contract_path(equation, *shapes, shapes=True, optimize=search, memory_limit="max_input")
    return tuple(path)
