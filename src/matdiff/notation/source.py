"""The user's own program as LaTeX, statement by statement, in the user's own operators.

The derivative's printed forms come from the IR (normalised, simplified); the question shown
above them must be what the user typed: ``x'*A*x`` as xᵀAx, not a rewritten form. So this walks
the syntax tree itself. Parentheses come from precedence: the tree has no parentheses, only
nesting, and a nested sum inside a product needs them back.
"""

from __future__ import annotations

from matdiff.engine.functions import FUNCTIONS
from matdiff.language.syntax import Call, Chain, Name, Number, Power, Program, Signed, Transpose
from matdiff.notation.printing import function_latex, latex_name

# How tightly each form binds: a form below the context's level is wrapped in parentheses.
SUM, PRODUCT, SIGNED, POWER, ATOM = 1, 2, 3, 4, 5
_OPERATORS = {"+": " + ", "-": " - ", "*": " ", "/": " / ", ".*": r" \odot ", "./": r" \oslash "}
_CALLS = {"eye": "I", "ones": r"\mathbf{1}"}


def program_latex(program: Program) -> str:
    """The program as LaTeX: one aligned line per assignment, then its value; a single
    expression as itself."""
    statements = list(program.statements)
    last = statements[-1]
    if len(statements) > 1 and isinstance(last.value, Name) and statements[-2].target == last.value.name:
        statements.pop()  # "L = …" ends the program: parse appended the bare L
    if len(statements) == 1 and statements[0].target is None:
        return node_latex(statements[0].value)
    lines = [(latex_name(s.target) if s.target else "") + " &= " + node_latex(s.value) for s in statements]
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


def node_latex(node) -> str:
    """One expression of the syntax tree as LaTeX (iterative over chains, recursive in depth:
    parse limits the depth)."""
    text, _ = _walk(node)
    return text


def _wrap(node, minimum: int) -> str:
    text, level = _walk(node)
    return rf"\left({text}\right)" if level < minimum else text


def _walk(node) -> tuple[str, int]:
    if isinstance(node, Number):
        return node.text, ATOM
    if isinstance(node, Name):
        return latex_name(node.name), ATOM
    if isinstance(node, Transpose):
        return _wrap(node.operand, ATOM) + r"^{\top}", ATOM
    if isinstance(node, Signed):
        return ("-" if node.sign == "-" else "+") + _wrap(node.operand, POWER), SIGNED
    if isinstance(node, Power):
        exponent, _ = _walk(node.exponent)
        circle = r"\circ " if node.op == ".^" else ""
        return f"{_wrap(node.base, ATOM)}^{{{circle}{exponent}}}", POWER
    if isinstance(node, Call):
        return _call(node), ATOM
    if isinstance(node, Chain):
        additive = node.rest[0][0] in ("+", "-")
        level = SUM if additive else PRODUCT
        # the right operand of - or / binds tighter than its left: a - (b + c), a / (b c)
        parts = [_wrap(node.first, level)]
        for op, _, operand in node.rest:
            parts.append(_OPERATORS[op] + _wrap(operand, level + (op in ("-", "/", "./"))))
        return "".join(parts), level
    raise TypeError(f"no LaTeX for {type(node).__name__}")


def _call(node: Call) -> str:
    name, arguments = node.function, node.arguments
    if name in _CALLS:
        sizes = r" \times ".join(node_latex(a) for a in arguments)
        return f"{_CALLS[name]}_{{{sizes}}}"
    if len(arguments) == 1 and name in FUNCTIONS:
        inner = node_latex(arguments[0])
        return function_latex(name, inner, _wrap(arguments[0], ATOM))
    listed = ", ".join(node_latex(a) for a in arguments)
    return rf"\operatorname{{{name}}}\left({listed}\right)"
