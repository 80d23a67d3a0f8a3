"""Differential testing at scale: random well-shaped expressions, three independent answers.

For each generated case (an expression or a two-statement program, a variable, a layout)
this script compares ``md.diff(...).evaluate`` with

- central finite differences of an independent interpreter of the input language
  (:class:`Interpreter`, written from SPEC §1 alone: every value a 2-D array, MATLAB
  rules), arranged by the independent layout table of ``tests/numerics.py``;
- ``jax.jacobian`` of the same interpreter running on ``jax.numpy`` (when jax is
  installed), arranged the same way;

and checks on the way that ``md.evaluate`` agrees with the interpreter on the value and
that ``Derivative.text``, when present, evaluates to the same numbers.

    python bench/differential.py --count 10000 --seed 0 [--jobs 4] [--json out.json]

prints a summary and every mismatch with a one-line reproduction; exit status 1 when
there is a mismatch. ``tests/test_differential.py`` runs 500 cases in CI.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_ROOT, "tests"))  # the independent layout table
sys.path.insert(0, os.path.join(_ROOT, "src"))

import matdiff as md  # noqa: E402
from matdiff.engine.sampling import difference_jacobian  # noqa: E402
from matdiff.language.syntax import Call, Chain, Name, Number, Power, Signed, Transpose, parse  # noqa: E402
from numerics import arrange  # noqa: E402

VARIABLES: dict[str, tuple] = {
    "a": (), "b": (),
    "x": (3,), "y": (3,), "z": (2,), "w": (6,),
    "A": (3, 3), "B": (3, 2), "C": (2, 3), "D": (2, 2),
}
# (n,) a column, (1, n) a row, (p, q) a matrix; no variable is a row: rows come from x'
SHAPES: list[tuple] = [(), (2,), (3,), (6,), (1, 3), (1, 2), (3, 3), (2, 2), (3, 2), (2, 3)]
NUMBERS = ["2", "3", "0.5", "1.5", "0.25", "1e-1", "2.5e0", "4"]
SMOOTH = ["sin", "cos", "tanh", "sigmoid", "softplus", "exp"]
LAYOUTS = ("numerator", "denominator", "gradient", "jacobian", "vec")


def is_row(shape: tuple) -> bool:
    return len(shape) == 2 and shape[0] == 1


# ----- the generator -------------------------------------------------------------------------


class Generator:
    """Builds expression text of a requested shape; every expression is well-shaped and kept
    inside the functions' domains by construction (log of a positive form, inv of X*X'+I)."""

    def __init__(self, rng: random.Random, variables: dict[str, tuple]):
        self.rng = rng
        self.variables = variables
        self.kinks: list[tuple[str, str]] = []  # ('entries' | 'whole', text): must stay off zero

    def pick(self, options):
        return options[self.rng.randrange(len(options))]

    def leaf(self, shape: tuple) -> str:
        names = [n for n, s in self.variables.items() if s == shape]
        if is_row(shape):
            column = self.leaf((shape[1],))
            return f"{column}'"
        options = ["var"] * 4 if names else []
        if shape == ():
            options.append("number")
        elif len(shape) == 2 and shape[0] == shape[1]:
            options.append("eye")
        if shape and (self.rng.random() < 0.05 or not options):
            options.append("ones")
        kind = self.pick(options)
        if kind == "var":
            return self.pick(names)
        if kind == "number":
            return self.pick(NUMBERS)
        if kind == "eye":
            return f"eye({shape[0]})"
        return f"ones({', '.join(map(str, shape))})"

    def positive(self, shape: tuple, depth: int) -> str:
        e = self.expr(shape, depth)
        kind = self.pick(["exp", "sig", "square"])
        if kind == "exp":
            return f"exp({e})"
        if kind == "sig":
            return f"(sigmoid({e}) + 0.5)"
        return f"({e}^2 + 1)" if shape == () else f"({e}.*{e} + 1)"

    def spd(self, n: int, depth: int) -> str:
        e = self.expr((n, self.pick([2, 3])), depth)
        return f"({e}*({e})' + eye({n}))"

    def expr(self, shape: tuple, depth: int) -> str:
        if depth <= 0 or self.rng.random() < 0.2:
            return self.leaf(shape)
        d = depth - 1
        rules = ["neg", "add", "sub", "scale", "smooth", "hadamard", "divide", "power", "transpose", "kinked",
                 "log", "sqrt", "scalar_divide"]
        if shape == ():
            rules += ["tr", "sum", "norm2", "norm1", "det", "logdet", "scalar_power", "dot", "quadratic",
                      "sum_kron", "tan"]
        else:
            rules += ["scalar_plus"]
        if len(shape) == 2 and not is_row(shape):
            rules += ["matmul", "outer" if shape[0] != shape[1] or self.rng.random() < 0.5 else "matmul"]
        if len(shape) == 1 and shape[0] in (2, 3):
            rules += ["matvec", "diag_of_matrix"]
        if is_row(shape) and shape[1] in (2, 3):
            rules += ["vecmat"]
        if len(shape) == 2 and shape[0] == shape[1]:
            rules += ["inv", "matrix_power", "diag_of_vector"]
        if shape == (6,):
            rules += ["vec", "kron_vector"]
        rules += self.layer_rules(shape)
        rule = self.pick(sorted(set(rules)))
        return getattr(self, "rule_" + rule)(shape, d)

    # each rule: an expression of ``shape`` from subexpressions of depth d
    def rule_neg(self, s, d): return f"(-{self.expr(s, d)})"
    def rule_add(self, s, d): return f"({self.expr(s, d)} + {self.expr(s, d)})"
    def rule_sub(self, s, d): return f"({self.expr(s, d)} - {self.expr(s, d)})"
    def rule_hadamard(self, s, d): return f"({self.expr(s, d)} .* {self.expr(s, d)})"
    def rule_divide(self, s, d): return f"({self.expr(s, d)} ./ {self.positive(s, d)})"
    def rule_scalar_divide(self, s, d): return f"({self.expr(s, d)} / {self.positive((), d)})"
    def rule_log(self, s, d): return f"log({self.positive(s, d)})"
    def rule_sqrt(self, s, d): return f"sqrt({self.positive(s, d)})"
    def rule_smooth(self, s, d): return f"{self.pick(SMOOTH)}({self.expr(s, d)})"
    def rule_tan(self, s, d): return f"tan({self.pick(['sin', 'tanh', 'cos'])}({self.expr(s, d)}))"
    def rule_tr(self, s, d): return f"tr({self.expr((n := self.pick([2, 3]), n), d)})"
    def rule_det(self, s, d): return f"det({self.spd(self.pick([2, 3]), d)})"
    def rule_logdet(self, s, d): return f"logdet({self.spd(self.pick([2, 3]), d)})"
    def rule_inv(self, s, d): return f"inv({self.spd(s[0], d)})"
    def rule_diag_of_vector(self, s, d): return f"diag({self.expr((s[0],), d)})"
    def rule_diag_of_matrix(self, s, d): return f"diag({self.expr((s[0], s[0]), d)})"

    def rule_matvec(self, s, d):
        n = self.pick([2, 3])
        return f"({self.expr((s[0], n), d)} * {self.expr((n,), d)})"

    def rule_scale(self, s, d):
        scalar, e = self.expr((), d), self.expr(s, d)
        return f"({scalar}*{e})" if self.rng.random() < 0.5 else f"({e}*{scalar})"

    def rule_scalar_plus(self, s, d):
        c, e = self.expr((), d), self.expr(s, d)
        return self.pick([f"({c} + {e})", f"({e} - {c})", f"({c} - {e})"])

    def rule_kinked(self, s, d):
        e = self.expr(s, d)
        self.kinks.append(("entries", e))
        return f"{self.pick(['relu', 'abs'])}({e})"

    def rule_power(self, s, d):
        kind = self.pick(["int", "scalar", "same"])
        if kind == "int":
            return f"({self.expr(s, d)} .^ {self.pick(['2', '3'])})"
        if kind == "scalar":
            return f"({self.positive(s, d)} .^ {self.expr((), d)})"
        return f"({self.positive(s, d)} .^ {self.expr(s, d)})"

    def rule_transpose(self, s, d):
        if s == ():
            return f"({self.expr(s, d)})'"
        if len(s) == 1:
            return f"({self.expr((1, s[0]), d)})'"
        return f"({self.expr((s[1], s[0]) if not is_row(s) else (s[1],), d)})'"

    def rule_matmul(self, s, d):
        inner = self.pick([2, 3])
        return f"({self.expr((s[0], inner), d)} * {self.expr((inner, s[1]), d)})"

    def rule_outer(self, s, d):  # column times row: a matrix
        return f"({self.expr((s[0],), d)} * {self.expr((1, s[1]), d)})"

    def rule_vecmat(self, s, d):  # row times matrix: a row
        inner = self.pick([2, 3])
        return f"({self.expr((1, inner), d)} * {self.expr((inner, s[1]), d)})"

    def rule_sum(self, s, d): return f"sum({self.expr(self.pick([x for x in SHAPES if x]), d)})"

    def rule_norm2(self, s, d):
        e = self.expr(self.pick([x for x in SHAPES if x]), d)
        self.kinks.append(("whole", e))
        return f"norm2({e})"

    def rule_norm1(self, s, d):
        e = self.expr(self.pick([x for x in SHAPES if x]), d)
        self.kinks.append(("entries", e))
        return f"norm1({e})"

    def rule_scalar_power(self, s, d):
        if self.rng.random() < 0.5:
            return f"({self.expr(s, d)} ^ {self.pick(['2', '3'])})"
        return f"({self.positive((), d)} ^ {self.pick(['0.5', '1.5', '-1', '-2'])})"

    def rule_matrix_power(self, s, d):
        if self.rng.random() < 0.2:
            return f"({self.spd(s[0], d)} ^ -1)"
        return f"({self.expr(s, d)} ^ {self.pick(['2', '3'])})"

    def rule_dot(self, s, d):  # a 1×1 product: a scalar
        n = self.pick([2, 3, 6])
        return f"({self.expr((n,), d)}' * {self.expr((n,), d)})"

    def rule_quadratic(self, s, d):
        n = self.pick([2, 3])
        return f"({self.expr((n,), d)}' * {self.expr((n, n), d)} * {self.expr((n,), d)})"

    def rule_sum_kron(self, s, d):
        first = self.pick([x for x in SHAPES if x and not is_row(x)])
        second = self.pick([x for x in SHAPES if len(x) == len(first) and not is_row(x)])
        return f"sum(kron({self.expr(first, d)}, {self.expr(second, d)}))"

    def rule_vec(self, s, d): return f"vec({self.expr(self.pick([(3, 2), (2, 3)]), d)})"

    # the layers (SPEC "Layers"): implicit expansion, reductions and softmax along a dimension
    def layer_rules(self, shape: tuple) -> list[str]:
        if shape == ():
            return ["mean_all", "logsumexp_vector"]
        if len(shape) == 1:
            return ["reduce_rows", "softmax_vector"] if shape[0] in (2, 3) else []
        if is_row(shape):
            return ["reduce_columns"] if shape[1] in (2, 3) else []
        return ["expand_column", "expand_row", "expand_outer", "softmax_along"]

    def rule_mean_all(self, s, d): return f"mean({self.expr(self.pick([x for x in SHAPES if x]), d)})"
    def rule_logsumexp_vector(self, s, d): return f"logsumexp({self.expr(self.pick([(2,), (3,)]), d)})"
    def rule_softmax_vector(self, s, d): return f"softmax({self.expr(s, d)})"

    def rule_reduce_rows(self, s, d):  # a column of m from an m×n matrix
        m = self.expr((s[0], self.pick([2, 3])), d)
        return f"{self.pick(['sum', 'mean', 'logsumexp'])}({m}, 2)"

    def rule_reduce_columns(self, s, d):  # a row of n from an m×n matrix
        m = self.expr((self.pick([2, 3]), s[1]), d)
        return f"{self.pick(['sum', 'mean', 'logsumexp'])}({m}, 1)"

    def rule_expand_column(self, s, d):
        m, column = self.expr(s, d), self.expr((s[0],), d)
        return f"({m} {self.pick(['+', '-', '.*'])} {column})" if self.rng.random() < 0.5 else f"({column} + {m})"

    def rule_expand_row(self, s, d):
        m, row = self.expr(s, d), self.expr((1, s[1]), d)
        return f"({m} {self.pick(['+', '-', '.*'])} {row})" if self.rng.random() < 0.5 else f"({m} ./ exp({row}))"

    def rule_expand_outer(self, s, d):  # an m×1 beside a 1×n: m×n
        return f"({self.expr((s[0],), d)} {self.pick(['+', '.*'])} {self.expr((1, s[1]), d)})"

    def rule_softmax_along(self, s, d): return f"softmax({self.expr(s, d)}, {self.pick(['1', '2'])})"
    def rule_kron_vector(self, s, d): return f"kron({self.expr((3,), d)}, {self.expr((2,), d)})"


@dataclass
class Case:
    """One comparison: d(program)/d(wrt) in layout, at values drawn from ``value_seed``."""

    index: int
    program: str
    wrt: str
    layout: str
    value_seed: int
    kinks: list = field(default_factory=list)
    intermediate: tuple | None = None  # (name, shape, definition, rest) for wrt = an intermediate


def make_case(index: int, rng: random.Random) -> Case:
    out_shape = rng.choice(SHAPES)
    depth = rng.randint(1, 5)
    intermediate = None
    if rng.random() < 0.25:  # t = S; E(t)
        t_shape = rng.choice([s for s in SHAPES if not is_row(s)])
        first = Generator(rng, VARIABLES)
        definition = first.expr(t_shape, rng.randint(1, 3))
        second = Generator(rng, {**VARIABLES, "t": t_shape})
        rest = second.expr(out_shape, depth)
        program = f"t = {definition}; {rest}"
        kinks = first.kinks + [(kind, f"t = {definition}; {text}") for kind, text in second.kinks]
        intermediate = ("t", t_shape, definition, rest)
    else:
        generator = Generator(rng, VARIABLES)
        program = generator.expr(out_shape, depth)
        kinks = generator.kinks
    tree = parse(program)
    names = sorted(_names_used(tree) & set(VARIABLES))
    if intermediate is not None and "t" in _names_used(parse(intermediate[3])):
        names.append("t")
    if not names:
        return make_case(index, rng)
    wrt = rng.choice(names)
    layout = rng.choice(LAYOUTS)
    return Case(index, program, wrt, layout, rng.randrange(2**31), kinks, intermediate)


def _names_used(program) -> set:
    found: set = set()
    stack: list[Any] = [s.value for s in program.statements]
    while stack:
        node = stack.pop()
        if isinstance(node, Name):
            found.add(node.name)
        elif isinstance(node, Call):
            if node.function not in ("eye", "ones"):
                stack.extend(node.arguments)
        elif isinstance(node, Chain):
            stack.append(node.first)
            stack.extend(operand for _, _, operand in node.rest)
        elif isinstance(node, (Signed, Transpose)):
            stack.append(node.operand)
        elif isinstance(node, Power):
            stack.extend((node.base, node.exponent))
    return found


# ----- an independent interpreter of the language ----------------------------------------------


class Interpreter:
    """SPEC §1 semantics over 2-D arrays (a scalar is 1×1, a vector n×1, x' is 1×n), with
    ``xp`` = numpy or jax.numpy. Written from the specification, sharing nothing with the
    engine but the parser."""

    def __init__(self, xp):
        self.xp = xp

    def run(self, program, values: dict) -> Any:
        environment = {name: self.as_2d(value) for name, value in values.items()}
        result = None
        for statement in program.statements:
            result = self.value(statement.value, environment)
            if statement.target is not None:
                environment[statement.target] = result
        return result

    def as_2d(self, value):
        xp = self.xp
        array = xp.asarray(value, dtype=xp.float64)
        if array.ndim == 0:
            return array.reshape(1, 1)
        if array.ndim == 1:
            return array.reshape(-1, 1)
        return array

    def value(self, node, env):
        xp = self.xp
        if isinstance(node, Number):
            return xp.full((1, 1), node.value)
        if isinstance(node, Name):
            return env[node.name]
        if isinstance(node, Signed):
            inner = self.value(node.operand, env)
            return -inner if node.sign == "-" else inner
        if isinstance(node, Transpose):
            return self.value(node.operand, env).T
        if isinstance(node, Chain):
            result = self.value(node.first, env)
            for op, _, operand in node.rest:
                result = self.binary(op, result, self.value(operand, env))
            return result
        if isinstance(node, Power):
            base, exponent = self.value(node.base, env), self.value(node.exponent, env)
            if node.op == ".^" or base.shape == (1, 1):
                return xp.power(base, exponent)
            k = int(_constant(node.exponent))  # the language requires a literal integer here
            result = xp.eye(base.shape[0])
            factor = base if k >= 0 else xp.linalg.inv(base)
            for _ in range(abs(k)):
                result = result @ factor
            return result
        if isinstance(node, Call):
            return self.call(node, env)
        raise TypeError(node)

    def binary(self, op, left, right):
        if op in ("+", "-", ".*", "./"):  # MATLAB's implicit expansion: each axis equal, or 1 on one side
            assert all(a == b or 1 in (a, b) for a, b in zip(left.shape, right.shape)), (op, left.shape, right.shape)
        if op in "+-":
            return left + right if op == "+" else left - right
        if op == "*":
            if left.shape[1] == right.shape[0]:
                return left @ right
            assert (1, 1) in (left.shape, right.shape), (left.shape, right.shape)
            return left * right
        if op == "/":
            return left / right
        if op == ".*":
            return left * right
        if op == "./":
            return left / right
        raise ValueError(op)

    def call(self, node, env):
        xp = self.xp
        name = node.function
        if name in ("eye", "ones"):
            dims = [int(a.value) for a in node.arguments]
            if name == "eye":
                return xp.eye(dims[0])
            return xp.ones((dims[0], 1) if len(dims) == 1 else tuple(dims))
        args = [self.value(a, env) for a in node.arguments]
        x = args[0]
        elementwise: dict[str, Callable] = {
            "exp": xp.exp, "log": xp.log, "sin": xp.sin, "cos": xp.cos, "tan": xp.tan, "tanh": xp.tanh,
            "sqrt": xp.sqrt, "abs": xp.abs,
            "sigmoid": lambda v: 1.0 / (1.0 + xp.exp(-v)),
            "relu": lambda v: xp.maximum(v, 0.0),
            "softplus": lambda v: xp.logaddexp(0.0, v),
        }
        if name in elementwise:
            return elementwise[name](x)
        if name == "tr":
            return xp.trace(x).reshape(1, 1)
        if name == "det":
            return xp.linalg.det(x).reshape(1, 1)
        if name == "logdet":
            return xp.linalg.slogdet(x)[1].reshape(1, 1)
        if name == "inv":
            return xp.linalg.inv(x)
        if len(args) == 2 and name in ("sum", "mean", "softmax", "logsumexp"):
            axis = int(_constant(node.arguments[1])) - 1  # MATLAB's dimension 1 (down columns) or 2
            return {"sum": lambda: xp.sum(x, axis=axis, keepdims=True),
                    "mean": lambda: xp.mean(x, axis=axis, keepdims=True),
                    "softmax": lambda: _softmax(xp, x, axis),
                    "logsumexp": lambda: _logsumexp(xp, x, axis)}[name]()
        if name == "sum":
            return xp.sum(x).reshape(1, 1)
        if name == "mean":
            return xp.mean(x).reshape(1, 1)
        if name == "softmax":  # a vector's, or a matrix's by columns (SPEC)
            return _softmax(xp, x, 0)
        if name == "logsumexp":
            return _logsumexp(xp, x, None).reshape(1, 1)
        if name == "norm2":
            return xp.sqrt(xp.sum(x * x)).reshape(1, 1)
        if name == "norm1":
            return xp.sum(xp.abs(x)).reshape(1, 1)
        if name == "diag":
            if x.shape == (1, 1):
                return x
            if 1 in x.shape:
                return xp.diag(x.reshape(-1))
            return xp.diag(x).reshape(-1, 1)
        if name == "vec":
            return x.T.reshape(-1, 1)
        if name == "kron":
            return xp.kron(x, args[1])
        raise ValueError(name)


def _logsumexp(xp, x, axis):
    top = xp.max(x, axis=axis, keepdims=True)
    return top + xp.log(xp.sum(xp.exp(x - top), axis=axis, keepdims=True))


def _softmax(xp, x, axis):
    return xp.exp(x - _logsumexp(xp, x, axis))


def _constant(node) -> float:
    if isinstance(node, Signed):
        return -_constant(node.operand) if node.sign == "-" else _constant(node.operand)
    if isinstance(node, Chain) and not node.rest:
        return _constant(node.first)
    if isinstance(node, Number):
        return node.value
    raise ValueError("a matrix power needs a number as its exponent")


def surface(array2d, xp=np):
    """The 2-D interpreter value in md.evaluate's shape: () scalar, (n,) column, (1, n) row."""
    rows, columns = array2d.shape
    if rows == 1 and columns == 1:
        return array2d.reshape(())
    if columns == 1:
        return array2d.reshape(rows)
    return array2d


# ----- running one case ----------------------------------------------------------------------------


@dataclass
class Outcome:
    index: int
    program: str
    wrt: str
    layout: str
    value_seed: int
    status: str  # ok | skipped | nonfinite | mismatch
    kind: str = ""  # for a mismatch: fd, jax, text, value, shape, error
    detail: str = ""
    seconds: float = 0.0

    def repro(self) -> str:
        return (f"md.diff({self.program!r}, wrt={self.wrt!r}, shapes=VARIABLES, layout={self.layout!r})"
                f"  # values: bench/differential.py values_for({self.value_seed})")


def values_for(seed: int, variables: dict[str, tuple] = VARIABLES) -> dict:
    rng = np.random.default_rng(seed)
    return {n: (float(rng.standard_normal()) if s == () else rng.standard_normal(s)) for n, s in variables.items()}


def _close(got, want, rtol, atol) -> tuple[bool, float]:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        return False, math.inf
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    error = float(np.max(np.abs(got - want), initial=0.0)) / scale
    return bool(np.allclose(got, want, rtol=rtol, atol=atol * scale)), error


def _fd_jacobian(function, x0, step=1e-6):
    """matdiff's central differences of a function of one array (the interpreter's, not md's)."""
    return difference_jacobian(lambda point: function(point["x"]), {"x": np.asarray(x0, dtype=float)}, "x", step)


_JAX: Any = None


def _jax():
    """jax with float64, or None when it is not installed."""
    global _JAX
    if _JAX is None:
        # Each case is a new function to compile; tiny graphs need no optimisation, and without
        # it XLA compiles them several times faster.
        if "jax" not in sys.modules:
            os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 "
                                               "--xla_llvm_disable_expensive_passes=true")
        try:
            import jax

            jax.config.update("jax_enable_x64", True)
            _JAX = jax
        except ImportError:
            _JAX = False
    return _JAX or None


def run_case(case: Case, *, use_jax: bool = True, check_text: bool = True) -> Outcome:
    """Compare one case; ``use_jax`` adds the jax.jacobian comparison (when jax is installed)."""
    start = time.perf_counter()
    outcome = Outcome(case.index, case.program, case.wrt, case.layout, case.value_seed, "ok")
    try:
        _check(case, outcome, use_jax=use_jax, check_text=check_text)
    except _Skip as skip:
        outcome.status, outcome.detail = "skipped", str(skip)
    except Exception as error:  # noqa: BLE001 - any exception on a well-shaped input is a finding
        outcome.status, outcome.kind = "mismatch", "error"
        outcome.detail = f"{type(error).__name__}: {error}"[:500] + " | " + traceback.format_exc(limit=-2)[-300:]
    outcome.seconds = time.perf_counter() - start
    return outcome


class _Skip(Exception):
    """The random point is unsuitable (overflow, near a kink): not a verdict."""


def _check(case: Case, outcome: Outcome, *, use_jax: bool, check_text: bool) -> None:
    values = values_for(case.value_seed)
    numpy_interpreter = Interpreter(np)
    program = parse(case.program)
    with np.errstate(all="ignore"):
        y_interpreted = surface(numpy_interpreter.run(program, values))
        if not np.all(np.isfinite(y_interpreted)) or np.max(np.abs(y_interpreted), initial=0.0) > 1e5:
            raise _Skip("value not finite or too large")
        for kind, text in case.kinks:
            k = surface(numpy_interpreter.run(parse(text), values))
            if (kind == "entries" and np.min(np.abs(k), initial=1.0) < 1e-3) or (kind == "whole" and
                                                                                np.linalg.norm(k) < 1e-3):
                raise _Skip("near a kink")

    # the value: md.evaluate against the interpreter
    y_md = np.asarray(md.evaluate(case.program, values, shapes=VARIABLES), dtype=float)
    if y_md.shape != y_interpreted.shape:
        outcome.status, outcome.kind = "mismatch", "value"
        outcome.detail = f"md.evaluate shape {y_md.shape}, interpreter {y_interpreted.shape}"
        return
    ok, error = _close(y_md, y_interpreted, 1e-9, 1e-10)
    if not ok:
        outcome.status, outcome.kind, outcome.detail = "mismatch", "value", f"md.evaluate off by {error:.3g}"
        return

    # what the derivative is taken of: the whole program, or its rest with t an input
    if case.wrt == "t" and case.intermediate is not None:
        _, t_shape, definition, rest = case.intermediate
        t_value = surface(numpy_interpreter.run(parse(definition), values))
        inputs = {**values, "t": t_value}
        target = parse(rest)
    else:
        inputs, target = values, program
    x0 = np.asarray(inputs[case.wrt], dtype=float)

    def numpy_function(x):
        return surface(numpy_interpreter.run(target, {**inputs, case.wrt: x}))

    with np.errstate(all="ignore"):
        J_fd = _fd_jacobian(numpy_function, x0)
        J_fd_coarse = _fd_jacobian(numpy_function, x0, step=3e-6)
    if not np.all(np.isfinite(J_fd)) or np.max(np.abs(J_fd), initial=0.0) > 1e5:
        raise _Skip("jacobian not finite or too large")

    layout = case.layout
    if layout == "gradient" and y_interpreted.size != 1:  # must be refused; then check the jacobian
        try:
            md.diff(case.program, wrt=case.wrt, shapes=VARIABLES, layout=layout)
        except md.LayoutError:
            layout = "jacobian"
        else:
            outcome.status, outcome.kind = "mismatch", "shape"
            outcome.detail = "the gradient layout of a non-scalar was accepted"
            return
    derivative = md.diff(case.program, wrt=case.wrt, shapes=VARIABLES, layout=layout)
    with np.errstate(all="ignore"):
        got = np.asarray(derivative.evaluate(values), dtype=float)
    want = arrange(J_fd, layout, y_interpreted.shape, x0.shape)
    if got.shape == want.shape and not np.all(np.isfinite(got)):
        # 0·∞ where an intermediate overflows (1/exp(exp(u)) is 0, its derivative's factors are
        # not): not a wrong formula; counted and listed apart from mismatches
        outcome.status, outcome.kind, outcome.detail = "nonfinite", "nonfinite", "derivative not finite here"
        return
    if got.shape != want.shape or tuple(derivative.shape) != got.shape:
        outcome.status, outcome.kind = "mismatch", "shape"
        outcome.detail = f"evaluate {got.shape}, d.shape {derivative.shape}, layout table {want.shape}"
        return
    ok, error = _close(got, want, 1e-4, 1e-5)
    if not ok:
        stable, _ = _close(want, arrange(J_fd_coarse, layout, y_interpreted.shape, x0.shape), 1e-5, 1e-6)
        if not stable:
            raise _Skip("finite differences unstable here")
        outcome.status, outcome.kind, outcome.detail = "mismatch", "fd", f"relative error {error:.3g}"
        return

    jax = _jax() if use_jax else None
    J_jax = None
    if jax is not None:
        jax_interpreter = Interpreter(jax.numpy)

        def jax_function(x):
            return surface(jax_interpreter.run(target, {**inputs, case.wrt: x}), jax.numpy)

        J_jax = np.asarray(jax.jit(jax.jacobian(jax_function))(jax.numpy.asarray(x0)))
        if not np.all(np.isfinite(J_jax)):  # jax's own 0·∞ at an overflow: no reference here
            J_jax = None
    if jax is not None and J_jax is not None:
        ok, error = _close(got, arrange(J_jax, layout, y_interpreted.shape, x0.shape), 1e-7, 1e-8)
        if not ok:
            outcome.status, outcome.kind, outcome.detail = "mismatch", "jax", f"relative error {error:.3g}"
            return

    if check_text and derivative.text is not None:
        try:
            with np.errstate(all="ignore"):
                printed = np.asarray(md.evaluate(derivative.text, values, shapes=VARIABLES), dtype=float)
        except md.MatdiffError as error:
            outcome.status, outcome.kind = "mismatch", "text"
            outcome.detail = f"d.text = {derivative.text!r} does not evaluate: {error}"
            return
        ok, error = (False, math.inf) if printed.size != got.size else _close(printed.reshape(got.shape), got,
                                                                              1e-8, 1e-9)
        if not ok:
            outcome.status, outcome.kind = "mismatch", "text"
            outcome.detail = f"d.text = {derivative.text!r} evaluates off by {error:.3g}"


# ----- the driver ------------------------------------------------------------------------------


def cases(count: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    return [make_case(i, rng) for i in range(count)]


def _run_chunk(arguments) -> list[dict]:
    chunk, jax_every = arguments
    return [asdict(run_case(case, use_jax=_uses_jax(case, jax_every))) for case in chunk]


def _uses_jax(case: Case, jax_every: int) -> bool:
    return jax_every > 0 and case.index % jax_every == 0


def run(count: int, seed: int, *, jobs: int = 1, jax_every: int = 1) -> list[Outcome]:
    """``count`` cases from ``seed``; every ``jax_every``-th is also compared with jax (0: none)."""
    todo = cases(count, seed)
    if jobs <= 1:
        return [run_case(case, use_jax=_uses_jax(case, jax_every)) for case in todo]
    from concurrent.futures import ProcessPoolExecutor

    chunks = [todo[i::jobs * 4] for i in range(jobs * 4)]
    with ProcessPoolExecutor(jobs) as pool:
        parts = pool.map(_run_chunk, [(chunk, jax_every) for chunk in chunks])
        results = [Outcome(**row) for part in parts for row in part]
    return sorted(results, key=lambda o: o.index)


def summary(outcomes: list[Outcome]) -> dict:
    mismatches = [o for o in outcomes if o.status == "mismatch"]
    kinds: dict[str, int] = {}
    for o in mismatches:
        kinds[o.kind] = kinds.get(o.kind, 0) + 1
    return {
        "count": len(outcomes),
        "compared": sum(o.status in ("ok", "mismatch") for o in outcomes),
        "skipped": sum(o.status == "skipped" for o in outcomes),
        "mismatches": len(mismatches),
        "nonfinite": sum(o.status == "nonfinite" for o in outcomes),
        "by_kind": kinds,
        "seconds": round(sum(o.seconds for o in outcomes), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--jax-every", type=int, default=1, metavar="N",
                        help="compare every N-th case with jax.jacobian too (0: never)")
    parser.add_argument("--json", metavar="PATH", help="write every outcome as JSON")
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    outcomes = run(arguments.count, arguments.seed, jobs=arguments.jobs, jax_every=arguments.jax_every)
    result = summary(outcomes)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    result["jax_compared"] = sum(_uses_jax(Case(o.index, "", "", "", 0), arguments.jax_every)
                                 and o.status != "skipped" for o in outcomes) if _jax() else 0
    for o in outcomes:
        if o.status in ("mismatch", "nonfinite"):
            print(f"[{o.kind}] #{o.index} {o.detail}\n    {o.repro()}")
    print(json.dumps(result))
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump({"summary": result, "outcomes": [asdict(o) for o in outcomes]}, handle, indent=1)
    return 1 if result["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
