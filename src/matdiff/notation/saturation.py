"""Elementwise and scalar algebra by equality saturation: the identities are data, the printed tokens the cost.

The elementwise algebra has two parts. Rational functions of the atoms are put in a normal form
(notation/identities.py: a Laurent polynomial, expanded, cancelled and collected — a decision
procedure, which equality saturation is not); the identities of the functions themselves are a table
here, applied by search. The hand-written rewrite table (notation/rewrite.py) takes one step at a time
and keeps a step only if it is no longer, so it cannot cross a longer form on the way to a shorter one:
``(1 - sigmoid(m)).*y`` reaches ``sigmoid(-m).*y`` only through an identity applied backwards. Here
the elementwise part of a printed form — sums, negations, Hadamard products, scalings, powers,
quotients and the elementwise functions, over opaque atoms (a name, a matrix product, anything
else) — goes into an e-graph (egglog, the library tensorgrad uses), every identity of
:data:`IDENTITIES` is applied in both directions until nothing changes or the budget is spent, and
the cheapest equal term is extracted, weighing each operator by the tokens it prints.

:data:`IDENTITIES` is a table of equations written in the input language, with single-letter
pattern variables; tests/test_saturation.py checks each by numbers. The search is bounded by
iterations and by the e-graph's size (:data:`ITERATIONS`, :data:`MAX_ENODES`), never by the clock,
so the same input prints the same on any machine; fragments larger than :data:`MAX_NODES` and
programs larger than :data:`MAX_PROGRAM_COST` tokens are left to the rewrite table alone, where a
search would not pay. egglog is imported on first use: parsing and differentiating never need it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from matdiff.engine.functions import ENTRIES, FUNCTIONS
from matdiff.language.syntax import Call, Chain, Name, Number, Power, Signed, children, parse
from matdiff.notation.mtree import MatrixExpr, call, hadamard, negate_, number, product, total
from matdiff.notation.printing import cost
from matdiff.notation.rewrite import rebuild

ITERATIONS = 6  # rounds of every identity
MAX_ENODES = 3_000  # the e-graph's size after which no further round is run
MAX_NODES = 40  # a fragment larger than this is left as it is
MAX_PROGRAM_COST = 160  # tokens: a printed form longer than this is not searched


@dataclass(frozen=True)
class Identity:
    """left = right, in the input language; single lowercase letters are pattern variables. Applied both
    ways, unless ``both`` is false (only left → right: a rewrite whose reverse would only swell the
    e-graph, as sigmoid(m) into exps)."""

    name: str
    left: str
    right: str
    both: bool = True


# name                           left                        right
IDENTITIES: tuple[Identity, ...] = (
    Identity("add-commutes",          "a + b",                    "b + a"),
    Identity("add-associates",        "(a + b) + c",              "a + (b + c)"),
    Identity("mul-commutes",          "a.*b",                     "b.*a"),
    Identity("mul-associates",        "(a.*b).*c",                "a.*(b.*c)"),
    Identity("distributes",           "a.*b + a.*c",              "a.*(b + c)"),
    Identity("negation-factors",      "(-a).*b",                  "-(a.*b)"),
    Identity("negation-distributes",  "-(a + b)",                 "-a - b"),
    Identity("double-negation",       "-(-a)",                    "a"),
    Identity("cancels",               "a - a",                    "0"),
    Identity("plus-zero",             "a + 0",                    "a"),
    Identity("times-one",             "a.*1",                     "a"),
    Identity("square",                "a.*a",                     "a.^2"),
    Identity("powers-add",            "a.^b.*a.^c",               "a.^(b + c)"),
    Identity("reciprocal",            "1 ./ a",                   "a.^-1"),
    Identity("quotient",              "a ./ b",                   "a.*b.^-1"),
    Identity("sigmoid-of-negation",   "sigmoid(-m)",              "1 - sigmoid(m)"),
    Identity("sigmoid-times-exp",     "sigmoid(m).*exp(-m)",      "1 - sigmoid(m)"),
    Identity("log-sigmoid",           "log(sigmoid(m))",          "-softplus(-m)"),
    Identity("log-one-minus-sigmoid", "log(1 - sigmoid(m))",      "-softplus(m)"),
    Identity("softplus-difference",   "softplus(m) - softplus(-m)", "m"),
    Identity("log-one-plus-exp",      "log(1 + exp(m))",          "softplus(m)"),
    Identity("sigmoid-of-exp",        "exp(m) ./ (1 + exp(m))",   "sigmoid(m)", both=False),
    Identity("sigmoid-of-exp-minus",  "1 ./ (1 + exp(-m))",       "sigmoid(m)", both=False),
    Identity("exp-of-log",            "exp(log(a))",              "a"),
    Identity("log-of-exp",            "log(exp(a))",              "a"),
    Identity("exp-of-sum",            "exp(a).*exp(b)",           "exp(a + b)"),
)


def saturated(x: MatrixExpr) -> MatrixExpr | None:
    """x with each maximal elementwise fragment replaced by the cheapest equal term the search finds,
    where that prints shorter; None when nothing does (or x is too large to search)."""
    if not _holds_fragment_worth_searching(x):  # most bodies: one walk, no search, no cost
        return None
    before = cost(x)
    if before > MAX_PROGRAM_COST:
        return None
    found = _saturated(x)
    return found if found is not None and cost(found) < before else None


def _holds_fragment_worth_searching(x: MatrixExpr) -> bool:
    named = _functions_of_identities()
    pending = [x]
    while pending:
        y = pending.pop()
        if y.op == "call" and y.name in named:
            return True
        pending.extend(y.args)
    return False


def _saturated(x: MatrixExpr, inside: bool = False) -> MatrixExpr | None:
    """x with its maximal fragments searched (``inside``: x is part of a fragment already), the
    atoms within them first; None where nothing changed."""
    fragment = _is_fragment(x)
    args = tuple(_saturated(a, fragment) or a for a in x.args)
    changed = args != x.args
    if changed:
        x = rebuild(x, args)  # the normalising constructors, for the parent
    if fragment and not inside and _worth_searching(x):
        return _searched(x) or (x if changed else None)
    return x if changed else None


_OPERATORS = ("sum", "negate", "hadamard", "divide", "quotient", "power", "number")


def _is_fragment(x: MatrixExpr) -> bool:
    """An elementwise operation: a sum, negation, Hadamard product, scaling, power, quotient or an
    elementwise function (a matrix product of two matrices is an atom)."""
    if x.op == "call":
        return x.name in FUNCTIONS and FUNCTIONS[x.name].acts == ENTRIES
    if x.op == "product":
        return sum(f.shape_class != "scalar" for f in x.args) <= 1
    return x.op in _OPERATORS and x.op != "number"


def _worth_searching(x: MatrixExpr) -> bool:
    """Small enough, and holding a function some identity is about (sigmoid, exp, log, softplus): the
    rest of the elementwise algebra is the rewrite table's and identities.py's, without a search."""
    nodes, named = 0, 0
    pending = [x]
    while pending:
        y = pending.pop()
        nodes += 1
        named += y.op == "call" and y.name in _functions_of_identities()
        if _is_fragment(y) or y.op == "number":
            pending.extend(y.args)
    return 3 <= nodes <= MAX_NODES and named > 0


@lru_cache(maxsize=1)
def _functions_of_identities() -> frozenset:
    found = set()
    for identity in IDENTITIES:
        pending = [parse(side).statements[-1].value for side in (identity.left, identity.right)]
        while pending:
            node = pending.pop()
            if isinstance(node, Call):
                found.add(node.function)
            pending.extend(children(node))
    return frozenset(found)


@lru_cache(maxsize=2048)
def _searched(x: MatrixExpr) -> MatrixExpr | None:
    """The cheapest term equal to the fragment x, or None when it is x itself."""
    language = _language()
    atoms: list[MatrixExpr] = []
    term = _to_term(x, language, atoms)
    egraph = _egraph()
    egraph.push()  # the identities stay registered; the term and what grew from it go again at pop()
    try:
        root = egraph.let("root", term)
        for _ in range(ITERATIONS):
            report = egraph.run(1)
            if not report.updated or sum(size for _, size in egraph.all_function_sizes()) > MAX_ENODES:
                break
        found = _from_term(egraph.extract(root), language, atoms)
    finally:
        egraph.pop()
    if found is None or found == x or found.shape_class != x.shape_class:  # X - X is 0, a number: kept as is
        return None
    return found


_PER_THREAD = threading.local()


def warm() -> None:
    """Import egglog and register the identities in this thread now (the web worker does, before it
    says it is ready: a user's first answer then does not wait for it)."""
    _egraph()


def _egraph() -> Any:
    """An e-graph with the identities registered, searched in a push/pop frame per fragment: one per
    thread (egglog's e-graph may not move between threads; the web server and a user's threads
    each get their own)."""
    egraph = getattr(_PER_THREAD, "egraph", None)
    if egraph is None:
        language = _language()
        egraph = _PER_THREAD.egraph = language.egglog.EGraph()
        egraph.register(*language.rules)
    return egraph


# ----- the egglog language: terms over atoms ---------------------------------------------------------------


@dataclass(frozen=True)
class _Language:
    egglog: Any
    Term: Any
    apply: Any
    rules: tuple


_BUILDING = threading.Lock()


def _language() -> _Language:
    """The term sort, a function application by name, and the identities as egglog rewrites (built
    once, by one thread)."""
    with _BUILDING:
        return _built_language()


@lru_cache(maxsize=1)
def _built_language() -> _Language:
    """Costs are the tokens each operator prints: a function 3 (its name and parentheses), every other 1."""
    import egglog
    from egglog import Expr, StringLike, birewrite, f64, f64Like, i64Like, method

    class Term(Expr):
        @method(cost=1)
        def __init__(self, index: i64Like) -> None: ...

        @method(cost=1)
        @classmethod
        def num(cls, value: f64Like) -> Term: ...

        @method(cost=1)
        def __add__(self, other: Term) -> Term: ...

        @method(cost=1)
        def __mul__(self, other: Term) -> Term: ...

        @method(cost=1)
        def __neg__(self) -> Term: ...

        @method(cost=1)
        def __truediv__(self, other: Term) -> Term: ...

        @method(cost=1)
        def __pow__(self, other: Term) -> Term: ...

    @egglog.function(cost=3)
    def apply(name: StringLike, argument: Term) -> Term: ...

    language = _Language(egglog, Term, apply, ())
    rules = []
    for identity in IDENTITIES:  # both ways, where each side's variables are the other's and neither side
        left, right = _pattern(identity.left, language), _pattern(identity.right, language)  # is one of them
        both = identity.both and _variables(identity.left) == _variables(identity.right) \
            and not _is_variable(identity.right)
        rules.append(birewrite(left).to(right) if both else egglog.rewrite(left).to(right))
    x, y = egglog.vars_("x y", f64)
    rules += [egglog.rewrite(Term.num(x) + Term.num(y)).to(Term.num(x + y)),
              egglog.rewrite(Term.num(x) * Term.num(y)).to(Term.num(x * y)),
              egglog.rewrite(-Term.num(x)).to(Term.num(-x))]
    return _Language(egglog, Term, apply, tuple(rules))


def _is_variable(source: str) -> bool:
    return isinstance(parse(source).statements[-1].value, Name)


def _variables(source: str) -> set[str]:
    """The pattern variables of one side of an identity."""
    found, pending = set(), [parse(source).statements[-1].value]
    while pending:
        node = pending.pop()
        if isinstance(node, Name):
            found.add(node.name)
        pending.extend(children(node))
    return found


def _pattern(source: str, language: _Language) -> Any:
    """An identity's side as an egglog pattern: each name a variable, numbers constants."""
    return _syntax_term(parse(source).statements[-1].value, language)


def _syntax_term(node: Any, language: _Language) -> Any:
    Term = language.Term
    if isinstance(node, Name):
        return language.egglog.var(node.name, Term)
    if isinstance(node, Number):
        return Term.num(float(node.value))
    if isinstance(node, Signed):
        inner = _syntax_term(node.operand, language)
        return -inner if node.sign == "-" else inner
    if isinstance(node, Call):
        return language.apply(node.function, _syntax_term(node.arguments[0], language))
    if isinstance(node, Power):
        return _syntax_term(node.base, language) ** _syntax_term(node.exponent, language)
    if isinstance(node, Chain):
        result = _syntax_term(node.first, language)
        for op, _, operand in node.rest:
            right = _syntax_term(operand, language)
            result = {"+": lambda a, b: a + b, "-": lambda a, b: a + -b, ".*": lambda a, b: a * b,
                      "*": lambda a, b: a * b, "./": lambda a, b: a / b, "/": lambda a, b: a / b}[op](result, right)
        return result
    raise ValueError(f"an identity may not use {type(node).__name__}")


def _to_term(x: MatrixExpr, language: _Language, atoms: list[MatrixExpr]) -> Any:
    Term = language.Term
    if x.op == "number":
        return Term.num(x.value)
    if not _is_fragment(x):
        if x not in atoms:
            atoms.append(x)
        return Term(atoms.index(x))
    args = [_to_term(a, language, atoms) for a in x.args]
    if x.op == "call":
        return language.apply(x.name, args[0])
    if x.op == "negate":
        return -args[0]
    if x.op == "power":
        return args[0] ** args[1]
    if x.op in ("divide", "quotient"):
        return args[0] / args[1]
    result = args[0]
    for a in args[1:]:
        result = result + a if x.op == "sum" else result * a
    return result


def _from_term(term: Any, language: _Language, atoms: list[MatrixExpr]) -> MatrixExpr | None:
    egglog = language.egglog
    name = str(egglog.get_callable_fn(term))
    args: tuple = tuple(egglog.get_callable_args(term) or ())
    if name == "Term":
        return atoms[int(egglog.get_literal_value(args[0]))]
    if name == "Term.num":
        return number(float(egglog.get_literal_value(args[0])))
    if name == "apply":
        argument = _from_term(args[1], language, atoms)
        return None if argument is None else call(str(egglog.get_literal_value(args[0])), (argument,),
                                                     argument.shape_class)
    found = [_from_term(a, language, atoms) for a in args]
    parts = [p for p in found if p is not None]
    if len(parts) < len(found):
        return None
    if name == "-·":
        return negate_(parts[0])
    left, right = parts
    if name == "· + ·":
        return total(left, right)
    if name == "· * ·":
        return product(left, right) if "scalar" in (left.shape_class, right.shape_class) else hadamard(left, right)
    if name == "· ** ·":
        return MatrixExpr("power", (left, right), "^" if left.shape_class == "scalar" else ".^", left.shape_class)
    if name == "· / ·":
        if right.shape_class == "scalar":
            return MatrixExpr("quotient", (left, right), "", left.shape_class)
        return MatrixExpr("divide", (left, right), "", "matrix" if left.shape_class != right.shape_class
                          else left.shape_class)
    return None
