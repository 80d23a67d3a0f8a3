"""Parsing: text of the input language to a small syntax tree.

The grammar is LALR(1) with lark, and the tree is built while parsing (an
inline transformer), so no recursion happens here however deep the input.
Chains of ``+ -`` and of ``* / .* ./`` are kept flat (n-ary), so a 5,000-term
sum is one node, not 5,000 nested ones. Every node keeps the offset of the
character it applies to, for error carets. As in MATLAB, ``1./x`` is ``1 ./ x``:
a number does not swallow the dot of an elementwise operator. Nesting deeper than the configured
limit is refused here, before anything recursive sees it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import cast

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from matdiff import limits
from matdiff.errors import LimitError, MatdiffError, ParseError

GRAMMAR = r"""
start: _sep* statement (_sep+ statement)* _sep*
_sep: ";" | _NEWLINE

statement: NAME "=" expr                  -> assign
         | expr                           -> bare

?expr: sum
?sum: product
    | product (ADDOP product)+            -> chain
?product: unary
    | unary (MULOP unary)+                -> chain
?unary: power
    | ADDOP unary                         -> signed
?power: postfix
    | postfix POWOP unary                 -> power
?postfix: atom
    | postfix QUOTE                       -> transpose
?atom: NUMBER                             -> number
    | NAME                                -> name
    | NAME "(" [expr ("," expr)*] ")"     -> call
    | "(" expr ")"

ADDOP: "+" | "-"
MULOP: ".*" | "./" | "*" | "/"
POWOP: ".^" | "^"
QUOTE: "'"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /(\d+(\.(?![*\/^])\d*)?|\.\d+)([eE][+-]?\d+)?/
_NEWLINE: /\n/
%ignore /[ \t\r\f]+/
%ignore /#[^\n]*/
"""


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def is_name(text: object) -> bool:
    """Whether ``text`` is a name of the language (the grammar's NAME): ASCII letters, digits, _.

    Only such names may stand for variables and dimensions, so that every name means one
    thing everywhere: in the language, in printed forms and in generated Python (where
    ``n`` and the full-width ``ｎ`` would be the same identifier after NFKC).
    """
    return isinstance(text, str) and _NAME.match(text) is not None


# ----- syntax tree ----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Node:
    position: int
    depth: int


@dataclass(frozen=True, eq=False)
class Number(Node):
    value: float
    text: str


@dataclass(frozen=True, eq=False)
class Name(Node):
    name: str


@dataclass(frozen=True, eq=False)
class Call(Node):
    function: str
    arguments: tuple


@dataclass(frozen=True, eq=False)
class Chain(Node):
    """first (op operand)*, left to right; ops of one precedence level: + - or * / .* ./"""

    first: Node
    rest: tuple  # of (op, position, operand)


@dataclass(frozen=True, eq=False)
class Signed(Node):
    sign: str
    operand: Node


@dataclass(frozen=True, eq=False)
class Power(Node):
    op: str  # "^" or ".^"
    base: Node
    exponent: Node


@dataclass(frozen=True, eq=False)
class Transpose(Node):
    operand: Node


@dataclass(frozen=True, eq=False)
class Statement:
    target: str | None  # None for the final bare expression
    value: Node
    position: int


@dataclass(frozen=True)
class Program:
    statements: tuple
    source: str


# ----- building the tree while parsing -------------------------------------------------


def _depth(*children: Node) -> int:
    depth = 1 + max((c.depth for c in children), default=0)
    if depth > limits.current.max_depth:
        raise LimitError(
            f"expression nested too deeply (more than {limits.current.max_depth} levels; "
            "see matdiff.limits)", children[0].position if children else 0)
    return depth


def _number(text: str, position: int) -> Number:
    value = float(text)
    if not math.isfinite(value):
        raise ParseError(f"number {text} is too large", position)
    return Number(position, 1, value, text)


def _chain(first: Node, rest: tuple) -> Chain:
    """first (op, position, operand)…: one precedence level's operands at once."""
    return Chain(rest[0][1], _depth(first, *(operand for _, _, operand in rest)), first, rest)


class _Build(Transformer):
    def number(self, children):
        (token,) = children
        return _number(str(token), token.start_pos)

    def name(self, children):
        (token,) = children
        return Name(token.start_pos, 1, str(token))

    def call(self, children):
        token, *arguments = children
        arguments = tuple(a for a in arguments if a is not None)
        return Call(token.start_pos, _depth(*arguments) if arguments else 1, str(token), arguments)

    def chain(self, children):
        """All operands of one precedence level at once (the grammar's ``(op operand)+``), so a
        100,000-term sum is built in linear time, not by copying a growing tuple per term."""
        first, *pairs = children
        ops, operands = pairs[0::2], pairs[1::2]
        return _chain(first, tuple((str(op), op.start_pos, operand) for op, operand in zip(ops, operands)))

    def signed(self, children):
        op, operand = children
        return Signed(op.start_pos, _depth(operand), str(op), operand)

    def power(self, children):
        base, op, exponent = children
        return Power(op.start_pos, _depth(base, exponent), str(op), base, exponent)

    def transpose(self, children):
        operand, quote = children
        return Transpose(quote.start_pos, _depth(operand), operand)

    def assign(self, children):
        token, value = children
        return Statement(str(token), value, token.start_pos)

    def bare(self, children):
        (value,) = children
        return Statement(None, value, value.position)

    def start(self, children):
        return tuple(children)


# ----- the fast path: flat chains of names and numbers ---------------------------------------------
# lark spends ~15 µs a token, 1.5 s on a 100,000-term sum. A one-line expression that is only
# names and numbers (with transposes) joined by + - * / .* ./ needs no parser: its tree is the two
# precedence levels of the grammar, built here by the same functions in one pass of a regular
# expression. Anything else (a call, parentheses, a sign, a power, a comment, statements, an
# error) goes to lark, so the language and every error message are lark's. tests/test_fuzz.py
# holds the two to the same trees.

_FAST_TOKEN = re.compile(r"[ \t\r\f]*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<number>(\d+(\.(?![*\/^])\d*)?|\.\d+)"
                         r"([eE][+-]?\d+)?)|(?P<add>[+-])|(?P<mul>\.\*|\./|\*|/)|(?P<quote>')|(?P<end>[ \t\r\f]*\Z))")


def _fast_parse(source: str) -> tuple | None:
    """The statements of ``source`` when it is a flat chain of names and numbers, else None."""
    terms: list = []  # of (op, position, product) for the sum; the first op is None
    factors: list = []  # of (op, position, operand) for the product being read
    add_op: tuple = (None, 0)
    mul_op: tuple = (None, 0)
    operand: Node | None = None
    position, expect_operand = 0, True
    while True:
        token = _FAST_TOKEN.match(source, position)
        if token is None:
            return None
        kind = token.lastgroup or "end"  # every alternative is a named group
        start, position = token.start(kind), token.end()
        if expect_operand:
            if kind == "name":
                operand = Name(start, 1, token.group(kind))
            elif kind == "number":
                operand = _number(token.group(kind), start)
            else:
                return None
            expect_operand = False
            continue
        assert operand is not None
        if kind == "quote":
            operand = Transpose(start, _depth(operand), operand)
            continue
        factors.append((*mul_op, operand))
        if kind == "mul":
            mul_op, expect_operand = (token.group(kind), start), True
            continue
        product = factors[0][2] if len(factors) == 1 else _chain(factors[0][2], tuple(factors[1:]))
        terms.append((*add_op, product))
        factors, mul_op = [], (None, 0)
        if kind == "add":
            add_op, expect_operand = (token.group(kind), start), True
            continue
        if kind != "end":
            return None
        value = terms[0][2] if len(terms) == 1 else _chain(terms[0][2], tuple(terms[1:]))
        return (Statement(None, value, value.position),)


_PARSER = None


def _parser() -> Lark:
    global _PARSER
    if _PARSER is None:
        # cache=True keeps lark's LALR tables in the temp directory: building them takes
        # ~100 ms, a third of the CLI's start-up budget; loading them ~10 ms.
        _PARSER = Lark(GRAMMAR, parser="lalr", transformer=_Build(), maybe_placeholders=True, cache=True)
    return _PARSER


def parse(source: str) -> Program:
    """Parse a program (statements separated by ';' or newlines); the last is its value.

    A program that ends with an assignment (``L = 0.5*sum(r.^2)``) gets a final bare
    ``L`` appended, so every later stage sees one shape of program: a value last.
    """
    if not isinstance(source, str):
        raise ParseError("the expression must be text")
    if len(source) > limits.current.max_source_length:
        raise LimitError(f"input of {len(source)} characters is longer than the limit of "
                         f"{limits.current.max_source_length}", limits.current.max_source_length, source)
    if not source.strip():
        raise ParseError("empty expression: type something like x'*A*x", 0, source)
    try:
        statements = _fast_parse(source) or cast(tuple, _parser().parse(source))  # lark's transformer builds it
    except VisitError as error:  # a callback refused something (too deep, bad number)
        inner = error.orig_exc
        if isinstance(inner, MatdiffError):
            raise inner.located(None, source) from None
        raise
    except MatdiffError as error:
        raise error.located(None, source) from None
    except UnexpectedCharacters as error:
        position = error.pos_in_stream or 0
        hint = " (names use ASCII letters, digits and _)" if source[position].isidentifier() else ""
        raise ParseError(f"unexpected character {source[position]!r}{hint}", position, source) from None
    except UnexpectedEOF:
        raise ParseError("the expression ends too early", len(source.rstrip()), source) from None
    except UnexpectedToken as error:
        token: Token = error.token
        if token.type == "$END":
            raise ParseError("the expression ends too early", len(source.rstrip()), source) from None
        if token.type in ("NAME", "NUMBER"):
            shown = f"{token.type.lower()} {str(token)!r}"
        elif token.type == "_NEWLINE":
            shown = "line break"
        else:
            shown = repr(str(token))
        raise ParseError(f"unexpected {shown} here", token.start_pos, source) from None
    except UnexpectedInput as error:  # any other lark complaint
        raise ParseError("cannot parse the expression", getattr(error, "pos_in_stream", 0) or 0, source) from None
    for statement in statements[:-1]:
        if statement.target is None:
            raise ParseError("only the last statement may be a bare expression; name the others (z = ...)",
                             statement.position, source)
    last = statements[-1]
    if last.target is not None:  # `L = ...` at the end: the program's value is the name last assigned
        statements = (*statements, Statement(None, Name(last.position, 1, last.target), last.position))
    return Program(tuple(statements), source)


# ----- back to text ------------------------------------------------------------------------------

# precedence levels of the grammar: sum < product < unary < power < postfix < atom
_SUM, _PRODUCT, _UNARY, _POWER, _POSTFIX, _ATOM = range(6)


def unparse(node: Node) -> str:
    """The text of a syntax tree, parenthesized only where the grammar needs it: what a tool that
    rewrites a user's formula (check's repairs) shows back to them."""
    return _unparsed(node)[0]


def _unparsed(node: Node) -> tuple[str, int]:
    """(text, precedence level)."""
    if isinstance(node, Number):
        return node.text, _ATOM
    if isinstance(node, Name):
        return node.name, _ATOM
    if isinstance(node, Call):
        return f"{node.function}({', '.join(unparse(a) for a in node.arguments)})", _ATOM
    if isinstance(node, Transpose):
        return _at_least(node.operand, _POSTFIX) + "'", _POSTFIX
    if isinstance(node, Power):
        return _at_least(node.base, _POSTFIX) + node.op + _at_least(node.exponent, _UNARY), _POWER
    if isinstance(node, Signed):
        return node.sign + _at_least(node.operand, _UNARY), _UNARY
    assert isinstance(node, Chain), node
    level = _SUM if node.rest[0][0] in "+-" else _PRODUCT
    text = _at_least(node.first, level + (level == _PRODUCT))  # a product's operands are unary
    for op, _, operand in node.rest:
        spaced = f" {op} " if level == _SUM else op
        text += spaced + _at_least(operand, level + 1)
    return text, level


def _at_least(node: Node, level: int) -> str:
    text, own = _unparsed(node)
    return text if own >= level else f"({text})"


# ----- walking and editing a tree ------------------------------------------------------------------


def children(node: Node) -> list[Node]:
    """A node's operands, left to right (a power's base and exponent, a call's arguments)."""
    if isinstance(node, Call):
        return list(node.arguments)
    if isinstance(node, Chain):
        return [node.first, *(operand for _, _, operand in node.rest)]
    if isinstance(node, (Signed, Transpose)):
        return [node.operand]
    if isinstance(node, Power):
        return [node.base, node.exponent]
    return []


def with_child(node: Node, k: int, child: Node) -> Node:
    """``node`` with its k-th operand (as :func:`children` counts them) replaced by ``child``."""
    if isinstance(node, Call):
        return replace(node, arguments=node.arguments[:k] + (child,) + node.arguments[k + 1:])
    if isinstance(node, Chain):
        if k == 0:
            return replace(node, first=child)
        op, position, _ = node.rest[k - 1]
        return replace(node, rest=node.rest[:k - 1] + ((op, position, child),) + node.rest[k:])
    if isinstance(node, (Signed, Transpose)):
        return replace(node, operand=child)
    assert isinstance(node, Power)
    return replace(node, base=child) if k == 0 else replace(node, exponent=child)
