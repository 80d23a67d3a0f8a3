"""Compact matrix notation: a named table of rewrites on the matrix tree, and a cost.

:mod:`matdiff.notation.matrixform` reads a tensor network back as matrix notation, one
contraction at a time; the result is correct but not what a careful person
writes: ``A'*x + A*x`` instead of ``(A + A')*x``, ``2*A*x - 2*b`` instead of
``2*(A*x - b)``, ``diag(v)*W'*d`` instead of ``(W'*d).*v``. Each rule below is an
identity of matrix algebra, stated in its docstring and applied where it makes
the printed form no longer, measured in tokens (:func:`cost`), as in egg.
Rules see one node of the tree and return an equal node or None; :func:`compact`
applies them bottom-up until none helps. Nothing here knows about the IR.
"""

from __future__ import annotations


from matdiff.engine.rules import Rule
from matdiff.engine.ir import folds
from matdiff.notation.algebra import RULES as ALGEBRA
from matdiff.notation.layers import RULES as LAYERS
from matdiff.notation.summands import Summand, summand_of
from matdiff.notation.mtree import MatrixExpr, call, is_call, hadamard, negate_, number, product, total, transpose
from matdiff.notation.printing import cost, text, text_cost, tokens

def _is_diag_matrix(x: MatrixExpr) -> bool:
    return x.op == "call" and x.name == "diag" and x.shape_class == "matrix"


# ----- the rules -----------------------------------------------------------------------------


def factor_scalar(x: MatrixExpr) -> MatrixExpr | None:
    """c·A + c·B = c·(A + B), for a number c (up to sign) or a common scalar factor."""
    if x.op != "sum":
        return None
    terms = [summand_of(t) for t in x.args]
    magnitudes = {abs(t.coefficient) for t in terms}
    if len(magnitudes) == 1 and 0.0 not in magnitudes and 1.0 not in magnitudes:
        c = magnitudes.pop()
        rest = [Summand(t.coefficient / c, t.scalars, t.chain).build() for t in terms]
        return product(number(c), total(*rest))
    common = [s for s in terms[0].scalars if all(s in t.scalars for t in terms[1:])]
    if not common:
        return None
    factor = common[0]

    def without(t: Summand) -> MatrixExpr:
        scalars = list(t.scalars)
        scalars.remove(factor)
        return Summand(t.coefficient, tuple(scalars), t.chain).build()

    return product(factor, total(*(without(t) for t in terms)))


def factor_left(x: MatrixExpr) -> MatrixExpr | None:
    """A·B + A·C = A·(B + C)."""
    return _factor_out(x, side=0)


def factor_right(x: MatrixExpr) -> MatrixExpr | None:
    """B·A + C·A = (B + C)·A."""
    return _factor_out(x, side=-1)


def _factor_out(x: MatrixExpr, *, side: int) -> MatrixExpr | None:
    """The common first (side 0) or last (side -1) factor of the terms of a sum that share one (all
    of them, or the largest group of two or more) taken out."""
    if x.op != "sum":
        return None
    terms = [summand_of(t) for t in x.args]
    groups: dict[MatrixExpr, list[int]] = {}
    for k, t in enumerate(terms):
        if len(t.chain) >= 2:
            groups.setdefault(t.chain[side], []).append(k)
    shared = max((ks for ks in groups.values() if len(ks) > 1), key=len, default=None)
    if shared is None:
        return None
    common = terms[shared[0]].chain[side]
    rest = total(*(Summand(terms[k].coefficient, terms[k].scalars,
                           terms[k].chain[1:] if side == 0 else terms[k].chain[:-1]).build() for k in shared))
    factored = product(common, rest) if side == 0 else product(rest, common)
    return total(factored, *(x.args[k] for k in range(len(terms)) if k not in shared))


def factor_hadamard(x: MatrixExpr) -> MatrixExpr | None:
    """a ⊙ b + c·(a ⊙ d) = a ⊙ (b + c·d), a sign or a scalar factor of a term kept with it."""
    if x.op != "sum":
        return None
    terms = [summand_of(t) for t in x.args]
    if any(len(t.chain) != 1 or t.chain[0].op != "hadamard" for t in terms) or \
            all(t.chain == terms[0].chain for t in terms):  # like terms: collect-terms adds them
        return None
    first, *others = (t.chain[0].args for t in terms)
    common = next((f for f in first if all(f in factors for factors in others)), None)
    if common is None:
        return None

    def without(t: Summand) -> MatrixExpr:
        rest = list(t.chain[0].args)
        rest.remove(common)
        return Summand(t.coefficient, t.scalars, (hadamard(*rest),)).build()

    return hadamard(common, total(*(without(t) for t in terms)))


def pull_negation(x: MatrixExpr) -> MatrixExpr | None:
    """−A − B = −(A + B)."""
    if x.op != "sum" or not all(t.op == "negate" for t in x.args):
        return None
    return negate_(total(*(t.args[0] for t in x.args)))


def transpose_sum(x: MatrixExpr) -> MatrixExpr | None:
    """(A + B)ᵀ = Aᵀ + Bᵀ."""
    if x.op != "transpose" or x.args[0].op != "sum":
        return None
    return total(*(transpose(t) for t in x.args[0].args))


def transpose_product(x: MatrixExpr) -> MatrixExpr | None:
    """(AB)ᵀ = BᵀAᵀ and (A ⊙ B)ᵀ = Aᵀ ⊙ Bᵀ."""
    if x.op != "transpose" or x.args[0].op not in ("product", "hadamard"):
        return None
    return transpose(x.args[0])


def diag_symmetric(x: MatrixExpr) -> MatrixExpr | None:
    """diag(v)ᵀ = diag(v)."""
    if x.op == "transpose" and _is_diag_matrix(x.args[0]):
        return x.args[0]
    return None


def diag_negation(x: MatrixExpr) -> MatrixExpr | None:
    """diag(−v) = −diag(v), the sign then meeting the product's: X'·diag(−v)·X·(−1) = X'·diag(v)·X."""
    if not _is_diag_matrix(x):
        return None
    v = x.args[0]
    if v.op == "negate":
        return negate_(call("diag", (v.args[0],), x.shape_class))
    if v.op == "hadamard" and any(f.op == "negate" for f in v.args):
        signs = sum(f.op == "negate" for f in v.args)
        inner = hadamard(*(f.args[0] if f.op == "negate" else f for f in v.args))
        flipped = call("diag", (inner,), x.shape_class)
        return negate_(flipped) if signs % 2 else flipped
    return None


def symmetric_part_order(x: MatrixExpr) -> MatrixExpr | None:
    """Aᵀ + A = A + Aᵀ: the plain term first, as the cookbook writes it."""
    if x.op == "sum" and len(x.args) == 2 and x.args[0] == transpose(x.args[1]) and x.args[0].op == "transpose":
        return MatrixExpr("sum", (x.args[1], x.args[0]), "", x.shape_class)
    return None


def diag_times_vector(x: MatrixExpr) -> MatrixExpr | None:
    """diag(v)·w = w ⊙ v, for any factors that multiply out to a column w."""
    return _diag_absorbed(x, after=True)


def vector_times_diag(x: MatrixExpr) -> MatrixExpr | None:
    """wᵀ·diag(v) = (w ⊙ v)ᵀ, for any factors that multiply out to a row wᵀ."""
    return _diag_absorbed(x, after=False)


def _diag_absorbed(x: MatrixExpr, *, after: bool) -> MatrixExpr | None:
    """A diag(v) in a product absorbed into the nearest run of factors on one side (``after`` it,
    or before it) that multiplies out to a vector: a column after it, a row before it. The run
    may pass over matrices only; the first vector it reaches decides."""
    if x.op != "product":
        return None
    t = summand_of(x)
    chain = list(t.chain)
    for i, f in enumerate(chain):
        if not _is_diag_matrix(f):
            continue
        for j in range(i + 1, len(chain)) if after else range(i - 1, -1, -1):
            start, stop = (i, j + 1) if after else (j, i + 1)  # the run and diag(v) together
            run = product(*(chain[i + 1:stop] if after else chain[start:i]))
            if run.shape_class == ("column" if after else "row"):
                absorbed = hadamard(run, f.args[0]) if after else transpose(hadamard(transpose(run), f.args[0]))
                return Summand(t.coefficient, t.scalars, tuple(chain[:start] + [absorbed] + chain[stop:])).build()
            if run.shape_class != "matrix":
                break
    return None


def hadamard_ones(x: MatrixExpr) -> MatrixExpr | None:
    """A ⊙ 1 = A."""
    if x.op != "hadamard":
        return None
    kept = [f for f in x.args if not is_call(f.args[0] if f.op == "transpose" else f, "ones")]
    if len(kept) == len(x.args) or not kept:
        return None
    return hadamard(*kept)


def diag_linear(x: MatrixExpr) -> MatrixExpr | None:
    """a·diag(u) + b·diag(v) = diag(a·u + b·v)."""
    if x.op != "sum":
        return None
    terms = [summand_of(t) for t in x.args]
    if not all(len(t.chain) == 1 and _is_diag_matrix(t.chain[0]) for t in terms):
        return None
    return call("diag", (total(*(Summand(t.coefficient, t.scalars, t.chain[0].args).build() for t in terms)),),
                "matrix")


def is_symmetric(x: MatrixExpr) -> bool:
    """Known to equal its transpose: diag(v), I, inv/powers of a symmetric matrix, XᵀX, A + Aᵀ, and
    an input assumed symmetric."""
    if x.shape_class == "scalar" or x.symmetric:
        return True
    if x.shape_class != "matrix":
        return False
    if x.op == "call":
        return x.name in ("diag", "eye") or (x.name in ("inv", "exp") and is_symmetric(x.args[0]))
    if x.op in ("product", "sum"):
        flipped = transpose(x)
        return flipped == x or (x.op == "sum" and sorted(map(repr, flipped.args)) == sorted(map(repr, x.args)))
    if x.op in ("negate", "hadamard"):
        return all(is_symmetric(a) for a in x.args)
    return False


def symmetric_transpose(x: MatrixExpr) -> MatrixExpr | None:
    """Sᵀ = S for a symmetric S (inv(XᵀX)ᵀ = inv(XᵀX))."""
    if x.op == "transpose" and is_symmetric(x.args[0]):
        return x.args[0]
    return None


def collect_terms(x: MatrixExpr) -> MatrixExpr | None:
    """a·T + b·T = (a + b)·T."""
    if x.op != "sum":
        return None
    collected: dict = {}
    for t in map(summand_of, x.args):
        base = Summand(1.0, t.scalars, t.chain)
        collected[base] = collected.get(base, 0.0) + t.coefficient
    if len(collected) == len(x.args) or not all(map(folds, collected.values())):
        return None
    kept = [Summand(c, b.scalars, b.chain).build() for b, c in collected.items() if c != 0.0]
    if kept:
        return total(*kept)
    # all cancel: a matrix of zeros keeps its shape (0*T), lest A*(T - T) print as the scalar 0*A
    return number(0.0) if x.shape_class == "scalar" else Summand(0.0, (), next(iter(collected)).chain).build()


def norm2_form(x: MatrixExpr) -> MatrixExpr | None:
    """sqrt(sum(x.^2)) = sqrt(x'*x) = norm2(x), the Euclidean (Frobenius) norm."""
    if not is_call(x, "sqrt"):
        return None
    inner = x.args[0]
    if is_call(inner, "sum") and inner.args[0].op == "power" and inner.args[0].args[1] == number(2.0):
        return call("norm2", (inner.args[0].args[0],), "scalar")
    if inner.op == "product" and len(inner.args) == 2 and inner.args[0].op == "transpose" and \
            inner.args[0].args[0] == inner.args[1]:
        return call("norm2", (inner.args[1],), "scalar")
    return None


def divide_by_scalar(x: MatrixExpr) -> MatrixExpr | None:
    """s⁻¹·A = A/s."""
    if x.op != "product":
        return None
    t = summand_of(x)
    factors = list(t.scalars) + (list(t.chain) if x.shape_class == "scalar" else [])
    divisor = next((f for f in factors if f.shape_class == "scalar" and (
        (f.op == "power" and f.args[1] == number(-1.0)) or (f.op == "quotient" and f.args[0] == number(1.0)))), None)
    if divisor is None:
        return None
    scalars = list(t.scalars)
    chain = list(t.chain)
    (scalars if divisor in scalars else chain).remove(divisor)
    by = divisor.args[1] if divisor.op == "quotient" else divisor.args[0]
    return MatrixExpr("quotient", (Summand(t.coefficient, tuple(scalars), tuple(chain)).build(), by), "", x.shape_class)


def reciprocal(x: MatrixExpr) -> MatrixExpr | None:
    """s⁻¹ = 1/s for a scalar standing alone (a bound constant such as 1/sqrt(d))."""
    if x.op == "power" and x.shape_class == "scalar" and x.args[1] == number(-1.0):
        return MatrixExpr("quotient", (number(1.0), x.args[0]), "", "scalar")
    return None


def kron_identities(x: MatrixExpr) -> MatrixExpr | None:
    """I_m ⊗ I_n = I_mn (sizes known)."""
    if not is_call(x, "kron") or not all(is_call(a, "eye") for a in x.args):
        return None
    sizes = [a.args[0].name for a in x.args]
    if not all(s.isdigit() for s in sizes):
        return None
    size = int(sizes[0]) * int(sizes[1])
    return call("eye", (MatrixExpr("leaf", (), str(size), "scalar"),), "matrix")


def kron_unit(x: MatrixExpr) -> MatrixExpr | None:
    """A ⊗ I₁ = I₁ ⊗ A = A: a Kronecker factor of size 1×1 (a unit axis) changes nothing."""
    if not is_call(x, "kron"):
        return None
    unit = [a for a in x.args if is_call(a, "eye") and a.args[0].name == "1"]
    if not unit:
        return None
    return x.args[1] if x.args[0] in unit else x.args[0]


def kron_scalar(x: MatrixExpr) -> MatrixExpr | None:
    """(cA) ⊗ B = A ⊗ (cB) = c(A ⊗ B), for a number or scalar factor c."""
    if not is_call(x, "kron"):
        return None
    parts = [summand_of(a) for a in x.args]
    if all(p.coefficient == 1.0 and not p.scalars for p in parts):
        return None
    coefficient = parts[0].coefficient * parts[1].coefficient
    if not folds(coefficient):
        return None
    scalars = parts[0].scalars + parts[1].scalars
    if any(not p.chain for p in parts):
        return None
    bare = [product(*p.chain) for p in parts]
    return product(number(coefficient), *scalars, call("kron", tuple(bare), "matrix"))


# name                       identity (see each docstring)
RULES: tuple[Rule, ...] = (
    Rule("diag-symmetric",        diag_symmetric),         # diag(v)ᵀ = diag(v)
    Rule("diag-negation",         diag_negation),          # diag(−v) = −diag(v)
    Rule("hadamard-ones",         hadamard_ones),          # A ⊙ 1 = A
    Rule("factor-scalar",         factor_scalar),          # cA + cB = c(A + B)
    Rule("factor-left",           factor_left),            # AB + AC = A(B + C)
    Rule("factor-right",          factor_right),           # BA + CA = (B + C)A
    Rule("factor-hadamard",       factor_hadamard),        # a⊙b + a⊙c = a⊙(b + c)
    Rule("pull-negation",         pull_negation),          # −A − B = −(A + B)
    Rule("transpose-sum",         transpose_sum),          # (A + B)ᵀ = Aᵀ + Bᵀ
    Rule("transpose-product",     transpose_product),      # (AB)ᵀ = BᵀAᵀ
    Rule("symmetric-part-order",  symmetric_part_order),   # Aᵀ + A = A + Aᵀ
    Rule("diag-times-vector",     diag_times_vector),      # diag(v)w = w ⊙ v
    Rule("vector-times-diag",     vector_times_diag),      # wᵀdiag(v) = (w ⊙ v)ᵀ
    Rule("diag-linear",           diag_linear),            # a·diag(u) + b·diag(v) = diag(a·u + b·v)
    Rule("symmetric-transpose",   symmetric_transpose),    # Sᵀ = S for symmetric S
    Rule("collect-terms",         collect_terms),          # aT + bT = (a + b)T
    Rule("norm2",                 norm2_form),             # sqrt(sum(x.^2)) = norm2(x)
    Rule("divide-by-scalar",      divide_by_scalar),       # s⁻¹A = A/s
    Rule("reciprocal",            reciprocal),             # s⁻¹ = 1/s
    Rule("kron-identities",       kron_identities),        # I ⊗ I = I
    Rule("kron-scalar",           kron_scalar),            # (cA) ⊗ B = c(A ⊗ B)
    Rule("kron-unit",             kron_unit),              # A ⊗ I₁ = A
    *ALGEBRA,                                              # matdiff.notation.algebra
    *LAYERS,                                               # matdiff.notation.layers: sum(X, 2), W*X + b
)

RULE_NAMES = {rule.name: rule for rule in RULES}


# ----- applying the table ---------------------------------------------------------------------


def rebuild(x: MatrixExpr, args: tuple) -> MatrixExpr:
    """The same node over new children, through the normalising constructors."""
    if args == x.args:
        return x
    op = x.op
    if op == "product":
        return product(*args)
    if op == "hadamard":
        return hadamard(*args)
    if op == "sum":
        return total(*args)
    if op == "negate":
        return negate_(args[0])
    if op == "transpose":
        return transpose(args[0])
    if op == "call":
        return call(x.name, args, x.shape_class)
    return MatrixExpr(op, args, x.name, x.shape_class, x.value)


def without_transposes(x: MatrixExpr, symmetric: set) -> MatrixExpr:
    """x with Sᵀ replaced by S for the names in ``symmetric`` (bound symmetric matrices)."""
    if x.op == "transpose" and x.args[0].op == "leaf" and x.args[0].name in symmetric:
        return x.args[0]
    return rebuild(x, tuple(without_transposes(a, symmetric) for a in x.args))


def compact(x: MatrixExpr, *, rounds: int = 8) -> MatrixExpr:
    """The cheapest form the rules reach: children first, then the rules at the root,
    taking any rewrite that does not lengthen the text (never one seen before), until
    none applies."""
    memo: dict[int, MatrixExpr] = {}
    shown: dict[int, str] = {}  # text of each node seen, by id
    costs: dict[int, float] = {}  # cost of each node seen, by id
    alive: list[MatrixExpr] = []  # keeps every node seen alive, so ids in the memos stay unique

    def show(y: MatrixExpr) -> str:
        alive.append(y)
        return text(y, shown)

    def settle(y: MatrixExpr) -> MatrixExpr:
        """y with its children compacted; constructors may restructure it, so repeat."""
        for _ in range(rounds):
            new = rebuild(y, tuple(visit(a) for a in y.args))
            if new == y:
                return new
            y = new
        return y

    def visit(y: MatrixExpr) -> MatrixExpr:
        key = id(y)
        if key in memo:
            return memo[key]
        alive.append(y)
        best = settle(y)
        best_cost = cost(best, costs)
        seen = {show(best)}
        for _ in range(rounds):
            improved = False
            for rule in RULES:
                candidate = rule.apply(best)
                if candidate is None:
                    continue
                candidate = settle(candidate)
                printed = show(candidate)
                if printed in seen:
                    continue
                seen.add(printed)
                candidate_cost = cost(candidate, costs)
                if candidate_cost <= best_cost:
                    best, best_cost, improved = candidate, candidate_cost, True
                    break
            if not improved:
                break
        memo[key] = best
        memo[id(best)] = best
        alive.append(best)
        return best

    return visit(x)


__all__ = ["RULES", "RULE_NAMES", "Rule", "Summand", "compact", "cost", "is_symmetric", "rebuild", "summand_of", "text_cost",
           "tokens", "without_transposes"]
