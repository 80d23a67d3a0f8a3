"""The functions of the language: each one record, with every fact the rest of matdiff reads about it.

This is the one place that says what a function *means*. A :class:`Function` record holds how it
acts (entry by entry, column by column, or on a whole square matrix) and so its shape, its NumPy
implementation, its derivative (an elementwise f'(x), or a vector-Jacobian product for the others),
its LaTeX, its SymPy form, its code for each backend, its domain, and the facts the printers,
the simplifier and ``check`` use (an activation? always positive? simpler for a positive argument?
what it means for a number, of a product). Lowering, numbers, the componentwise view, code
generation, the printers, ``check``'s diagnoses and the web app's reference are all read from
:data:`FUNCTIONS`; adding a function is adding a record (:func:`register`, for one made elsewhere).

An elementwise derivative is f'(x), written with the IR factories and allowed to reuse the node's
own value y = f(x) (so sigmoid' is y.*(1 - y) and exp' is y itself). The others have VJP rules
(see engine/primitives.py for the calling convention), each with the identity it implements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from matdiff.errors import DomainError
from matdiff.engine.ir import Tensor, add, apply, const, einsum, make, scale


class _LazyNumpy:
    """NumPy, imported on first use: parsing and differentiating need no numbers, and the CLI
    starts faster without it."""

    def __getattr__(self, name):
        import numpy

        return getattr(numpy, name)


np = _LazyNumpy()

# How a function acts, which fixes its shape rule.
ENTRIES = "entries"  # entry by entry: the argument's shape
COLUMNS = "columns"  # on a vector, or on each column of a matrix: the shape, or (reducing) a row
MATRIX = "matrix"  # on a square matrix: inv keeps the shape, det and logdet give a scalar


@dataclass(frozen=True)
class Function:
    """One function of the language and everything known about it.

    ``latex`` is a template: ``{x}`` stands for the argument's LaTeX, ``{x!}`` for it
    parenthesised unless atomic. ``code`` has one template per backend, ``{x}`` standing
    for the argument's expression; a template may call helpers defined in ``helpers``
    (backend → {helper name: source}). ``sympy`` is a SymPy function's name (``"exp"``), or,
    for a function SymPy lacks, its body: ``body(sympy, d)`` for an entry ``d``, or
    ``body(sympy, array)`` on an object array for the other kinds. ``domain`` says where
    it is defined when that is not everywhere (its numbers are checked there: a value
    that is not finite is a domain error); ``sample`` is an interval of good test points.
    ``short`` is the letter its value is named by when printed once and used twice.
    ``activation`` marks a layer's nonlinearity: the views name its argument (z3 for a3) and
    show the delta ∂L/∂z3 as dz3; ``matrix_short`` the capital a batch of it is named by (H for a
    hidden layer) when not ``short`` in capitals. ``positive``: every value is > 0, whatever the
    argument. ``reference`` is its row in the language's reference: (syntax, meaning, example).

    Facts the simplifier and ``check`` use: ``when_positive`` is what f(x) is for x > 0 when that
    is simpler ("x": |x|, relu; "1": their derivatives); ``power`` says f(x) = x^power for x ≥ 0
    (sqrt: 0.5), so that sqrt(x.^2) = x for positive x. A function acting on a whole matrix says
    what it means for a number (``of_a_number``: det(a) = a) and ``of_a_product`` of a product of
    square matrices: "inverse" (inv(AB) = inv(B)*inv(A), inv(cA) = inv(A)/c), "product" (det(AB) = det(A)*det(B)) or
    "sum" (logdet(AB) = logdet(A) + logdet(B)). ``outside`` names a value outside its domain in
    an error ("a singular matrix"); ``derivative_domain`` says where the derivative is defined when
    that is less than the function's own domain (det's, det·inv(X)ᵀ: an invertible X).
    """

    name: str
    acts: str
    numpy: Callable
    latex: str
    sympy: str | Callable
    code: dict[str, str]
    derivative: Callable[[Tensor, Tensor], Tensor] | None = None  # f'(x, y), for ENTRIES
    vjp: Callable | None = None  # for COLUMNS and MATRIX
    domain: str = ""
    sample: tuple[float, float] = (-2.0, 2.0)
    short: str = ""
    reduces: bool = False  # a COLUMNS function whose value is one number per column
    activation: bool = False
    matrix_short: str = ""
    positive: bool = False
    reference: tuple[str, str, str] = ("", "", "")
    when_positive: str = ""
    power: float | None = None
    of_a_number: Callable[[Tensor], Tensor] | None = None
    of_a_product: str = ""
    outside: str = ""
    derivative_domain: str = ""
    helpers: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """A record the rest of matdiff cannot use is refused here, where it is written, not later in
        some route that reads the missing fact."""
        problems = [problem for problem, found in [
            ("its name is not a name of the language", not self.name.isidentifier()),
            (f"acts is {self.acts!r}, not one of {ENTRIES}, {COLUMNS}, {MATRIX}", self.acts not in (ENTRIES, COLUMNS, MATRIX)),
            ("it needs code for numpy, jax and torch, each with {x}",
             set(self.code) != {"numpy", "jax", "torch"} or not all("{x" in t for t in self.code.values())),
            ("its LaTeX has no {x}", "{x" not in self.latex),
            ("an elementwise function has a derivative and no VJP; the others a VJP",
             (self.derivative is not None) != (self.acts == ENTRIES) or (self.vjp is not None) == (self.acts == ENTRIES)),
            ("a function of a whole matrix says what it means for a number (of_a_number)",
             self.acts == MATRIX and self.of_a_number is None),
            (f"when_positive is {self.when_positive!r}, not '', 'x' or '1'", self.when_positive not in ("", "x", "1")),
            (f"of_a_product is {self.of_a_product!r}", self.of_a_product not in ("", "inverse", "product", "sum")),
        ] if found]
        if problems:
            raise ValueError(f"the record of {self.name}(): " + "; ".join(problems))

    def shape(self, argument: tuple) -> tuple:
        """The shape of f(x) for x of shape ``argument``."""
        if self.reduces or (self.acts == MATRIX and self.name != "inv"):
            return argument[1:] if self.acts == COLUMNS else ()
        return argument

    def __call__(self, argument: Tensor) -> Tensor:
        """The IR node f(argument) (elementwise ones through ``apply``, which folds constants)."""
        if self.acts == ENTRIES:
            return apply(self.name, argument)
        return make(self.name, (argument,), (), self.shape(argument.shape))


def _one_minus(y: Tensor) -> Tensor:
    return add(const(1.0, y.shape), scale(-1.0, y))


def _times(left: Tensor, right: Tensor) -> Tensor:
    labels = tuple(range(left.rank))
    return einsum(labels, (left, labels), (right, labels))


def lead_axes(count: int) -> list:
    return [("lead", i) for i in range(count)]


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow warnings, unlike 1/(1+exp(-x))


def _softmax(x):
    shifted = np.exp(x - np.max(x, axis=0))  # shifted by the column's largest entry: no overflow
    return shifted / np.sum(shifted, axis=0)


def _logsumexp(x):
    largest = np.max(x, axis=0)
    return largest + np.log(np.sum(np.exp(x - largest), axis=0))


def _logdet(x):
    sign, logabs = np.linalg.slogdet(x)
    return np.asarray(logabs if sign > 0 else np.nan)


def _matrix_of(sympy, array):
    return sympy.Matrix(array.tolist())


def _object_array(value):
    return np.array(value, dtype=object)


def _symbolic_inverse(sympy, array):
    """adj(A)/det(A), unsimplified: SymPy's own inv() simplifies as it eliminates, minutes on a 3×3
    of long entries; entries simplifies each result entry afterwards, where it is small enough."""
    from sympy.matrices.utilities import dotprodsimp

    matrix = _matrix_of(sympy, array)
    with dotprodsimp(False):
        determinant = matrix.det(method="berkowitz")
        if determinant == 0:
            raise DomainError("inv() of a matrix whose determinant is 0 for every value of its letters")
        return _object_array((matrix.adjugate(method="berkowitz") / determinant).tolist())


def _symbolic_det(sympy, array):
    """det by Berkowitz's division-free method, without SymPy's simplification of each product
    (dotprodsimp): the default took 19 s on a 2×2 of nested logarithms, this 0.02 s."""
    from sympy.matrices.utilities import dotprodsimp

    with dotprodsimp(False):
        return _matrix_of(sympy, array).det(method="berkowitz")


def _vjp_softmax(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """s = softmax(z) column by column: ∂s_i/∂z_k = s_i·δ_ik − s_i·s_k (diag(s) − s·sᵀ), so
    the cotangent is G.*s − s.*(sᵀ·G) within each column."""
    lead, own = lead_axes(n_lead), list(range(node.rank))
    summed = ["summed"] + own[1:]
    return add(einsum(lead + own, (G, lead + own), (node, own)),
               einsum(lead + own, (G, lead + summed), (node, summed), (node, own), (const(-1.0), [])))


def _vjp_logsumexp(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """∂ logsumexp(z)/∂z = softmax(z), for each column."""
    (z,) = node.args
    lead, own = lead_axes(n_lead), list(range(z.rank))
    return einsum(lead + own, (G, lead + own[1:]), (FUNCTIONS["softmax"](z), own))


def _vjp_inv(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """d(X⁻¹) = −X⁻¹·dX·X⁻¹, so ∂Y_ab/∂X_cd = −Y_ac·Y_db."""
    lead = lead_axes(n_lead)
    return einsum(lead + ["c", "d"], (G, lead + ["a", "b"]), (node, ["a", "c"]), (node, ["d", "b"]),
                  (const(-1.0), []))


def _vjp_det(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """∂det(X)/∂X = det(X)·X⁻ᵀ (Jacobi's formula)."""
    lead = lead_axes(n_lead)
    inverse = FUNCTIONS["inv"](node.args[0])
    return einsum(lead + ["c", "d"], (G, lead), (node, []), (inverse, ["d", "c"]))


def _vjp_logdet(node: Tensor, k: int, G: Tensor, n_lead: int) -> Tensor:
    """∂log det(X)/∂X = X⁻ᵀ."""
    lead = lead_axes(n_lead)
    inverse = FUNCTIONS["inv"](node.args[0])
    return einsum(lead + ["c", "d"], (G, lead), (inverse, ["d", "c"]))


_LOGDET_HELPER = '''
def _logdet(matrix):
    """log det of a matrix whose determinant is positive, else nan."""
    sign, value = {module}.linalg.slogdet(matrix)
    return {module}.where(sign > 0, value, {module}.nan)
'''

_NUMPY_SOFTMAX = '''
def _softmax(z):
    """softmax of a vector, or of each column of a matrix (shifted: no overflow)."""
    shifted = np.exp(z - z.max(axis=0))
    return shifted / shifted.sum(axis=0)
'''

_NUMPY_LOGSUMEXP = '''
def _logsumexp(z):
    """log(sum(exp(z))) of a vector, or of each column of a matrix (shifted: no overflow)."""
    largest = z.max(axis=0)
    return largest + np.log(np.exp(z - largest).sum(axis=0))
'''


def _entry(name: str, numpy: Callable, derivative: Callable, latex: str, sympy: str | Callable,
           numpy_code: str, torch_code: str, *, jax_code: str = "", **facts: Any) -> Function:
    """An elementwise function; its JAX code is its NumPy code with jnp unless given."""
    code = {"numpy": numpy_code, "jax": jax_code or numpy_code.replace("np.", "jnp."), "torch": torch_code}
    return Function(name, ENTRIES, numpy, latex, sympy, code, derivative=derivative, **facts)


def _operator(name: str) -> str:
    return r"\operatorname{" + name + r"}\left({x}\right)"


# ----- the functions of the language ----------------------------------------------------------
# Elementwise: name, numbers, derivative f'(x) given x and y = f(x), LaTeX, SymPy, NumPy code, PyTorch code.
_ELEMENTWISE = [
    _entry("exp", lambda x: np.exp(x), lambda x, y: y, r"\exp\left({x}\right)", "exp",
           "np.exp({x})", "torch.exp({x})", short="e",
           reference=("exp(X)", "exponential, entry by entry", "sum(exp(W*x))"), positive=True),
    _entry("log", lambda x: np.log(x), lambda x, y: apply("constant_power", x, -1.0), r"\log\left({x}\right)", "log",
           "np.log({x})", "torch.log({x})", domain="x > 0", sample=(0.2, 3.0), short="l",
           reference=("log(X)", "natural logarithm, entry by entry (entries > 0)", "sum(log(x))")),
    _entry("log1p", lambda x: np.log1p(x), lambda x, y: apply("constant_power", add(const(1.0, x.shape), x), -1.0),
           _operator("log1p"), lambda sp, d: sp.log(1 + d), "np.log1p({x})", "torch.log1p({x})",
           domain="x > -1", sample=(-0.5, 3.0),
           reference=("log1p(X)", "log(1 + x), entry by entry, accurate near 0", "sum(log1p(exp(z)))")),
    _entry("sin", lambda x: np.sin(x), lambda x, y: apply("cos", x), r"\sin\left({x}\right)", "sin",
           "np.sin({x})", "torch.sin({x})",
           reference=("sin(X)", "sine, entry by entry", "sum(sin(x))")),
    _entry("cos", lambda x: np.cos(x), lambda x, y: scale(-1.0, apply("sin", x)), r"\cos\left({x}\right)", "cos",
           "np.cos({x})", "torch.cos({x})",
           reference=("cos(X)", "cosine, entry by entry", "sum(cos(A*x))")),
    _entry("tan", lambda x: np.tan(x), lambda x, y: add(const(1.0, y.shape), apply("constant_power", y, 2.0)),
           r"\tan\left({x}\right)", "tan", "np.tan({x})", "torch.tan({x})",
           domain="x not an odd multiple of π/2", sample=(-1.2, 1.2),
           reference=("tan(X)", "tangent, entry by entry", "sum(tan(x))")),
    _entry("sinh", lambda x: np.sinh(x), lambda x, y: apply("cosh", x), r"\sinh\left({x}\right)", "sinh",
           "np.sinh({x})", "torch.sinh({x})",
           reference=("sinh(X)", "hyperbolic sine, entry by entry", "sum(sinh(x))")),
    _entry("cosh", lambda x: np.cosh(x), lambda x, y: apply("sinh", x), r"\cosh\left({x}\right)", "cosh",
           "np.cosh({x})", "torch.cosh({x})",
           reference=("cosh(X)", "hyperbolic cosine, entry by entry", "sum(cosh(x))"), positive=True),
    _entry("tanh", lambda x: np.tanh(x), lambda x, y: _one_minus(apply("constant_power", y, 2.0)), r"\tanh\left({x}\right)",
           "tanh", "np.tanh({x})", "torch.tanh({x})", short="t", activation=True,
           reference=("tanh(X)", "hyperbolic tangent, entry by entry", "tanh(W*x)"), matrix_short="H"),
    _entry("sigmoid", _sigmoid, lambda x, y: _times(y, _one_minus(y)), r"\sigma\left({x}\right)",
           lambda sp, d: 1 / (1 + sp.exp(-d)), "0.5 + 0.5 * np.tanh(0.5 * {x!})", "torch.sigmoid({x})",
           jax_code="jax.nn.sigmoid({x})", short="s", activation=True,
           reference=("sigmoid(X)", "logistic function 1/(1 + e⁻ˣ), entry by entry", "sigmoid(W*x)"), positive=True),  # NumPy: the tanh form, no overflow warning
    _entry("relu", lambda x: np.maximum(x, 0.0), lambda x, y: apply("step", x), _operator("relu"),
           lambda sp, d: sp.Max(d, 0), "np.maximum({x}, 0.0)", "torch.relu({x})", short="r", activation=True,
           reference=("relu(X)", "max(x, 0), entry by entry", "relu(W1*X)"), matrix_short="H", when_positive="x"),
    _entry("softplus", lambda x: np.logaddexp(0.0, x), lambda x, y: apply("sigmoid", x), _operator("softplus"),
           lambda sp, d: sp.log(1 + sp.exp(d)), "np.logaddexp(0.0, {x})", "torch.nn.functional.softplus({x})",
           short="p", activation=True,
           reference=("softplus(X)", "log(1 + eˣ), entry by entry", "sum(softplus(-y.*(X*w)))"), matrix_short="H", positive=True),
    _entry("sqrt", lambda x: np.sqrt(x), lambda x, y: scale(0.5, apply("constant_power", y, -1.0)), r"\sqrt{{x}}", "sqrt",
           "np.sqrt({x})", "torch.sqrt({x})", domain="x ≥ 0", sample=(0.2, 3.0), power=0.5,
           reference=("sqrt(X)", "square root, entry by entry (entries ≥ 0)", "sum(sqrt(x))")),
    _entry("abs", lambda x: np.abs(x), lambda x, y: apply("sign", x), _operator("abs"), "Abs",
           "np.abs({x})", "torch.abs({x})",
           reference=("abs(X)", "absolute value, entry by entry", "sum(abs(x - y))"), when_positive="x"),
    _entry("step", lambda x: (x > 0).astype(float), lambda x, y: const(0.0, x.shape), _operator("step"),
           lambda sp, d: sp.Heaviside(d, 0), "np.where({x} > 0.0, 1.0, 0.0)", "({x} > 0).to(dtype)",
           reference=("step(X)", "1 where an entry is > 0, else 0 (the derivative of relu)", "step(W*x).*y"),
           when_positive="1"),
    _entry("sign", lambda x: np.sign(x), lambda x, y: const(0.0, x.shape), _operator("sign"), "sign",
           "np.sign({x})", "torch.sign({x})",
           reference=("sign(X)", "−1, 0 or 1 by the sign of each entry (the derivative of abs)", "sign(x).*x"),
           when_positive="1"),
]

_OTHERS = [
    Function("softmax", COLUMNS, _softmax, _operator("softmax"),
             lambda sp, z: (lambda e: e / e.sum(axis=0))(np.vectorize(sp.exp, otypes=[object])(z)),
             {"numpy": "_softmax({x})", "jax": "jax.nn.softmax({x}, axis=0)", "torch": "torch.softmax({x}, dim=0)"},
             vjp=_vjp_softmax, short="s", helpers={"numpy": {"_softmax": _NUMPY_SOFTMAX}},
             reference=("softmax(Z), softmax(Z, 2)", "exp(z)/sum(exp(z)); of a matrix, column by column (1, the "
                        "default) or row by row (2)", "softmax(Q*K'/sqrt(8), 2)*V"), positive=True, activation=True),
    Function("logsumexp", COLUMNS, _logsumexp, _operator("logsumexp"),
             lambda sp, z: np.vectorize(sp.log, otypes=[object])(np.vectorize(sp.exp, otypes=[object])(z).sum(axis=0)),
             {"numpy": "_logsumexp({x})", "jax": "jax.nn.logsumexp({x}, axis=0)",
              "torch": "torch.logsumexp({x}, dim=0)"},
             vjp=_vjp_logsumexp, reduces=True, helpers={"numpy": {"_logsumexp": _NUMPY_LOGSUMEXP}},
             reference=("logsumexp(Z), logsumexp(Z, 2)", "log(sum(exp(z))), computed stably; of a matrix, a row "
                        "(per column) or, with 2, a column (per row)", "logsumexp(W*x) - y'*W*x")),
    Function("inv", MATRIX, lambda x: np.linalg.inv(x), r"{x!}^{-1}",
             _symbolic_inverse,
             {"numpy": "np.linalg.inv({x})", "jax": "jnp.linalg.inv({x})", "torch": "torch.linalg.inv({x})"},
             vjp=_vjp_inv, domain="an invertible matrix", short="Y", outside="a singular matrix",
             of_a_number=lambda x: apply("constant_power", x, -1.0), of_a_product="inverse",
             reference=("inv(A)", "inverse of a square matrix", "x'*inv(S)*x")),
    Function("det", MATRIX, lambda x: np.asarray(np.linalg.det(x)), r"\det\left({x}\right)",
             lambda sp, a: _object_array(_symbolic_det(sp, a)),
             {"numpy": "np.linalg.det({x})", "jax": "jnp.linalg.det({x})", "torch": "torch.linalg.det({x})"},
             vjp=_vjp_det, of_a_number=lambda x: x, of_a_product="product", derivative_domain="an invertible matrix",
             reference=("det(A)", "determinant", "det(X)")),
    Function("logdet", MATRIX, _logdet, r"\log\det\left({x}\right)",
             lambda sp, a: _object_array(sp.log(_symbolic_det(sp, a))),
             {backend: "_logdet({x})" for backend in ("numpy", "jax", "torch")},
             vjp=_vjp_logdet, domain="a matrix whose determinant is positive",
             outside="a matrix whose determinant is not positive", of_a_number=lambda x: apply("log", x),
             of_a_product="sum",
             helpers={backend: {"_logdet": _LOGDET_HELPER.format(module=module)}
                      for backend, module in (("numpy", "np"), ("jax", "jnp"), ("torch", "torch"))},
             reference=("logdet(A)", "log of the determinant (positive)", "logdet(S)")),
]

FUNCTIONS: dict[str, Function] = {f.name: f for f in _ELEMENTWISE + _OTHERS}
"""Every function of the language that is an IR op, by name."""


def register(function: Function) -> None:
    """Add a function to the language (or replace one): every route reads :data:`FUNCTIONS`, so the
    parser, lowering, numbers, derivatives, printers, generated code, ``check`` and the web reference
    know it from here on. The tests add a made-up one this way (tests/test_new_function.py)."""
    FUNCTIONS[function.name] = function


def unregister(name: str) -> None:
    """Take a function added by :func:`register` out of the language again."""
    FUNCTIONS.pop(name, None)
