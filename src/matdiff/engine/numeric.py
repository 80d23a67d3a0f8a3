"""Numbers: evaluate an IR DAG with NumPy, each node once, contractions by opt_einsum.

Each intermediate is dropped after the last node that reads it, so a 20-statement chain of
3000×3000 matrices holds two or three of them at a time, not twenty; the entries held at
once are bounded (``max_numeric_total``), as each array is (``max_numeric_size``).

Symbolic dimensions get their sizes from the arrays given for the variables.
Values outside a function's domain (log of a negative number, a singular
matrix) are reported as :class:`~matdiff.errors.DomainError` at the position of
the function in the source when it is known.
"""

from __future__ import annotations

import numbers

import numpy as np

from matdiff import limits
from matdiff.errors import DomainError, LimitError, MatdiffError, ValueMismatchError
from matdiff.engine.interpret import Algebra, interpret
from matdiff.engine.ir import Tensor, dim_value
from matdiff.engine.ir import variables as ir_variables
from matdiff.language.shapes import describe_shape
from matdiff.engine.functions import FUNCTIONS
from matdiff.language.assumptions import Assumptions


_NUMBER_KINDS = "biuf"  # NumPy dtype kinds that are real numbers: bool, signed, unsigned, floating


def as_float_array(name: str, value) -> np.ndarray:
    """A caller's value as a float array, or a ValueMismatchError naming the variable.

    ``np.asarray(value, dtype=float)`` alone accepts too much: the string "12" becomes 12.0,
    None becomes NaN, a masked array loses its mask. Only real numbers pass, as numbers,
    arrays or nested lists of them; an integer too large for a float is refused as NumPy
    refuses it.
    """
    if isinstance(value, np.ma.MaskedArray) and np.ma.is_masked(value):
        raise ValueMismatchError(f"the value of {name} is a masked array with masked entries; "
                                 "fill them first (value.filled(...))")
    try:
        raw = np.asarray(value)
        if raw.dtype.kind not in _NUMBER_KINDS:
            offending = [entry for entry in raw.ravel().tolist() if not _is_real(entry)][:1]
            if offending:
                raise ValueMismatchError(f"the value of {name} is not a real number, vector or matrix: "
                                         f"it holds {_shown(offending[0])}")
        return np.asarray(raw, dtype=float)
    except OverflowError:
        raise ValueMismatchError(f"the value of {name} has an entry too large for a float") from None
    except (TypeError, ValueError):  # ragged nesting, or an array type NumPy cannot read
        raise ValueMismatchError(f"the value of {name} is not a real number, vector or matrix") from None


def _is_real(entry) -> bool:
    return isinstance(entry, numbers.Real)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def bind_sizes(variables: dict[str, Tensor], values: dict) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Check the arrays against the variables' shapes; return them as float arrays and the
    sizes of the symbolic dimensions."""
    arrays: dict[str, np.ndarray] = {}
    sizes: dict[str, int] = {}
    for name, node in variables.items():
        if name not in values:
            raise MatdiffError(f"no value given for {name}")
        array = as_float_array(name, values[name])
        expected = node.shape
        if array.ndim != len(expected):
            if not expected and array.size == 1:
                array = array.reshape(())
            elif len(expected) == 1 and array.ndim == 2 and 1 in array.shape:
                array = array.reshape(-1)  # a column or row given as a matrix
            else:
                raise ValueMismatchError(_mismatch(name, expected, array.shape))
        for d, actual in zip(expected, array.shape):
            if isinstance(d, int):
                if d != actual:
                    raise ValueMismatchError(_mismatch(name, expected, array.shape))
            elif "*" in d:
                continue
            elif sizes.setdefault(d, actual) != actual:
                raise ValueMismatchError(f"dimension {d} is {sizes[d]} elsewhere but {actual} in the value of {name}")
        arrays[name] = array
    return arrays, sizes


def _mismatch(name, expected, actual) -> str:
    return f"the value of {name} has shape {actual} but {name} is {describe_shape(expected)}"


def check_assumptions(arrays: dict[str, np.ndarray], assume: Assumptions) -> None:
    """A ValueMismatchError naming the first value that breaks its assumed structure."""
    for name, array in arrays.items():
        structure = assume.structure_of(name)
        scale = 1e-9 * max(1.0, float(np.max(np.abs(array), initial=0.0)))
        broken = None
        if structure.symmetric and array.ndim == 2 and not np.allclose(array, array.T, rtol=0.0, atol=scale):
            broken = "is not symmetric"
        elif structure.diagonal and array.ndim == 2 and np.any(np.abs(array - np.diag(np.diag(array))) > scale):
            broken = "has nonzero entries off the diagonal"
        elif structure.definite and array.ndim == 2 and np.any(np.linalg.eigvalsh(array) <= 0):
            broken = "is not positive definite"
        elif structure.positive and np.any(array <= 0):
            broken = "has entries that are not positive"
        elif structure.sums_to_one and array.ndim and not np.allclose(
                array.sum(axis=0 if structure.sums_to_one == "columns" or array.ndim == 1 else -1), 1.0, atol=1e-9):
            broken = f"has {structure.sums_to_one} that do not sum to 1"
        if broken:
            raise ValueMismatchError(f"{name} is assumed {assume.as_dict()[name]}, but the value of {name} {broken}")


def evaluate(root: Tensor, values: dict, *, positions: dict | None = None, source: str | None = None,
             variables: dict | None = None, extra_sizes: dict | None = None,
             assume: Assumptions | None = None) -> np.ndarray:
    """The value of ``root``; ``positions`` maps id(node) to (node, position) for error carets;
    values must have the structure ``assume`` gives them."""
    import opt_einsum

    if variables is None:
        variables = ir_variables(root)
    arrays, sizes = bind_sizes(variables, values)
    check_assumptions(arrays, assume or Assumptions())
    sizes.update(extra_sizes or {})
    algebra = numpy_algebra(arrays, opt_einsum)

    def shape_of(node: Tensor) -> tuple:
        try:
            shape = tuple(dim_value(d, sizes) for d in node.shape)
        except KeyError as missing:
            raise MatdiffError(f"the size of dimension {missing.args[0]} is not known; give a value "
                               "for a variable that has it") from None
        if int(np.prod(shape, dtype=float)) > limits.current.max_numeric_size:
            raise LimitError(f"an intermediate of shape {shape} is larger than the limit of "
                             f"{limits.current.max_numeric_size} entries (see matdiff.limits)")
        return shape

    def compute(node: Tensor, args: list, shape: tuple) -> np.ndarray:
        with np.errstate(all="ignore"):
            try:
                value = algebra.apply(node, args, shape)
            except np.linalg.LinAlgError:
                raise _domain(f"{node.op}() of a singular matrix", node, positions, source) from None
        if _domain_checked(node.op) and _outside_domain(node, value, args):
            raise _domain(_domain_message(node), node, positions, source)
        return value

    held = 0  # entries of the intermediates held: bounded as a whole, not only each one

    def kept(node: Tensor, value) -> None:
        nonlocal held
        held += _entries(node, value)
        if held > limits.current.max_numeric_total:
            raise LimitError(f"the intermediates of this evaluation hold more than the limit of "
                             f"{limits.current.max_numeric_total} entries (see matdiff.limits)")

    def dropped(node: Tensor, value) -> None:
        nonlocal held
        held -= _entries(node, value)

    return interpret(root, compute, shape_of, kept=kept, dropped=dropped)


def _entries(node: Tensor, value) -> int:
    """What a result adds to the total held: its size, unless it is an input the caller holds."""
    return 0 if node.op == "var" else int(np.size(value))


def _domain_checked(op: str) -> bool:
    """Powers, and every function whose record states a domain."""
    return op in ("constant_power", "power") or (op in FUNCTIONS and bool(FUNCTIONS[op].domain))


def _outside_domain(node: Tensor, value: np.ndarray, args: list) -> bool:
    """A non-finite result of finite arguments, unless it is an overflow.

    Overflow is inf everywhere, as in NumPy (``10^400`` like ``exp(1000)``, in constant folding,
    evaluation and generated code alike); a power is outside its domain only where it is NaN
    (a fractional power of a negative number) or divides by zero (``0^-1``).
    """
    if np.all(np.isfinite(value)) or not all(np.all(np.isfinite(a)) for a in args):
        return False
    if node.op in ("constant_power", "power"):
        base = np.broadcast_to(args[0], np.shape(value))
        return bool(np.any(np.isnan(value) | (np.isinf(value) & (base == 0))))
    return True


def _domain_message(node: Tensor) -> str:
    if node.op in ("constant_power", "power"):
        return "power outside its domain (division by zero, or a fractional power of a negative number)"
    outside = FUNCTIONS[node.op].outside if node.op in FUNCTIONS else ""
    return f"{node.op}() of {outside or 'a value outside its domain'}"


def _domain(message: str, node: Tensor, positions, source) -> DomainError:
    position = (positions or {}).get(id(node), (None, None))[1]
    return DomainError(message, position, source)


def _contract(node: Tensor, args: list, opt_einsum) -> np.ndarray:
    inputs, output = node.params
    letters = opt_einsum.get_symbol
    subscripts = ",".join("".join(letters(i) for i in labels) for labels in inputs)
    subscripts += "->" + "".join(letters(i) for i in output)
    return np.asarray(opt_einsum.contract(subscripts, *args, optimize="greedy" if len(args) > 2 else False))


def numpy_algebra(arrays: dict[str, np.ndarray], opt_einsum) -> Algebra:
    """The IR over float arrays: the ops that are not functions of the language here, the functions
    by their records' ``numpy`` field; ``arrays`` holds the variables' values."""
    return Algebra({
        "var": lambda node, args, shape: arrays[node.params[0]],
        "const": lambda node, args, shape: np.full(shape, node.params[0]),
        "eye": lambda node, args, shape: np.eye(shape[0]),
        "einsum": lambda node, args, shape: _contract(node, args, opt_einsum),
        "add": lambda node, args, shape: sum(args[1:], args[0]),
        "reshape": lambda node, args, shape: args[0].reshape(shape),
        "constant_power": lambda node, args, shape: np.power(args[0], node.params[0]),
        "power": lambda node, args, shape: np.power(args[0], args[1]),
    }, lambda function, x: np.asarray(function.numpy(x)))
