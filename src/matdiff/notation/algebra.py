"""More rules of the rewrite table: Kronecker products, diagonals, constants and inverses.

Each function is one identity of matrix algebra, stated in its docstring, on one node of
the matrix tree; it returns an equal node or None. :data:`RULES` lists them by name, and
:mod:`matdiff.notation.rewrite` appends them to its table, where :func:`compact` applies
each one that does not lengthen the printed form.
"""

from __future__ import annotations

from collections.abc import Callable

from matdiff.engine.rules import Rule
from matdiff.notation.layers import repeated
from matdiff.notation.summands import Summand, summand_of
from matdiff.notation.mtree import MatrixExpr, call, hadamard, is_call, leaf, matrix_power, number, product, total, transpose


def _is_ones(x: MatrixExpr) -> bool:
    return is_call(x.args[0] if x.op == "transpose" else x, "ones")


def kron_sum(x: MatrixExpr) -> MatrixExpr | None:
    """kron(A, B) + kron(A, C) = kron(A, B + C) and kron(B, A) + kron(C, A) = kron(B + C, A)."""
    if x.op != "sum":
        return None
    terms = [summand_of(t) for t in x.args]
    for i, first in enumerate(terms):
        for j in range(i + 1, len(terms)):
            second = terms[j]
            if len(first.chain) != 1 or len(second.chain) != 1 or first.scalars or second.scalars:
                continue
            a, b = first.chain[0], second.chain[0]
            if not (is_call(a, "kron") and is_call(b, "kron")):
                continue
            for shared in (0, 1):
                if a.args[shared] == b.args[shared]:
                    other = 1 - shared
                    merged = total(product(number(first.coefficient), a.args[other]),
                                   product(number(second.coefficient), b.args[other]))
                    parts = [a.args[shared], merged] if shared == 0 else [merged, a.args[shared]]
                    rest = [t.build() for k, t in enumerate(terms) if k not in (i, j)]
                    return total(call("kron", tuple(parts), "matrix"), *rest)
    return None


def scaled_reciprocal(x: MatrixExpr) -> MatrixExpr | None:
    """c·(1 ./ A) = c ./ A, for a number c."""
    t = summand_of(x) if x.op == "product" else None
    if t is None or t.scalars or len(t.chain) != 1:
        return None
    (inner,) = t.chain
    if inner.op == "divide" and inner.args[0] == number(1.0):
        return MatrixExpr("divide", (number(t.coefficient), inner.args[1]), "./", inner.shape_class)
    return None


def hadamard_reciprocal(x: MatrixExpr) -> MatrixExpr | None:
    """A ⊙ (1 ./ B) = A ./ B, and A ⊙ (1 ./ b)ᵀ = A ./ bᵀ (a layer norm's G ./ s)."""
    if x.op != "hadamard":
        return None
    for k, f in enumerate(x.args):
        turned = f.op == "transpose"
        inner = f.args[0] if turned else f
        if inner.op == "divide" and len(inner.args) == 2 and inner.args[0] == number(1.0):
            rest = x.args[:k] + x.args[k + 1:]
            divisor = transpose(inner.args[1]) if turned else inner.args[1]
            return MatrixExpr("divide", (hadamard(*rest), divisor), "./", x.shape_class)
    return None


def inverse_of_inverse(x: MatrixExpr) -> MatrixExpr | None:
    """inv(inv(X)) = X."""
    if is_call(x, "inv") and is_call(x.args[0], "inv"):
        return x.args[0].args[0]
    return None


def inverse_cancels(x: MatrixExpr) -> MatrixExpr | None:
    """inv(P)·P = P·inv(P) = I, and so for their transposes, inside a chain of products."""
    return _neighbours(x, lambda a, b: [] if _inverse_pair(a, b) or _inverse_pair(b, a) else None)


def _inverse_pair(a: MatrixExpr, b: MatrixExpr) -> bool:
    """a = b^-k of the same base (inv(b), inv(c)' with b = c', X^-2 beside X^2)."""
    first, second = _as_power(a), _as_power(b)
    return first is not None and second is not None and first[0] == second[0] and first[1] + second[1] == 0


def hadamard_coefficient(x: MatrixExpr) -> MatrixExpr | None:
    """u ⊙ (c·v) = c·(u ⊙ v): a number or a sign inside a factor of an elementwise product comes out
    to the front (x.*a.*(2*b) is 2*x.*a.*b)."""
    if x.op != "hadamard":
        return None
    coefficient, factors = 1.0, []
    for f in x.args:
        parts = summand_of(f)
        if parts.coefficient != 1.0 and (parts.chain or parts.scalars):
            coefficient *= parts.coefficient
            factors.append(Summand(1.0, parts.scalars, parts.chain).build())
        else:
            factors.append(f)
    return hadamard(product(number(coefficient), factors[0]), *factors[1:]) if coefficient != 1.0 else None


def combined_powers(x: MatrixExpr) -> MatrixExpr | None:
    """A^j·A^k = A^(j+k) for neighbours in a chain of products: A·A = A^2, inv(A)·A^3 = A^2, with
    inv(A) = A^-1 and (Aᵀ)^k = (A^k)ᵀ (a power of a square matrix, as books write it). Neighbours
    whose powers partly cancel go first (X'·X'·(X^-3)' is inv(X)', by way of (X^-2)'); a product
    whose powers cancel to I is :func:`inverse_cancels`'s."""
    if x.op != "product":
        return None
    t = summand_of(x)
    chain = list(t.chain)
    pairs = []
    for k in range(len(chain) - 1):
        first, second = _as_power(chain[k]), _as_power(chain[k + 1])
        if first is not None and second is not None and first[0] == second[0] and first[1] + second[1] != 0:
            pairs.append((first[1] * second[1] > 0, k, _power(first[0], first[1] + second[1])))
    if not pairs:
        return None
    _, k, merged = min(pairs, key=lambda pair: pair[:2])  # opposite signs (False) first
    return Summand(t.coefficient, t.scalars, tuple(chain[:k] + [merged] + chain[k + 2:])).build()


def _as_power(x: MatrixExpr) -> tuple[MatrixExpr, int] | None:
    """(A, k) for a square matrix's power x = A^k: A^k, inv(A) (k = -1), their transposes (of base
    Aᵀ), or A itself (k = 1)."""
    if x.shape_class != "matrix":
        return None
    if x.op == "transpose" and x.args[0].op in ("matpow", "call"):
        inner = _as_power(x.args[0])
        return None if inner is None else (transpose(inner[0]), inner[1])
    if x.op == "matpow":
        return x.args[0], int(x.args[1].value)
    if is_call(x, "inv"):
        return x.args[0], -1
    return x, 1


def _power(base: MatrixExpr, k: int) -> MatrixExpr:
    """A^k written as a book writes it: A, inv(A), A^k; of Aᵀ, the transpose of A's."""
    if base.op == "transpose":
        return transpose(_power(base.args[0], k))
    return base if k == 1 else call("inv", (base,), "matrix") if k == -1 else matrix_power(base, k)


def diag_product(x: MatrixExpr) -> MatrixExpr | None:
    """diag(u)·diag(v) = diag(u ⊙ v), for neighbours in a chain of products."""
    def merge(a: MatrixExpr, b: MatrixExpr) -> list[MatrixExpr] | None:
        if is_call(a, "diag") and is_call(b, "diag") and a.shape_class == b.shape_class == "matrix":
            return [call("diag", (hadamard(a.args[0], b.args[0]),), "matrix")]
        return None

    return _neighbours(x, merge)


def _neighbours(x: MatrixExpr, replace: Callable[[MatrixExpr, MatrixExpr], "list[MatrixExpr] | None"]) -> MatrixExpr | None:
    """The product x with the first two neighbouring factors that ``replace`` rewrites replaced by its
    factors (never all of them: an identity's size is not known here)."""
    if x.op != "product":
        return None
    t = summand_of(x)
    chain = list(t.chain)
    for k in range(len(chain) - 1):
        new = replace(chain[k], chain[k + 1])
        if new is not None:
            rest = chain[:k] + new + chain[k + 2:]
            return Summand(t.coefficient, t.scalars, tuple(rest)).build() if rest else None
    return None


def kron_mixed_product(x: MatrixExpr) -> MatrixExpr | None:
    """kron(I, B)·kron(I, D) = kron(I, B·D) and kron(A, I)·kron(C, I) = kron(A·C, I), for neighbours in
    a chain of products with the same identity (the product being defined, so are B·D and A·C)."""
    def merge(a: MatrixExpr, b: MatrixExpr) -> list[MatrixExpr] | None:
        if not (is_call(a, "kron") and is_call(b, "kron")):
            return None
        for side in (0, 1):
            if a.args[side] == b.args[side] and is_call(a.args[side], "eye"):
                inner = product(a.args[1 - side], b.args[1 - side])
                return [call("kron", (a.args[0], inner) if side == 0 else (inner, a.args[1]), "matrix")]
        return None

    return _neighbours(x, merge)


def ones_outer(x: MatrixExpr) -> MatrixExpr | None:
    """ones(m)·ones(n)ᵀ = ones(m)·ones(1, n) = ones(m, n), beside scalars only (c·sum(A)·1·1ᵀ too: in a
    longer chain, 1ᵀ·X is a column sum)."""
    if x.op != "product" or len(summand_of(x).chain) != 2:
        return None

    def merge(a: MatrixExpr, b: MatrixExpr) -> list[MatrixExpr] | None:
        if not (is_call(a, "ones") and len(a.args) == 1 and a.shape_class == "column"):
            return None
        if b.op == "transpose" and is_call(b.args[0], "ones") and len(b.args[0].args) == 1:
            return [call("ones", (a.args[0], b.args[0].args[0]), "matrix")]
        if is_call(b, "ones") and len(b.args) == 2 and b.args[0] == leaf("1", "scalar"):
            return [call("ones", (a.args[0], b.args[1]), "matrix")]
        return None

    return _neighbours(x, merge)


def ones_in_sum(x: MatrixExpr) -> MatrixExpr | None:
    """c·ones(m, n) + A = c + A (c a number or a scalar product): a constant matrix beside a matrix is a
    scalar that broadcasts. Only
    beside a term of the sum's full shape: beside a column (1 - v after expansion) the ones matrix is
    what keeps the sum m×n."""
    if x.op != "sum" or not any(t.shape_class == x.shape_class and not _is_ones(summand_of(t).chain[-1] if summand_of(t).chain else t)
                                for t in x.args):
        return None
    changed, terms = False, []
    for t in x.args:
        parts = summand_of(t)
        if len(parts.chain) == 1 and _is_ones(parts.chain[0]):
            terms.append(Summand(parts.coefficient, parts.scalars, ()).build())  # 2*b*ones(3, 3): 2*b
            changed = True
        else:
            terms.append(t)
    return total(*terms) if changed else None


def hadamard_scaled_ones(x: MatrixExpr) -> MatrixExpr | None:
    """(c·1) ⊙ A = c·A: a constant factor of an elementwise product is a scaling."""
    if x.op != "hadamard":
        return None
    coefficient, kept = 1.0, []
    for f in x.args:
        parts = summand_of(f)
        if len(parts.chain) == 1 and _is_ones(parts.chain[0]) and not parts.scalars:
            coefficient *= parts.coefficient
        else:
            kept.append(f)
    if len(kept) == len(x.args) or not kept:
        return None
    return product(number(coefficient), hadamard(*kept))


def sum_of_negation(x: MatrixExpr) -> MatrixExpr | None:
    """sum(-A) = -sum(A)."""
    if is_call(x, "sum") and x.args[0].op == "negate":
        return product(number(-1.0), call("sum", (x.args[0].args[0],), "scalar"))
    return None


def diag_distributes(x: MatrixExpr) -> MatrixExpr | None:
    """(A + B)·diag(v) = A·diag(v) + B·diag(v), where each term then shortens: I·diag(v) = diag(v),
    1ᵀ·diag(v) = vᵀ (so (I - s·1ᵀ)·diag(s) = diag(s) - s·sᵀ, the softmax Jacobian)."""
    def distribute(left: MatrixExpr, right: MatrixExpr) -> list[MatrixExpr] | None:
        if left.op != "sum" or not (is_call(right, "diag") and right.shape_class == "matrix"):
            return None
        if any(t.shape_class == "scalar" for t in left.args):  # (I - 3)·diag(v): the 3 is 3·1·1ᵀ, not 3·I
            return None
        terms = []
        for t in left.args:
            parts = summand_of(t)
            chain = list(parts.chain)
            if chain and _is_row_of_ones(chain[-1]):
                chain[-1] = MatrixExpr("transpose", (right.args[0],), "", "row")  # 1ᵀ·diag(v) = vᵀ
            else:
                chain.append(right)
            terms.append(Summand(parts.coefficient, parts.scalars, tuple(chain)).build())
        return [total(*terms)]

    return _neighbours(x, distribute)


def _is_row_of_ones(x: MatrixExpr) -> bool:
    """ones(n)' or ones(1, n)."""
    if x.op == "transpose":
        return is_call(x.args[0], "ones") and len(x.args[0].args) == 1
    return is_call(x, "ones") and len(x.args) == 2 and x.args[0] == leaf("1", "scalar")


def sum_of_ones(x: MatrixExpr) -> MatrixExpr | None:
    """sum(ones(n)) = n, sum(ones(m, n)) = m·n: a count, printed as the number it is."""
    if not (is_call(x, "sum") and len(x.args) == 1 and is_call(x.args[0], "ones")):
        return None
    count = 1.0
    for size in x.args[0].args:  # a size is a leaf "3" (from the IR) or a number (from text)
        if size.op == "leaf" and size.name.isdigit():
            count *= int(size.name)
        elif size.op == "number" and float(size.value).is_integer():
            count *= size.value
        else:
            return None
    return number(count)


def diag_of_ones(x: MatrixExpr) -> MatrixExpr | None:
    """diag(ones(n)) = eye(n)."""
    if is_call(x, "diag") and x.shape_class == "matrix" and is_call(x.args[0], "ones") and len(x.args[0].args) == 1:
        return call("eye", x.args[0].args, "matrix")
    return None


def dot_product(x: MatrixExpr) -> MatrixExpr | None:
    """sum(u ⊙ v) = uᵀv and sum(x.^2) = xᵀx for columns: the user's own inner product."""
    if not (is_call(x, "sum") and len(x.args) == 1):
        return None
    inner = x.args[0]
    if inner.op == "power" and inner.args[0].shape_class == "column" and inner.args[1] == number(2.0):
        u, v = inner.args[0], inner.args[0]
    elif inner.op == "hadamard" and len(inner.args) == 2 and all(a.shape_class == "column" for a in inner.args):
        u, v = inner.args
    else:
        return None
    return product(MatrixExpr("transpose", (u,), "", "row") if u.op != "transpose" else u.args[0], v)


def square_root_power(x: MatrixExpr) -> MatrixExpr | None:
    """s^0.5 = sqrt(s) and s^(-0.5) = 1/sqrt(s), for a scalar s (then sqrt(x'*x) is norm2(x))."""
    if x.op != "power" or x.shape_class != "scalar" or x.args[1].op != "number" or abs(x.args[1].value) != 0.5:
        return None
    root = call("sqrt", (x.args[0],), "scalar")
    return root if x.args[1].value > 0 else MatrixExpr("quotient", (number(1.0), root), "", "scalar")


def diag_of_repeated(x: MatrixExpr) -> MatrixExpr | None:
    """diag(u·1ᵀ + 1·vᵀ) = u + v: the diagonal of a repeated column (row) is that vector."""
    if not (is_call(x, "diag") and x.shape_class == "column" and x.args[0].shape_class == "matrix"):
        return None
    inner = x.args[0]
    vectors = []
    for term in inner.args if inner.op == "sum" else (inner,):
        v = repeated(term)
        if v is None or v.shape_class not in ("column", "row"):
            return None
        vectors.append(transpose(v) if v.shape_class == "row" else v)
    return total(*vectors)


def kron_transpose(x: MatrixExpr) -> MatrixExpr | None:
    """(A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ: (I ⊗ y)ᵀ = I ⊗ yᵀ."""
    if x.op != "transpose" or not is_call(x.args[0], "kron"):
        return None
    return call("kron", tuple(transpose(a) for a in x.args[0].args), "matrix")


# name                       identity (see each docstring)
RULES: tuple[Rule, ...] = (
    Rule("kron-sum",              kron_sum),               # A⊗B + A⊗C = A⊗(B + C)
    Rule("scaled-reciprocal",     scaled_reciprocal),      # c·(1 ./ A) = c ./ A
    Rule("hadamard-reciprocal",   hadamard_reciprocal),    # A ⊙ (1 ./ B) = A ./ B
    Rule("inverse-of-inverse",    inverse_of_inverse),     # inv(inv(X)) = X
    Rule("inverse-cancels",       inverse_cancels),        # inv(P)·P = I
    Rule("diag-product",          diag_product),           # diag(u)·diag(v) = diag(u ⊙ v)
    Rule("combined-powers",       combined_powers),        # A^j·A^k = A^(j+k), inv(A) = A^-1
    Rule("hadamard-coefficient",  hadamard_coefficient),   # u ⊙ (c·v) = c·(u ⊙ v)
    Rule("kron-mixed-product",    kron_mixed_product),     # kron(I, B)·kron(I, D) = kron(I, B·D)
    Rule("ones-outer",            ones_outer),             # 1ₘ·1ₙᵀ = ones(m, n)
    Rule("ones-in-sum",           ones_in_sum),            # c·1 + A = c + A
    Rule("hadamard-scaled-ones",  hadamard_scaled_ones),   # (c·1) ⊙ A = c·A
    Rule("sum-of-negation",       sum_of_negation),        # sum(-A) = -sum(A)
    Rule("sum-of-ones",           sum_of_ones),            # sum(ones(m, n)) = m·n
    Rule("diag-of-ones",          diag_of_ones),           # diag(1ₙ) = I
    Rule("dot-product",           dot_product),            # sum(u ⊙ v) = uᵀv
    Rule("square-root-power",     square_root_power),      # s^(-1/2) = 1/sqrt(s)
    Rule("diag-of-repeated",      diag_of_repeated),       # diag(u·1ᵀ + 1·vᵀ) = u + v
    Rule("kron-transpose",        kron_transpose),         # (A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ
    Rule("diag-distributes",      diag_distributes),       # (A + B)·diag(v) = A·diag(v) + B·diag(v)
)
