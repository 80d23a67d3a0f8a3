"""The IR over SymPy, within bounds: ``entries``' symbolic algebra and the tidying of its results.

The derivative's IR is evaluated by the engine's one walk (:mod:`matdiff.engine.interpret`) in an
algebra of object arrays of SymPy expressions. SymPy's own evaluation and ``simplify()`` can take
minutes on entries a few lines long, so every step here is bounded by counts (tree nodes,
operations, letters, entries), never by a clock: the same input prints the same way on every
machine, and a blow-up is refused with a LimitError as it happens.
"""

from __future__ import annotations

import numpy as np

from matdiff.engine import ir
from matdiff.engine.interpret import Algebra, interpret
from matdiff.engine.functions import ENTRIES, FUNCTIONS
from matdiff.errors import LimitError, MatdiffError
from matdiff.interop.powers import exact_power, holds_huge_power

SIMPLIFY_BELOW = 80  # operations in an entry: simplify() is slow on big expressions
SIMPLIFY_IN_ALL = 400  # operations in all the entries together: past this, no entry is simplified
SIMPLIFY_ENTRIES = 16  # entries: simplify() takes up to a second each (a 2×3 softmax's 36 took 20 s)
SIMPLIFY_SYMBOLS = 6  # letters in an entry: simplify() cancels by multivariate gcds, 5 s on 46 operations in 9
MAX_NODES = 60_000  # of SymPy's trees in one array of entries: past this they are pages long, no help by hand


def sympy_module():
    try:
        import sympy
    except ImportError:  # pragma: no cover - sympy is an optional dependency
        raise MatdiffError("entries needs SymPy: pip install 'matdiff[sympy]'") from None
    return sympy


# ----- the IR over SymPy ----------------------------------------------------------------------------


def _number(sympy, value: float):
    if float(value).is_integer():
        return sympy.Integer(int(value))
    return sympy.nsimplify(value, rational=True, tolerance=1e-12) if abs(value) < 1e6 else sympy.Float(value)


def _functions(sympy) -> dict:
    """Each function of the table on an object array: an entry function SymPy has by name
    is that function; one it lacks stays by its name, so entries read sigmoid(x1), not its
    body; the others act on the whole array."""
    functions = {}
    for name, function in FUNCTIONS.items():
        if function.acts != ENTRIES:
            functions[name] = lambda array, body=function.sympy: body(sympy, np.asarray(array, dtype=object))
            continue
        scalar = getattr(sympy, function.sympy) if isinstance(function.sympy, str) else sympy.Function(name)
        functions[name] = np.vectorize(lambda x, f=scalar: _applied(sympy, f, x), otypes=[object])
    return functions


def _applied(sympy, function, x):
    """function(x), evaluated only for a number or a letter (exp(0) = 1): SymPy's evaluation of
    tan(sin(det(…)^3)) or of exp of nested powers asks questions of x (is it real? rational?)
    that took minutes; a short entry is simplified afterwards anyway (:func:`tidied`)."""
    return function(x) if x.is_Atom else function(x, evaluate=False)


def _einsum(node: ir.Tensor, args: list) -> np.ndarray:
    """NumPy's einsum over object arrays: the labels renamed to letters a, b, …"""
    inputs, output = node.params
    letter = {label: chr(ord("a") + k) for k, label in enumerate(sorted({l for ls in inputs for l in ls}))}
    subscripts = ",".join("".join(letter[l] for l in labels) for labels in inputs)
    subscripts += "->" + "".join(letter[l] for l in output)
    operands = [np.asarray(a, dtype=object) for a in args]
    if any(_nodes_within(list(a.reshape(-1)), LONG_OPERAND) > LONG_OPERAND for a in operands):
        # products of long entries built as they stand: SymPy's automatic evaluation of exp(…)^(…)
        # times another asks whether each power is rational, expanding every entry (minutes); a
        # short entry is simplified afterwards anyway (:func:`tidied`)
        from sympy import evaluate

        with evaluate(False):
            return np.einsum(subscripts, *operands)
    return np.einsum(subscripts, *operands)


def _sum(args: list):
    value = args[0]
    for term in args[1:]:
        value = value + term
    return value


def sympy_algebra(sympy, symbols: dict) -> Algebra:
    """The IR over object arrays of SymPy expressions (exact numbers, exact powers), the functions
    by their records' ``sympy`` field; ``symbols`` maps each variable to its array of letters."""
    functions = _functions(sympy)
    entrywise = np.vectorize(lambda x, e: sympy.Pow(x, e, evaluate=False) if _nodes_within([x], LONG) > LONG
                             else exact_power(sympy, x, e), otypes=[object])  # a long base: as _applied
    return Algebra({
        "var": lambda node, args, shape: symbols[node.params[0]],
        "const": lambda node, args, shape: np.full(shape, _number(sympy, node.params[0]), dtype=object),
        "eye": lambda node, args, shape: np.array(sympy.eye(shape[0]).tolist(), dtype=object),
        "einsum": lambda node, args, shape: _einsum(node, args),
        "add": lambda node, args, shape: _sum(args),
        "reshape": lambda node, args, shape: np.asarray(args[0], dtype=object).reshape(shape),
        "constant_power": lambda node, args, shape: entrywise(args[0], _number(sympy, node.params[0])),
        "power": lambda node, args, shape: entrywise(args[0], args[1]),
    }, lambda function, x: functions[function.name](x))


LONG = 60  # nodes: an entry this long is a power's base built as it stands, not evaluated by SymPy
LONG_OPERAND = 1_000  # nodes in all of an operand's entries: its products are built as they stand


def _nodes_within(expressions, limit: int) -> int:
    """How many nodes the trees of ``expressions`` have, counting no further than ``limit`` + 1
    (SymPy's count_ops took a minute on entries of five million operations)."""
    count, stack = 0, [e for e in expressions if hasattr(e, "args")]
    while stack and count <= limit:
        node = stack.pop()
        count += 1
        stack.extend(node.args)
    return count


def _refuse_if_long(expressions) -> None:
    if _nodes_within(expressions, MAX_NODES) > MAX_NODES:
        raise LimitError(f"the entries grow past {MAX_NODES:,} terms, too long to compare by hand; "
                         "the matrix form or the index form says it whole")


def evaluate_symbolic(root: ir.Tensor, symbols: dict) -> np.ndarray:
    """The IR's value as an object array of SymPy expressions; ``symbols`` maps names to such arrays.
    Each step's entries are measured, so a blow-up (inv of a 3×3 of long entries) stops early."""
    algebra = sympy_algebra(sympy_module(), symbols)

    def compute(node: ir.Tensor, args: list, shape: tuple) -> np.ndarray:
        value = np.asarray(algebra.apply(node, args, shape), dtype=object).reshape(shape)
        _refuse_if_long(value.reshape(-1))
        return value

    return interpret(root, compute, lambda node: tuple(int(d) for d in node.shape))


def _kinked(sympy) -> tuple:
    """Functions whose cases simplify() takes apart one by one (|x|, sign, step, max)."""
    return sympy.Piecewise, sympy.Abs, sympy.sign, sympy.Heaviside, sympy.Max, sympy.Min


def tidied(value: np.ndarray) -> np.ndarray:
    """Each entry simplified when it is small, in few letters, and all of them together are small:
    simplify() takes a second on a 60-operation trigonometric entry, so 81 of them (cos(A^3) by a
    3×3 A) would take minutes, and 5 s on a 46-operation fraction in 9 letters. The budget counts
    operations and letters, not seconds, so the same input prints the same way on every machine."""
    if not value.size:
        return value
    sympy = sympy_module()
    flat = [sympy.sympify(entry) for entry in value.reshape(-1)]
    sizes = [sympy.count_ops(entry) for entry in flat]  # bounded: evaluate_symbolic refused long entries
    small = [size for size in sizes if size < SIMPLIFY_BELOW]
    budget = sum(small) <= SIMPLIFY_IN_ALL and len(small) <= SIMPLIFY_ENTRIES
    tidy = np.empty(len(flat), dtype=object)
    tidy[:] = [sympy.factor_terms(sympy.simplify(entry)) if budget and size < SIMPLIFY_BELOW
               and len(entry.free_symbols) <= SIMPLIFY_SYMBOLS and not holds_huge_power(sympy, entry)
               and not entry.has(*_kinked(sympy))  # simplify splits every case: 20 s for one norm1
               and all(power.exp.is_Number for power in entry.atoms(sympy.Pow))  # exp(u)^v: exptrigsimp, minutes
               else entry for entry, size in zip(flat, sizes)]
    return tidy.reshape(value.shape)
