"""The backends of generated code: how NumPy, JAX and PyTorch spell each operation, and the
rendered expression (:class:`Code`) with the precedence that decides its parentheses."""

from __future__ import annotations


from dataclasses import dataclass

from matdiff.errors import MatdiffError
from matdiff.engine.functions import FUNCTIONS


BACKENDS = ("numpy", "jax", "torch")

# Operator precedence of a rendered expression, to parenthesise exactly where needed.


SUM, PRODUCT, UNARY, POWER, ATOM = range(5)


@dataclass(frozen=True)
class Code:
    """A rendered node: its expression, how tightly it binds, and what it holds.

    holds "array": a full array of the node's shape; "view": a read-only broadcast of
    one; "scalar": a number (or 0-d array) standing for a node all of whose entries
    equal it; "eye": an identity matrix not built yet.
    """

    expr: str
    precedence: int = ATOM
    holds: str = "array"
    negated: "Code | None" = None  # -expr, when that reads better in a sum


def wrap(code: Code, precedence: int) -> str:
    return code.expr if code.precedence >= precedence else f"({code.expr})"


def number_code(value: float) -> Code:
    text = repr(float(value))
    if text in ("inf", "-inf", "nan"):
        text = f"float('{text}')"
    return Code(text, UNARY if value < 0 else ATOM, "scalar")


class NumpyBackend:
    """The NumPy spelling of each operation; JAX and PyTorch override what differs."""

    name = "numpy"
    module = "np"
    imports: tuple[str, ...] = ("import numpy as np",)
    decorator = ""
    converter = "_array"  # the helper that turns an input into an array (dtype rule: README "Generated code")

    def convert(self, name: str) -> str:
        return f"_array({name}, {name!r})"

    def scalar(self, x: Code) -> Code:
        """A number as the backend's scalar, so that a function of it overflows to inf as an
        array would (Python's own ``1e200 ** 2`` raises OverflowError, ``1.0 / 0.0`` ZeroDivisionError)."""
        return Code(f"np.float64({x.expr})", ATOM, "scalar")

    def dtype_line(self, first_input: str | None) -> list[str]:
        return []

    def transpose(self, x: Code, permutation: list[int]) -> Code:
        if permutation == [1, 0]:
            return Code(f"{wrap(x, ATOM)}.T")
        return Code(f"{wrap(x, ATOM)}.transpose({', '.join(map(str, permutation))})")

    def sum(self, x: Code, axes: list[int], rank: int) -> Code:
        if len(axes) == rank:
            return Code(f"{wrap(x, ATOM)}.sum()")
        return Code(f"{wrap(x, ATOM)}.sum(axis={tuple_text(axes)})")

    def tensordot(self, a: Code, b: Code, axes_a: list[int], axes_b: list[int]) -> Code:
        return Code(f"{self.module}.tensordot({a.expr}, {b.expr}, axes=({tuple_text(axes_a)}, {tuple_text(axes_b)}))")

    def einsum(self, subscripts: str, operands: list[Code]) -> Code:
        return Code(f"{self.module}.einsum({subscripts!r}, {', '.join(o.expr for o in operands)})")

    def contract(self, subscripts: str, operands: list[Code]) -> Code:
        """Three or more operands with sizes known only at the call: path chosen then, once."""
        return Code(f"_contract({subscripts!r}, {', '.join(o.expr for o in operands)})")

    def reshape(self, x: Code, shape: str) -> Code:
        return Code(f"{wrap(x, ATOM)}.reshape({shape})")

    def broadcast(self, x: Code, shape: str) -> Code:
        return Code(f"np.broadcast_to({x.expr}, {shape})", holds="view")

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
        "_array": '''
def _array(value, name):
    """A floating-point array: a float array keeps its dtype (float32 stays float32), anything else
    becomes float64, as matdiff computes; complex values are refused (the derivative is real)."""
    array = np.asarray(value)
    if array.dtype.kind == "c":
        raise TypeError(f"{name} is complex: the derivative is of real inputs")
    return array if array.dtype.kind == "f" else array.astype(np.float64)
''',
        "_check_structure": '''
def _check_structure(name, array, structure):
    """The assumption this code relies on (assume=...), checked once per call, with a tolerance; spd
    is checked as symmetric with a positive diagonal (cheap, and necessary)."""
    scale = 1e-9 * max(1.0, float(np.abs(array).max(initial=0.0)))
    broken = None
    if structure in ("symmetric", "spd", "diagonal") and not np.allclose(array, array.T, rtol=0.0, atol=scale):
        broken = "is not symmetric"
    elif structure == "spd" and np.any(np.diag(array) <= 0):
        broken = "is not positive definite (a diagonal entry is not positive)"
    elif structure == "diagonal" and np.any(np.abs(array - np.diag(np.diag(array))) > scale):
        broken = "has nonzero entries off the diagonal"
    elif structure == "positive" and np.any(array <= 0):
        broken = "has entries that are not positive"
    elif structure in ("onehot", "rows_onehot") and array.ndim and not np.allclose(
            array.sum(axis=-1 if structure == "rows_onehot" and array.ndim == 2 else 0), 1.0, atol=1e-9):
        broken = f"has {'rows' if structure == 'rows_onehot' else 'columns'} that do not sum to 1"
    if broken:
        raise ValueError(f"{name} is assumed {structure}, but its value {broken} (the derivative relies on it; "
                         "compile with check_assumptions=False to skip this check)")
''',
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
        return f"_array({name}, {name!r})"

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
        if inner.holds == "scalar":
            product = f"{wrap(inner, PRODUCT)} * {product}"
        return [f"{out} = {product}"]

    helpers: dict[str, str] = {
        "_array": '''
def _array(value, name):
    """A floating-point array: a float array keeps its dtype, anything else becomes the default float
    (float64: the caller runs under jax.enable_x64 unless every input is float32 or narrower)."""
    if jnp.iscomplexobj(value):
        raise TypeError(f"{name} is complex: the derivative is of real inputs")
    array = jnp.asarray(value)
    return array if jnp.issubdtype(array.dtype, jnp.floating) else array.astype(jnp.result_type(float))


_x64 = jax.enable_x64 if hasattr(jax, "enable_x64") else __import__("jax.experimental", fromlist=["x"]).enable_x64


def _check_structure(name, value, structure):
    """The assumption this code relies on (assume=...), checked once per call outside jit (a traced
    value cannot raise), with a tolerance; spd is checked as symmetric with a positive diagonal."""
    array = jnp.asarray(value)
    scale = 1e-9 * max(1.0, float(jnp.abs(array).max())) if array.size else 1e-9
    broken = None
    if structure in ("symmetric", "spd", "diagonal") and not bool(jnp.allclose(array, array.T, rtol=0.0, atol=scale)):
        broken = "is not symmetric"
    elif structure == "spd" and bool((jnp.diag(array) <= 0).any()):
        broken = "is not positive definite (a diagonal entry is not positive)"
    elif structure == "diagonal" and bool((jnp.abs(array - jnp.diag(jnp.diag(array))) > scale).any()):
        broken = "has nonzero entries off the diagonal"
    elif structure == "positive" and bool((array <= 0).any()):
        broken = "has entries that are not positive"
    elif structure in ("onehot", "rows_onehot") and array.ndim and not bool(jnp.allclose(
            array.sum(axis=-1 if structure == "rows_onehot" and array.ndim == 2 else 0), 1.0, atol=1e-6)):
        broken = f"has {'rows' if structure == 'rows_onehot' else 'columns'} that do not sum to 1"
    if broken:
        raise ValueError(f"{name} is assumed {structure}, but its value {broken} (the derivative relies on it; "
                         "compile with check_assumptions=False to skip this check)")


def _wants_float64(values):
    """Whether any input is float64 or not a float array (a list, an int array): then the function
    runs with 64-bit floats, as NumPy would compute; float32 inputs alone keep float32."""
    for value in values.values():
        dtype = getattr(value, "dtype", None)
        if dtype is None or not jnp.issubdtype(dtype, jnp.floating) or jnp.dtype(dtype).itemsize >= 8:
            if value is not None:
                return True
    return False
''',
    }


class TorchBackend(NumpyBackend):
    name = "torch"
    module = "torch"
    imports = ("import torch",)
    converter = "_tensor"

    def convert(self, name: str) -> str:
        return f"_tensor({name}, {name!r})"

    def scalar(self, x: Code) -> Code:  # torch functions take tensors only
        return Code(f"torch.as_tensor({x.expr}, dtype=dtype, device=device)", ATOM, "scalar")

    def dtype_line(self, first_input: str | None) -> list[str]:
        if first_input is None:
            return ["dtype, device = torch.float64, None"]
        return [f"dtype, device = {first_input}.dtype, {first_input}.device"]

    def transpose(self, x: Code, permutation: list[int]) -> Code:
        if permutation == [1, 0]:
            return Code(f"{wrap(x, ATOM)}.T")
        return Code(f"{wrap(x, ATOM)}.permute({', '.join(map(str, permutation))})")

    def sum(self, x: Code, axes: list[int], rank: int) -> Code:
        if len(axes) == rank:
            return Code(f"{wrap(x, ATOM)}.sum()")
        return Code(f"{wrap(x, ATOM)}.sum(dim={tuple_text(axes)})")

    def tensordot(self, a, b, axes_a, axes_b) -> Code:
        return Code(f"torch.tensordot({a.expr}, {b.expr}, dims=({list(axes_a)}, {list(axes_b)}))")

    def contract(self, subscripts: str, operands: list[Code]) -> Code:  # torch.einsum asks opt_einsum
        return self.einsum(subscripts, operands)

    def broadcast(self, x: Code, shape: str) -> Code:
        return Code(f"{wrap(x, ATOM)}.expand({shape})", holds="view")

    def full(self, value: str, shape: str) -> Code:
        if value == "0.0":
            return Code(f"torch.zeros({shape}, dtype=dtype, device=device)")
        return Code(f"torch.full({shape}, {value}, dtype=dtype, device=device)")

    def eye(self, n: str) -> Code:
        return Code(f"torch.eye({n}, dtype=dtype, device=device)")

    def contiguous(self, x: Code) -> Code:
        return Code(f"{wrap(x, ATOM)}.contiguous()")

    def embed_diagonal(self, out, shape, inner, view, strides, reduced, eyes) -> list[str]:
        fill = f"fill_({inner.expr})" if inner.holds == "scalar" else f"copy_({inner.expr})"
        return [f"{out} = torch.zeros({shape}, dtype=dtype, device=device)",
                f"{out}.as_strided({reduced}, {tuple_text(strides)}).{fill}"]

    helpers = {
        "_check_structure": '''
def _check_structure(name, array, structure):
    """The assumption this code relies on (assume=...), checked once per call, with a tolerance; spd
    is checked as symmetric with a positive diagonal (cheap, and necessary)."""
    scale = 1e-9 * max(1.0, float(array.abs().max())) if array.numel() else 1e-9
    broken = None
    if structure in ("symmetric", "spd", "diagonal") and not torch.allclose(array, array.T, rtol=0.0, atol=scale):
        broken = "is not symmetric"
    elif structure == "spd" and bool((torch.diagonal(array) <= 0).any()):
        broken = "is not positive definite (a diagonal entry is not positive)"
    elif structure == "diagonal" and bool(((array - torch.diag(torch.diagonal(array))).abs() > scale).any()):
        broken = "has nonzero entries off the diagonal"
    elif structure == "positive" and bool((array <= 0).any()):
        broken = "has entries that are not positive"
    elif structure in ("onehot", "rows_onehot") and array.ndim and not torch.allclose(
            array.sum(dim=-1 if structure == "rows_onehot" and array.ndim == 2 else 0),
            torch.ones((), dtype=array.dtype, device=array.device), atol=1e-9):
        broken = f"has {'rows' if structure == 'rows_onehot' else 'columns'} that do not sum to 1"
    if broken:
        raise ValueError(f"{name} is assumed {structure}, but its value {broken} (the derivative relies on it; "
                         "compile with check_assumptions=False to skip this check)")
''',
        "_tensor": '''
def _tensor(value, name):
    """A floating-point tensor: a tensor's own dtype when floating, else float64 (as matdiff computes);
    complex values are refused (the derivative is of real inputs)."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value
    tensor = torch.as_tensor(value)
    if tensor.is_complex():
        raise TypeError(f"{name} is complex: the derivative is of real inputs")
    float_array = tensor.is_floating_point() and getattr(value, "dtype", None) is not None
    return tensor if float_array else tensor.to(torch.float64)  # not torch's float32 for a list
''',
    }


BACKEND_OBJECTS = {"numpy": NumpyBackend(), "jax": JaxBackend(), "torch": TorchBackend()}


def tuple_text(items) -> str:
    items = list(items)
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(map(str, items))})"


def is_atomic(template: str) -> bool:
    """A call (``np.exp({x})``, ``(x > 0).to(dtype)``): nothing outside its parentheses but names."""
    depth, outside = 0, ""
    for character in template:
        depth += character == "("
        outside += character if depth == 0 else ""
        depth -= character == ")"
    return "(" in template and all(c.isalnum() or c in "_." for c in outside.replace(")", ""))


CHECK_SHAPE = '''
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


def helper_sources(backend: NumpyBackend) -> dict[str, str]:
    """The helper functions generated code may define: the backend's, the functions' own, and the
    shape check every backend shares."""
    sources = {"_check_shape": CHECK_SHAPE, **backend.helpers}
    for function in FUNCTIONS.values():
        sources.update(function.helpers.get(backend.name, {}))
    return sources


def backend_named(name: str) -> NumpyBackend:
    if not isinstance(name, str) or name not in BACKEND_OBJECTS:
        raise MatdiffError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    return BACKEND_OBJECTS[name]
