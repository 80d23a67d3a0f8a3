"""What assumed structure (symmetric, spd, diagonal, positive) makes true of IR nodes, and the rewrites it allows.

:class:`Structured` answers, for any node, whether the assumptions make it symmetric,
diagonal or entrywise positive: S and inv(S) for an assumed-symmetric S, and what the
algebra below carries over (sums, scalings, inverses …), nothing that holds regardless. The simplifier applies the
tables :data:`CONTRACTION_RULES` and :data:`NODE_RULES` with it, after differentiation only: the default derivative with
respect to a structured input is the unconstrained one of the expression as written,
and a rewrite such as S' → S changes that (∂tr(A*S')/∂S = A, ∂tr(A*S)/∂S = A').

Most of what a textbook does with a symmetric S falls out of one rule, that an operand
S_ji may be read S_ij: then S' is S, S'*x + S*x is 2*S*x, inv(S)' is inv(S) (so
∂log det(S)/∂S = inv(S)) and ∂(x'*inv(S)*x)/∂x = 2*inv(S)*x.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from matdiff.engine.rules import Rule, first_rewrite
from matdiff.engine.ir import Tensor, add, apply, const, einsum, eye, scale
from matdiff.engine.functions import FUNCTIONS
from matdiff.engine.primitives import is_elementwise
from matdiff.language.assumptions import Assumptions



class Structured:
    """Memoised structural facts about nodes under ``assume``."""

    def __init__(self, assume: Assumptions):
        self.assume = assume
        self._memo: dict[tuple[str, int], tuple[Tensor, bool]] = {}  # the node is kept so its id stays its own

    def _cached(self, fact: str, node: Tensor, compute: Callable[[Tensor], bool]) -> bool:
        key = (fact, id(node))
        if key not in self._memo:
            self._memo[key] = (node, compute(node))
        return self._memo[key][1]

    def symmetric(self, node: Tensor) -> bool:
        """node = nodeᵀ: an assumed-symmetric input, I, and inverses, sums, scalings, Hadamard
        products and elementwise functions of symmetric matrices."""
        return node.rank == 2 and self._cached("symmetric", node, lambda n: self._kept(
            n, self.symmetric, self.assume.symmetric, elementwise=True))

    def diagonal(self, node: Tensor) -> bool:
        """Zero off the diagonal: an assumed-diagonal input, I, and inverses, sums, scalings and
        Hadamard products of diagonal matrices."""
        return node.rank == 2 and self._cached("diagonal", node, lambda n: self._kept(
            n, self.diagonal, self.assume.diagonal, elementwise=False))

    @staticmethod
    def _kept(node: Tensor, fact: Callable[[Tensor], bool], assumed: Callable[[str], bool], *,
              elementwise: bool) -> bool:
        """Whether ``node`` has a structure that inverses, sums and entrywise products keep."""
        if node.op == "var":
            return assumed(node.params[0])
        if node.op == "eye":
            return True
        if node.op in ("inv", "add") or (elementwise and is_elementwise(node.op)):
            return all(fact(a) for a in node.args)
        if node.op == "einsum":
            output = tuple(node.params[1])
            return all(a.rank == 0 or (labels in (output, output[::-1]) and fact(a))
                       for a, labels in zip(node.args, node.params[0]))
        return False

    def sums_to_one(self, node: Tensor) -> str:
        """"columns" or "rows" for an input assumed one-hot that way, else ""."""
        return self.assume.sums_to_one(node.params[0]) if node.op == "var" else ""

    def positive(self, node: Tensor) -> bool:
        """Every entry > 0: assumed-positive inputs, positive constants, the functions whose record
        says ``positive`` (exp, sigmoid, …) of anything, and sums, products, powers, roots of positive
        values."""
        return self._cached("positive", node, self._positive)

    def _positive(self, node: Tensor) -> bool:
        if node.op == "var":
            return self.assume.positive(node.params[0])
        if node.op == "const":
            return node.params[0] > 0
        if node.op in FUNCTIONS and FUNCTIONS[node.op].positive:  # exp, sigmoid, softmax, … of anything
            return True
        if node.op in ("constant_power", "power", "sqrt"):
            return self.positive(node.args[0])
        if node.op in ("einsum", "add"):
            return all(self.positive(a) for a in node.args)
        return False


# ----- the rules ------------------------------------------------------------------------------
# Contraction rules see an einsum's output labels and (operand, labels) pairs and return new
# pairs; node rules see one elementwise node and return an equal node or None.


def symmetric_operand(output: tuple, operands: list, facts: Structured) -> list:
    """S_ji = S_ij for a symmetric S: its two labels are put in the order their indices first
    appear, so S'*x and S*x are one contraction (and S' is S)."""
    rank: dict = {}
    for label in output:
        rank.setdefault(label, len(rank))
    ordered = []
    for node, labels in operands:
        if len(labels) == 2 and labels[0] != labels[1] and facts.symmetric(node):
            labels = tuple(sorted(labels, key=lambda label: (rank.get(label, len(rank) + labels.index(label)))))
        for label in labels:
            rank.setdefault(label, len(rank))
        ordered.append((node, labels))
    return ordered


def diagonal_operand(output: tuple, operands: list, facts: Structured) -> list:
    """D_ij = D_ii·δ_ij for a diagonal D, where i or j is summed: D*x is diag(D).*x."""
    kept = []
    for node, labels in operands:
        if len(labels) == 2 and labels[0] != labels[1] and facts.diagonal(node) and not set(labels) <= set(output):
            entries = einsum(("i",), (node, ("i", "i")))
            kept.extend([(entries, labels[:1]), (eye(node.shape[0]), labels)])
        else:
            kept.append((node, labels))
    return kept


def summed_to_one(output: tuple, operands: list, facts: Structured) -> list:
    """Σ_i Y_ij = 1 for Y whose columns sum to 1 (``onehot``), Σ_j Y_ij = 1 for rows: where Y's
    index down the columns is summed and nothing else carries it, Y is a vector of ones along the
    other. So the softmax cross-entropy's gradient ``(S.*sum(Y, 1) - Y)*X'`` is ``(S - Y)*X'``."""
    kept = []
    for k, (node, labels) in enumerate(operands):
        along = facts.sums_to_one(node)
        if along and len(labels) == len(node.shape):
            summed = labels[0] if along == "columns" else labels[-1]
            others = {x for j, (_, ls) in enumerate(operands) if j != k for x in ls}
            if summed not in output and summed not in others and labels.count(summed) == 1:
                rest = [(label, size) for label, size in zip(labels, node.shape) if label != summed]
                kept.append((const(1.0, tuple(size for _, size in rest)), tuple(label for label, _ in rest)))
                continue
        kept.append((node, labels))
    return kept


def _when_positive(node: Tensor) -> str:
    return FUNCTIONS[node.op].when_positive if node.op in FUNCTIONS else ""


def positive_abs(node: Tensor, facts: Structured) -> Tensor | None:
    """|x| = x for x > 0, and every function whose record says the same (the rectifier)."""
    return node.args[0] if _when_positive(node) == "x" and facts.positive(node.args[0]) else None


def positive_sign(node: Tensor, facts: Structured) -> Tensor | None:
    """sign(x) = 1 for x > 0, and every function whose record says the same (step: the derivatives of
    the functions :func:`positive_abs` simplifies)."""
    return const(1.0, node.shape) if _when_positive(node) == "1" and facts.positive(node.args[0]) else None


def positive_root_of_power(node: Tensor, facts: Structured) -> Tensor | None:
    """sqrt(x.^a) = x.^(a/2) and (x.^a).^b = x.^(ab) for x > 0 (any real a, b)."""
    outer = node.params[0] if node.op == "constant_power" else FUNCTIONS[node.op].power if node.op in FUNCTIONS \
        else None  # sqrt's record says x^0.5
    if outer is None or node.args[0].op != "constant_power":
        return None
    inner = node.args[0]
    if not facts.positive(inner.args[0]):
        return None
    return apply("constant_power", inner.args[0], inner.params[0] * outer)


def positive_exp_log(node: Tensor, facts: Structured) -> Tensor | None:
    """exp(log(x)) = x for x > 0."""
    if node.op == "exp" and node.args[0].op == "log" and facts.positive(node.args[0].args[0]):
        return node.args[0].args[0]
    return None


# Rules on a contraction's operands: apply(output, operands, facts) -> the operands rewritten.
# name                            rule                    side condition     identity
CONTRACTION_RULES: tuple[Rule, ...] = (
    Rule("diagonal-operand",        diagonal_operand,       "D diagonal"),     # D_ij = D_ii δ_ij
    Rule("symmetric-operand",       symmetric_operand,      "S symmetric"),    # S_ji = S_ij
    Rule("summed-to-one",           summed_to_one,          "Y one-hot"),      # Σ_i Y_ij = 1
)
# Rules on a node: apply(node, facts) -> an equal node, or None.
NODE_RULES: tuple[Rule, ...] = (
    Rule("positive-abs",            positive_abs,           "x > 0"),          # |x| = x
    Rule("positive-sign",           positive_sign,          "x > 0"),          # sign(x) = 1
    Rule("positive-root-of-power",  positive_root_of_power, "x > 0"),          # sqrt(x.^2) = x
    Rule("positive-exp-log",        positive_exp_log,       "x > 0"),          # exp(log(x)) = x
)

RULE_NAMES = {rule.name: rule for rule in CONTRACTION_RULES + NODE_RULES}


def rewrite_node(node: Tensor, facts: Structured) -> Tensor:
    """``node`` after the node rules, each applied while one fires."""
    changed = True
    while changed:
        changed = False
        new = first_rewrite(NODE_RULES, node, facts)
        if new is not None:
            node, changed = new, True
    return node


# ----- derivatives with respect to a structured matrix ------------------------------------------

@dataclass(frozen=True)
class Convention:
    """What the derivative by a structured matrix means, given G = ∂f/∂X_ij with every entry free."""

    formula: str
    meaning: str
    when: str  # when it is the right one, in a line


CONVENTIONS: dict[str, Convention] = {
    "unconstrained": Convention("G", "every entry independent, as autodiff returns",
                                "every entry is its own variable (autodiff; f also used off the structure)"),
    "symmetric":     Convention("(G + G')/2", "the gradient within symmetric matrices",
                                "steps must stay symmetric (<grad, dS> = df for every symmetric dS)"),
    "cookbook":      Convention("G + G' - G∘I", "the derivative by the n(n+1)/2 free entries (the Matrix "
                                "Cookbook's 2G - G∘I)",
                                "the free entries vech(S) are the parameters (not a gradient for <A, B> = tr(A'B))"),
}


def in_convention(jacobian: Tensor, axis: int, convention: str, *, diagonal: bool = False) -> Tensor:
    """The derivative by the matrix whose axes are ``axis``, ``axis + 1`` of ``jacobian`` in ``convention``.

    Within diagonal matrices both non-trivial conventions keep the diagonal alone (G∘I)."""
    if convention == "unconstrained":
        return jacobian
    labels = tuple(range(jacobian.rank))
    swapped = list(labels)
    swapped[axis], swapped[axis + 1] = swapped[axis + 1], swapped[axis]
    on_diagonal = einsum(labels, (jacobian, labels), (eye(jacobian.shape[axis]), labels[axis:axis + 2]))
    if diagonal:
        return on_diagonal
    flipped = einsum(labels, (jacobian, tuple(swapped)))
    if convention == "symmetric":
        return add(scale(0.5, jacobian), scale(0.5, flipped))
    return add(jacobian, flipped, scale(-1.0, on_diagonal))
