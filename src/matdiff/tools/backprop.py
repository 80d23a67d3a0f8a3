"""The backprop view: gradients of a scalar loss, one statement at a time, in the user's names.

Reverse mode as a textbook writes it. For each statement ``s = f(…, n, …)`` of a
program, the gradient of the loss flows back to ``n`` as a vector-Jacobian
product: ∂L/∂n = Σ over s's indices of ∂L/∂s · ∂s/∂n. Writing ∂L/∂s as a name
of its own (``ds``, or ``G`` for the output of an expression that is not itself
a scalar) turns every such product into a short matrix formula:

    C = A*B     ∂L/∂B = A'*G,   ∂L/∂A = G*B'     (G = ∂L/∂C)
    a = σ(z)    ∂L/∂z = da.*a.*(1 - a)           (a diagonal Jacobian: a Hadamard product)

— although ∂C/∂B itself is a fourth-order tensor, A[i,k]·δ[j,l], that is never
built. Every gradient has the shape of its variable (the gradient layout).

This module builds on the engine (lowering, differentiate, simplify, the
printers) and must not change it; it prints nothing itself (see report.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from matdiff.engine import ir
from matdiff.notation.bindings import matrix_text
from matdiff.notation.naming import fresh, preactivation_name
from matdiff.notation.forms import output_name
from matdiff.engine.differentiate import jacobian
from matdiff.notation.indexform import index_notation
from matdiff.engine.lowering import Lowered
from matdiff.engine.values import Value
from matdiff.engine.functions import FUNCTIONS
from matdiff.engine.primitives import is_elementwise, reapply, substitute
from matdiff.notation.report import INTERNAL, Line, Printable
from matdiff.language.shapes import shape_text
from matdiff.engine.simplify import simplify
from matdiff.language.assumptions import Assumptions

LETTERS = "ijklmnpqrstuvw"


def surface_text(value: Value) -> str:
    """The shape as the language sees it: a column n×1, a row 1×n, a matrix a×b."""
    surface = value.surface()
    if len(surface) == 1:
        return f"{surface[0]}×1"
    return shape_text(surface)


def fresh_name(preferred: str, taken: set) -> str:
    """preferred, or preferred_2, … — the first name not taken (and now taken)."""
    return fresh(preferred, taken, separator="_")


def matrix_form(node: ir.Tensor, assume: Assumptions = Assumptions()) -> str | None:
    """Matrix notation of a rank ≤ 2 tensor, rewritten as ``diff`` rewrites its answer; None where
    there is none (S' is S for S assumed symmetric)."""
    return matrix_text(node, frozenset(name for name in assume.names if assume.symmetric(name)))


def is_diagonal_jacobian(statement: ir.Tensor) -> bool:
    return is_elementwise(statement.op)


@dataclass(frozen=True)
class NamedProgram:
    """A lowered program with each statement written over the names of the earlier ones."""

    names: tuple[str, ...]  # assigned names, in order, then the output's name
    local: dict  # name -> IR of its right-hand side over var(name) of earlier names
    values: dict  # name -> Value (the full IR, its surface kind)
    inputs: dict  # input name -> Value
    output: str  # the name given to the program's value
    arguments: dict = field(default_factory=dict)  # z3 -> a3 for each argument named here


def name_program(lowered: Lowered, output: str | None = None) -> NamedProgram:
    """Each assignment's IR with earlier assignments replaced by variables of their names.

    The argument of an activation the user did not name (``a3 = sigmoid(W3*a2)``) becomes a
    statement of its own, ``z3 = W3*a2``, so that the delta ∂L/∂z3 is ``dz3`` here as in the
    answer and in ``grads`` (:func:`matdiff.notation.naming.preactivation_name`)."""
    scalar = ir.is_all_ones(lowered.value.node.shape)
    output = output or output_name(lowered, "L" if scalar else None)
    taken = set(lowered.assigned) | set(lowered.variables) | {output}
    replacements: dict[int, ir.Tensor] = {}
    local, values, arguments = {}, {}, {}

    def bind(name: str, value: Value) -> None:
        node = substitute(value.node, replacements) if replacements else value.node
        if _is_activation(node) and node.args[0].op != "var":
            argument = fresh_name(preactivation_name(name), taken)
            local[argument] = node.args[0]
            values[argument] = Value(value.node.args[0], value.row)
            arguments[argument] = name
            node = reapply(node, [ir.var(argument, node.args[0].shape)])
        local[name] = node
        values[name] = value

    for name, value in lowered.assigned.items():
        if name == output and value.node is lowered.value.node:
            continue  # the program's last statement names its value: that name is the output's
        if id(value.node) in replacements or value.node.op == "var":
            continue  # an alias (z = x) or a repeat: the earlier name stands for it
        bind(name, value)
        replacements[id(value.node)] = ir.var(name, value.node.shape)
    bind(output, lowered.value)
    return NamedProgram(tuple(local), local, values, dict(lowered.variables), output, arguments)


def _is_activation(node: ir.Tensor) -> bool:
    return node.op in FUNCTIONS and FUNCTIONS[node.op].activation and len(node.args) == 1


@dataclass(frozen=True)
class Contribution:
    """One contribution ∂L/∂n ← ds · ∂s/∂n through statement s."""

    through: str  # the statement s
    order: int  # order of the Jacobian ∂s/∂n
    jacobian_shape: tuple
    jacobian_index: str  # ∂s[i]/∂n[j,k] = …
    diagonal: bool  # s is an elementwise function of n
    function: str | None = None  # that function's name ("sigmoid"), when it has one


@dataclass(frozen=True, repr=False)
class Gradient:
    """∂L/∂name, the shape of name, in matrix form over the downstream gradients' symbols."""

    name: str
    symbol: str  # "dz3", or "G"
    kind: str  # "output", "delta" (an intermediate) or "gradient" (an input)
    shape: str  # e.g. "2×1"
    formula: str | None
    index: str
    terms: tuple[Contribution, ...]
    node: ir.Tensor = field(compare=False, metadata=INTERNAL)  # the formula's IR (over names and symbols)

    def __repr__(self) -> str:
        return f"<Gradient {self.symbol} = ∂L/∂{self.name} ({self.shape}): {self.formula or self.index}>"


@dataclass(frozen=True, repr=False)
class Backprop(Printable):
    """Reverse mode in the user's names: each intermediate's delta and each input's gradient."""

    loss: str  # the scalar being differentiated: "L", or "L(Y)" for a non-scalar output Y
    output: str
    seed: Gradient | None  # G = ∂L/∂Y when the output is not a scalar
    deltas: tuple[Gradient, ...]  # intermediates, from the output back to the inputs
    gradients: tuple[Gradient, ...]  # the inputs
    order: tuple[Gradient, ...]  # all of them in the order backprop computes them
    wanted: tuple[str, ...] = ()  # the variables differentiated by: the printed view shows their way back
    arguments: dict = field(default_factory=dict)  # "z3" -> ("W3*a2", "a3", "sigmoid"): arguments named here
    verbose: bool = False  # print where each contribution comes from

    @property
    def shown(self) -> tuple[Gradient, ...]:
        """The gradients of the wanted variables and the deltas they are computed from (all of
        them when none is wanted): not the gradients of data such as x and y."""
        if not self.wanted:
            return self.order
        by_symbol = {entry.symbol: entry for entry in self.order}
        needed: set[str] = set()
        pending = [entry.symbol for entry in self.order if entry.name in self.wanted]
        while pending:
            symbol = pending.pop()
            if symbol in by_symbol and symbol not in needed:
                needed.add(symbol)
                pending.extend(ir.variables(by_symbol[symbol].node))
        return tuple(entry for entry in self.order if entry.symbol in needed)

    def gradient(self, name: str) -> Gradient:
        for entry in self.order:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def __repr__(self) -> str:
        return "<Backprop " + "; ".join(f"{g.symbol} = {g.formula or '…'}" for g in self.order) + ">"

    def lines(self) -> list[Line]:
        shown = self.shown
        if not shown:
            return []
        lines = [Line("Backprop: reverse mode, one statement at a time", "heading")]
        if self.seed is not None:
            lines.append(Line(f"{self.output} is {self.seed.shape}, not a scalar: take any scalar loss "
                              f"L({self.output}) and call G = ∂L/∂{self.output} ({self.seed.shape}).", indent=2))
        else:
            lines.append(Line(f"{self.loss} is a scalar; d<name> = ∂{self.loss}/∂<name> has the shape of <name> "
                              "(the gradient layout).", indent=2))
        for entry in shown:
            lines.append(Line(f"{entry.symbol} = ∂{self.loss}/∂{entry.name}   {entry.shape}   = "
                              f"{entry.formula if entry.formula is not None else entry.index}", "formula", 2))
            if entry.name in self.arguments:
                formula, activation, function = self.arguments[entry.name]
                lines.append(Line(f"where {entry.name} = {formula}, the argument of {function} in {activation}",
                                  "note", 6))
            if self.verbose:
                lines.extend(Line(_term_note(self, entry, term), "note", 6) for term in entry.terms)
        return lines


def _term_note(backprop: Backprop, entry: Gradient, term: Contribution) -> str:
    source = "G" if term.through == backprop.output and backprop.seed is not None else f"d{term.through}"
    if term.through == backprop.output and backprop.seed is None:
        return f"from {term.through}: ∂{term.through}/∂{entry.name} directly"
    if term.diagonal:
        how = f"{term.through} = {term.function}({entry.name})" if term.function else term.through
        return (f"from {how}, elementwise: ∂{term.through}/∂{entry.name} is diagonal, "
                f"so {source} times it is a Hadamard product")
    return (f"from {term.through}: {source} contracted with ∂{term.through}/∂{entry.name} "
            f"(order {term.order}: {term.jacobian_index}) over {term.through}'s indices")


def backprop(lowered: Lowered, output: str | None = None, assume: Assumptions = Assumptions(), *,
             wanted: tuple[str, ...] = (), verbose: bool = False) -> Backprop:
    """The backprop view of a lowered program (its value need not be a scalar: then G = ∂L/∂Y);
    each total uses the structure ``assume`` gives the inputs. Its printed view shows the way back
    to the ``wanted`` variables (all when none), with each contribution's source when ``verbose``."""
    program = name_program(lowered, output)
    taken = set(program.names) | set(program.inputs)
    y = program.local[program.output]
    scalar = ir.is_all_ones(y.shape)
    symbols: dict[str, ir.Tensor] = {}  # name -> var of its gradient symbol
    entries: dict[str, Gradient] = {}
    seed = None
    if scalar:
        symbols[program.output] = ir.const(1.0, y.shape)
    else:
        g = fresh_name("G", taken)
        symbols[program.output] = ir.var(g, y.shape)
        index = f"G[{','.join(LETTERS[:y.rank])}] = ∂L/∂{program.output}[{','.join(LETTERS[:y.rank])}]"
        seed = Gradient(program.output, g, "output", surface_text(program.values[program.output]), g, index, (),
                        symbols[program.output])
    back_substitution = {id(node): ir.var(name, node.shape) for name, node in program.local.items()}
    uses: dict[str, list[str]] = {}
    for name, node in program.local.items():
        for used in ir.variables(node):
            uses.setdefault(used, []).append(name)
    contributions: dict[str, list] = {}
    order: list[Gradient] = []
    done: set[str] = set()

    def finish(name: str, kind: str, value: Value) -> None:
        parts = contributions.pop(name, [])
        if not parts:
            return
        total = simplify(ir.add(*(node for node, _ in parts)), assume)
        if ir.is_zero(total):
            return
        symbol = fresh_name("d" + name, taken)
        symbols[name] = ir.var(symbol, total.shape)
        letters = list(LETTERS[:total.rank])
        entry = Gradient(name, symbol, kind, surface_text(value), matrix_form(total, assume),
                         f"{symbol}{_brackets(letters)} = {index_notation(total, letters)}",
                         tuple(term for _, term in parts), total)
        entries[name] = entry
        order.append(entry)

    for statement in reversed(program.names):
        done.add(statement)
        if statement != program.output:
            finish(statement, "delta", program.values[statement])
        if statement not in symbols:
            continue  # the loss does not depend on it
        node = program.local[statement]
        for used, variable in ir.variables(node).items():
            local = simplify(jacobian(node, variable))
            local = substitute(local, back_substitution) if back_substitution else local
            rank_s, rank_n = node.rank, variable.rank
            s_labels = list(range(rank_s))
            n_labels = list(range(rank_s, rank_s + rank_n))
            product = simplify(ir.einsum(n_labels, (symbols[statement], s_labels), (local, s_labels + n_labels)))
            product = substitute(product, back_substitution) if back_substitution else product
            letters = list(LETTERS[:rank_s + rank_n])
            term = Contribution(statement, rank_s + rank_n, local.shape,
                        f"∂{statement}{_brackets(letters[:rank_s])}/∂{used}{_brackets(letters[rank_s:])} = "
                        f"{index_notation(local, letters)}",
                        is_diagonal_jacobian(node) and node.args[0] is variable,
                        node.op if node.op in FUNCTIONS else None)
            contributions.setdefault(used, []).append((product, term))
        for name in program.inputs:  # an input is done once every statement using it is
            if name in contributions and all(s in done for s in uses.get(name, [])):
                finish(name, "gradient", program.inputs[name])
    deltas = tuple(e for e in order if e.kind == "delta")
    gradients = tuple(e for e in order if e.kind == "gradient")
    loss = "L"
    if scalar and program.output != "L":
        loss = program.output
    arguments = {name: _argument(program, name, assume) for name in program.arguments}
    return Backprop(loss, program.output, seed, deltas, gradients, tuple(order), wanted, arguments, verbose)


def _argument(program: NamedProgram, name: str, assume: Assumptions) -> tuple[str, str, str]:
    """(W3*a2, a3, sigmoid): how an argument named here is computed, and where it is used."""
    activation = program.arguments[name]
    return matrix_form(program.local[name], assume) or name, activation, program.local[activation].op


def _brackets(letters) -> str:
    return f"[{','.join(letters)}]" if letters else ""
