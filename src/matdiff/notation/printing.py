"""The printed forms of a matrix expression: one walker, and a table of spellings per form.

A :class:`Form` says how it spells each kind of node of :class:`~matdiff.notation.mtree.MatrixExpr`
(leaf, number, call, product, hadamard, divide, quotient, sum, negate, transpose, power), how it
parenthesises a child, and how it lays out a program of named results. :func:`render` is the one
walk over a tree: it visits each shared subtree once (memoised by identity) and puts in the
parentheses that precedence asks for, the same for every form. The forms are named once, in
:data:`FORMS`: ``text`` (re-parseable input-language text), ``latex``, and ``cost``, the weighted
token count of the text computed on the tree, which the rewrites and searches compare candidates by
without printing them. A new form is one :func:`register_form` (tests/test_new_function.py adds one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from matdiff.engine.functions import FUNCTIONS
from matdiff.notation.mtree import COMMUTATION, MatrixExpr, is_call
from matdiff.notation.numbers import format_number, fraction, number_text

Show = Callable[[MatrixExpr], Any]  # a child, printed
Wrap = Callable[[MatrixExpr, int], Any]  # a child, printed and parenthesised below a precedence level
Spelling = Callable[[MatrixExpr, Show, Wrap], Any]

_LEVEL = {"sum": 1, "product": 2, "hadamard": 2, "divide": 2, "quotient": 2, "negate": 3, "power": 4,
          "matpow": 4, "transpose": 5}


def level(x: MatrixExpr) -> int:
    """How tightly x binds as printed: 1 a sum … 6 an atom (a name, a call)."""
    if x.op == "number" and fraction(x.value):  # 1/6 reads as a quotient
        return 2
    if x.op == "number" and x.value < 0:
        return 3
    return _LEVEL.get(x.op, 6)


@dataclass(frozen=True)
class Form:
    """One printed form: a spelling for each node kind (``spell``: op → spelling(x, show, wrap)),
    how a child is parenthesised, its own precedence where it differs (LaTeX's A ⊗ B is infix), how
    it spells a bound name, and how it lays out named results before the value (``program``: the
    (name, body) pairs spelled, the value spelled (None: a program of named results only, as a
    backward pass), and the result's name or None)."""

    name: str
    spell: dict[str, Spelling]
    parenthesised: Callable[[Any], Any]
    level: Callable[[MatrixExpr], int] = level
    bound_name: Callable[[str], str] = str
    program: Callable[[list, Any, Any], Any] = field(default=lambda bindings, value, result: value)


def render(x: MatrixExpr, form: Form, memo: dict | None = None) -> Any:
    """x printed in ``form``. ``memo`` (id → printed, for trees whose nodes stay alive) lets a caller
    that prints every subtree, as the rewriter does, do so in linear time; without one, a fresh memo
    still prints each subtree shared within x once."""
    memo = {} if memo is None else memo
    key = id(x)
    if key in memo:
        return memo[key]

    def show(y: MatrixExpr) -> Any:
        return render(y, form, memo)

    def wrap(y: MatrixExpr, minimum: int) -> Any:
        printed = render(y, form, memo)
        return form.parenthesised(printed) if form.level(y) < minimum else printed

    memo[key] = printed = form.spell[x.op](x, show, wrap)
    return printed


# ----- text: the input language ----------------------------------------------------------------------


def _factors(joiner: str) -> Spelling:
    # A later factor "-a*w" would lose its sign to "a" alone: u.*-a*w reads (u.*-a)*w.
    return lambda x, show, wrap: joiner.join(wrap(f, _factor_level(x, k, f)) for k, f in enumerate(x.args))


def _factor_level(x: MatrixExpr, k: int, factor: MatrixExpr) -> int:
    """The level below which the k-th factor of a product is parenthesised: a first factor that is a
    number times one term needs none beside an elementwise product (2*a.*b is (2*a).*b: one level,
    read left to right); a later factor is parenthesised unless it binds tighter than a product."""
    if k == 0 and x.op != "product" and factor.op == "product" and len(factor.args) == 2 \
            and factor.args[0].op == "number" and factor.args[0].value > 0 and not fraction(factor.args[0].value):
        return 2
    return 3 if k == 0 else 4


def _text_product(x: MatrixExpr, show: Show, wrap: Wrap) -> str:
    exact = fraction(x.args[0].value) if x.args[0].op == "number" and len(x.args) > 1 else None
    if not exact:
        return _factors("*")(x, show, wrap)
    p, q = exact
    rest = "*".join(wrap(f, 3 if k == 0 else 4) for k, f in enumerate(x.args[1:]))
    return f"{'' if p == 1 else '-' if p == -1 else f'{p}*'}{rest}/{q}"  # Y/6, not 0.166666666666667*Y


def _signed_terms(x: MatrixExpr, show: Show, wrap: Wrap) -> str:
    """a + b - c: a sum printed with each later term's sign as its operator (text and LaTeX alike)."""
    parts = [show(x.args[0])]
    for t in x.args[1:]:
        if t.op == "number" and t.value < 0:
            parts.append(f"- {number_text(-t.value)}")
        else:
            parts.append(f"- {wrap(t.args[0], 2)}" if t.op == "negate" else f"+ {wrap(t, 2)}")
    return " ".join(parts)


def _text_power(x: MatrixExpr, show: Show, wrap: Wrap) -> str:
    base, exponent = x.args
    return f"{wrap(base, 5)}{'^' if base.shape_class == 'scalar' else '.^'}{wrap(exponent, _exponent_level(exponent))}"


def _exponent_level(exponent: MatrixExpr) -> int:
    """A negative number needs no parentheses as an exponent (S.^-3, a^-2*b is (a^-2)*b); the rest
    below an atom do."""
    return 3 if exponent.op == "number" and exponent.value < 0 and not fraction(exponent.value) else 6


TEXT = Form("text", {
    "leaf": lambda x, show, wrap: x.name,
    "number": lambda x, show, wrap: number_text(x.value),
    "call": lambda x, show, wrap: f"{x.name}({', '.join(show(a) for a in x.args)})",
    "transpose": lambda x, show, wrap: wrap(x.args[0], 6) + "'",
    "negate": lambda x, show, wrap: "-" + wrap(x.args[0], 2),
    "power": _text_power,
    "matpow": lambda x, show, wrap: f"{wrap(x.args[0], 5)}^{show(x.args[1])}",  # X^-3
    "quotient": lambda x, show, wrap: f"{wrap(x.args[0], 2)}/{wrap(x.args[1], 3)}",  # by a scalar: x/norm2(x)
    "product": _text_product,
    "hadamard": _factors(".*"),
    "divide": _factors(" ./ "),
    "sum": _signed_terms,
}, parenthesised=lambda s: f"({s})",
    program=lambda bindings, value, result: "; ".join([f"{name} = {body}" for name, body in bindings]
                                                      + ([] if value is None else [value])))


# ----- LaTeX -------------------------------------------------------------------------------------------

_LATEX_FUNCTIONS = {"tr": r"\operatorname{tr}", "diag": r"\operatorname{diag}", "vec": r"\operatorname{vec}",
                    "sum": r"\operatorname{sum}"}
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "lambda", "mu", "sigma", "theta", "tau", "phi", "omega"}


def latex_name(name: str) -> str:
    """W2 → W_{2}, x_hat → x_{hat}, alpha → \\alpha."""
    match = re.fullmatch(r"([A-Za-z]+?)_?(\d+|_\w+)?", name)
    if not match:
        return r"\mathrm{" + name.replace("_", r"\_") + "}"
    base, subscript = match.group(1), match.group(2)
    base_tex = "\\" + base if base in _GREEK else (base if len(base) == 1 else r"\mathrm{" + base + "}")
    if subscript:
        return f"{base_tex}_{{{subscript.lstrip('_')}}}"
    return base_tex


def function_latex(name: str, argument: str, atomic: str) -> str:
    """The LaTeX of a function of the table applied to ``argument`` (``atomic``: the argument
    parenthesised unless it is atomic already)."""
    return FUNCTIONS[name].latex.replace("{x!}", atomic).replace("{x}", argument)


def _latex_number(x: MatrixExpr, show: Show, wrap: Wrap) -> str:
    exact = fraction(x.value)
    if exact:
        return ("-" if exact[0] < 0 else "") + rf"\frac{{{abs(exact[0])}}}{{{exact[1]}}}"
    return format_number(x.value)


def _latex_call(x: MatrixExpr, show: Show, wrap: Wrap) -> str:
    if x.name in FUNCTIONS:
        return function_latex(x.name, show(x.args[0]), wrap(x.args[0], 6))
    if x.name == "eye":
        return f"I_{{{show(x.args[0])}}}"
    if x.name == "ones":
        return r"\mathbf{1}_{" + r"\times ".join(show(a) for a in x.args) + "}"
    if x.name == "kron":
        return f"{wrap(x.args[0], 3)} \\otimes {wrap(x.args[1], 3)}"
    if x.name == COMMUTATION:
        return f"K_{{{show(x.args[0])},{show(x.args[1])}}}"
    if x.name == "norm2":
        return r"\left\|" + show(x.args[0]) + r"\right\|"
    if x.name == "sum" and len(x.args) == 2 and x.args[1].op == "number":  # row sums, column sums
        rows = x.args[1].value == 2
        return (r"\sum_{j} " if rows else r"\sum_{i} ") + f"\\left({show(x.args[0])}\\right)" + \
            ("_{:,j}" if rows else "_{i,:}")
    name = _LATEX_FUNCTIONS.get(x.name, r"\operatorname{" + x.name + "}")
    return f"{name}\\left({', '.join(show(a) for a in x.args)}\\right)"


def _latex_transpose(x: MatrixExpr, show: Show, wrap: Wrap) -> str:
    """Aᵀ; the transpose of an inverse is written as books write it, X^{-\\top}."""
    inner = x.args[0]
    template = FUNCTIONS[inner.name].latex if inner.op == "call" and inner.name in FUNCTIONS else ""
    if template.endswith("^{-1}"):
        return function_latex(inner.name, show(inner.args[0]), wrap(inner.args[0], 6))[:-len("{-1}")] + r"{-\top}"
    return wrap(inner, 6) + r"^{\top}"


def _latex_power(x: MatrixExpr, show: Show, wrap: Wrap) -> str:
    base, exponent = x.args
    if base.shape_class != "scalar":
        return f"{wrap(base, 5)}^{{\\circ {show(exponent)}}}"
    return f"{wrap(base, 5)}^{{{show(exponent)}}}"


def _latex_level(x: MatrixExpr) -> int:
    """A ⊗ B is infix here, (A ⊗ B) K, (A ⊗ B)^T; a positive \\frac{1}{3} is whole; a function written
    with a superscript (X^{-1}) binds as a power, so its transpose is (X^{-1})^T, not X^{-1}^T."""
    if x.op == "call" and x.name in FUNCTIONS and "^{" in FUNCTIONS[x.name].latex:
        return 4
    return 2 if is_call(x, "kron") else 6 if x.op == "number" and fraction(x.value) and x.value > 0 else level(x)


def _latex_program(bindings: list, value: str | None, result: str | None) -> str:
    if not bindings and value is not None:
        return value if result is None else f"{result} = {value}"
    lines = [f"{name} &= {body}" for name, body in bindings]
    if value is not None:
        lines.append(f"{result or ''} &= {value}" if result else f"& {value}")
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


def _joined(operator: str) -> Spelling:
    return lambda x, show, wrap: operator.join(wrap(f, 3) for f in x.args)


LATEX = Form("latex", {
    "leaf": lambda x, show, wrap: latex_name(x.name) if not x.name.replace("*", "").isdigit() else x.name,
    "number": _latex_number,
    "call": _latex_call,
    "transpose": lambda x, show, wrap: _latex_transpose(x, show, wrap),
    "negate": lambda x, show, wrap: "-" + (show(x.args[0]) if x.args[0].op == "product" else wrap(x.args[0], 4)),
    "power": _latex_power,
    "matpow": lambda x, show, wrap: f"{wrap(x.args[0], 5)}^{{{show(x.args[1])}}}",
    "product": _joined(" "),
    "hadamard": _joined(r" \odot "),
    "quotient": lambda x, show, wrap: rf"\frac{{{show(x.args[0])}}}{{{show(x.args[1])}}}",
    "divide": _joined(r" \oslash "),
    "sum": _signed_terms,
}, parenthesised=lambda s: f"\\left({s}\\right)", level=_latex_level, bound_name=latex_name, program=_latex_program)


# ----- cost: the printed length, from the tree ---------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+|\.\*|\./|\.\^|\S")


def tokens(source: str) -> list[str]:
    """The tokens of a formula in the input language: names, numbers, operators, brackets."""
    return _TOKEN.findall(source)


# Tokens a careful writer avoids weigh more: a transpose mark (so (A*x - b)' beats
# x'*A' - b', whose parentheses the parent would add), and diag(v), an n×n matrix
# built from a vector (so (W'*d).*v beats diag(v)*W'*d).
WEIGHT = {"'": 1.5, "diag": 4.0}


def text_cost(source: str) -> float:
    """The weighted token count of printed text (for forms written by hand, as a book's)."""
    return sum(WEIGHT.get(t, 1.0) for t in tokens(source))


def _cost_form(weights: dict) -> Form:
    """The weighted token count of the text, node by node: each node's children plus its own operators
    and the parentheses the text would add (2 tokens)."""

    def factors(x: MatrixExpr, show: Show, wrap: Wrap) -> float:
        return len(x.args) - 1.0 + sum(wrap(f, _factor_level(x, k, f)) for k, f in enumerate(x.args))

    def terms(x: MatrixExpr, show: Show, wrap: Wrap) -> float:
        counted = show(x.args[0])
        for t in x.args[1:]:
            if t.op == "number" and t.value < 0:
                counted += 1.0 + text_cost(format_number(-t.value))
            else:
                counted += 1.0 + (wrap(t.args[0], 2) if t.op == "negate" else wrap(t, 2))
        return counted

    return Form("cost", {
        "leaf": lambda x, show, wrap: text_cost(x.name),
        "number": lambda x, show, wrap: text_cost(format_number(x.value)),
        "call": lambda x, show, wrap: weights.get(x.name, 1.0) + 2.0 + max(len(x.args) - 1, 0)
        + sum(show(a) for a in x.args),
        "transpose": lambda x, show, wrap: wrap(x.args[0], 6) + weights["'"],
        "negate": lambda x, show, wrap: 1.0 + wrap(x.args[0], 2),
        "power": lambda x, show, wrap: wrap(x.args[0], 5) + 1.0 + wrap(x.args[1], _exponent_level(x.args[1])),
        "matpow": lambda x, show, wrap: wrap(x.args[0], 5) + 1.0 + show(x.args[1]),
        "quotient": lambda x, show, wrap: wrap(x.args[0], 2) + 1.0 + wrap(x.args[1], 3),
        "product": factors,
        "hadamard": factors,
        "divide": factors,
        "sum": terms,
    }, parenthesised=lambda counted: counted + 2.0)


COST = _cost_form(WEIGHT)

FORMS: dict[str, Form] = {form.name: form for form in (TEXT, LATEX)}
"""The printed forms a derivative is shown in, by name (cost is a measure, not shown)."""


def register_form(form: Form) -> None:
    """Add a printed form: ``Derivative.printed(name)``, a gradient's and a program's forms and the
    command line's ``--format`` know it from here on."""
    FORMS[form.name] = form


def unregister_form(name: str) -> None:
    if name not in ("text", "latex"):
        FORMS.pop(name, None)


def printed(x: MatrixExpr, form: str, memo: dict | None = None) -> str:
    """x in the registered form ``form``."""
    return render(x, FORMS[form], memo)


def text(x: MatrixExpr, memo: dict | None = None) -> str:
    """Re-parseable text in the input language."""
    return render(x, TEXT, memo)


def latex(x: MatrixExpr, memo: dict | None = None) -> str:
    """LaTeX of the tree (a subtree shared n times is printed once)."""
    return render(x, LATEX, memo)


def cost(x: MatrixExpr, memo: dict | None = None, weights: dict | None = None) -> float:
    """The weighted token count of ``text(x)``, computed on the tree. ``memo`` (id → cost, for trees
    whose nodes stay alive) makes repeated calls on shared subtrees free."""
    return render(x, COST if weights is None else _cost_form(weights), memo)
