"""Shared subexpressions bound once: a derivative printed as a small program.

A network's gradient uses each activation several times (in the forward chain,
in σ' = a.*(1 - a)); printed inline, the text of a 32-layer gradient grows with
the square of the depth. Here every IR node that would be printed more than
once, and is worth a name, becomes an assignment printed once — named as in the
user's own program (``a2``) when it is one of its intermediates, else after its
function (``s`` for a sigmoid). After the rewrites of :mod:`matdiff.notation.rewrite`,
the backprop deltas (a Hadamard product of an incoming gradient with an
activation's derivative, used as a factor) are bound too, as ``dz3`` = ∂L/∂z3 for the
argument z3 of a3 (:func:`matdiff.notation.naming.preactivation_name`, the name ``explain``'s
backward pass gives it too), so a network's gradient reads as the textbook writes it::

    a2 = sigmoid(W2*x); a3 = sigmoid(W3*a2); dz3 = (a3 - y).*a3.*(1 - a3);
    dz2 = (W3'*dz3).*a2.*(1 - a2); dz2*x'

The program is re-parseable by ``md.evaluate`` with the caller's shapes; its size
is linear in the size of the IR.
"""

from __future__ import annotations

from dataclasses import dataclass

from matdiff.engine.ir import Tensor, postorder
from matdiff.engine.functions import FUNCTIONS
from matdiff.engine.simplify import simplify
from matdiff.language.assumptions import Assumptions
from matdiff.notation.identities import Normalizer
from matdiff.notation.naming import choose_names, fresh, layer_number, preactivation_name
from matdiff.notation.matrixform import Recovery
from matdiff.notation.orientation import oriented_bindings
from matdiff.notation.mtree import MatrixExpr, is_call, in_language, leaf
from matdiff.notation.printing import FORMS, cost, render
from matdiff.notation.rewrite import compact, is_symmetric, rebuild, without_transposes
from matdiff.notation.saturation import saturated
from matdiff.notation.usernames import transposed_user_names, with_user_chains
from matdiff.notation.slopes import slope
from matdiff.notation.summands import summand_of
from matdiff.notation.vecform import vec_form


@dataclass(frozen=True)
class MatrixProgram:
    """Assignments (name, body) in dependency order, then the value."""

    bindings: tuple
    value: MatrixExpr
    note: str | None = None  # how to read it, when that is not plain (the gradient transposed)

    def printed(self, form: str, result: str | None = None) -> str:
        """The program in a registered printed form (notation/printing.py); ``result`` names the value
        where the form writes it (LaTeX's last line, ``result = value``)."""
        spelling = FORMS[form]
        bindings = [(spelling.bound_name(name), render(body, spelling)) for name, body in self.bindings]
        return spelling.program(bindings, render(self.value, spelling), result)

    @property
    def text(self) -> str:
        return self.printed("text")

    @property
    def in_language(self) -> bool:
        """Whether :attr:`text` is in the input language (it holds no commutation matrix K)."""
        return all(in_language(x) for x in [body for _, body in self.bindings] + [self.value])

    def latex(self, result: str | None = None) -> str:
        """LaTeX; with assignments, an aligned block whose last line is ``result = value``."""
        return self.printed("latex", result)


@dataclass(frozen=True)
class SharedProgram:
    """Several values over one set of assignments (a backward pass: every gradient, computed once
    each, the forward activations and the deltas shared)."""

    bindings: tuple
    values: tuple  # one MatrixExpr per root, in the order of the roots

    def program(self, k: int) -> MatrixProgram:
        """Value ``k`` alone: the assignments it needs, in order, then the value."""
        needed = _needed(self.bindings, [self.values[k]])
        return MatrixProgram(tuple((n, b) for n, b in self.bindings if n in needed), self.values[k])

    def statements(self, names: list[str]) -> list[tuple[str, MatrixExpr]]:
        """The assignments with ``name_k = value_k`` placed right after the last one it needs, so
        the program reads in the order a backward pass computes."""
        pending = [(name, value, _needed(self.bindings, [value])) for name, value in zip(names, self.values)]
        placed: list[tuple[str, MatrixExpr]] = []
        done: set[str] = set()
        for binding in (None, *self.bindings):
            if binding is not None:
                placed.append(binding)
                done.add(binding[0])
            placed += [(name, value) for name, value, needs in pending if needs <= done]
            pending = [entry for entry in pending if not entry[2] <= done]
        return placed

    def printed(self, form: str, names: list[str], heads: dict | None = None) -> str:
        """The statements for ``names`` in a registered printed form; ``heads`` maps a value's name to
        its left-hand side in that form (LaTeX's ∂f/∂W_{2})."""
        spelling, heads = FORMS[form], heads or {}
        bindings = [(heads.get(name) or spelling.bound_name(name), render(body, spelling))
                    for name, body in self.statements(names)]
        return spelling.program(bindings, None, None)

    def text(self, names: list[str]) -> str:
        return self.printed("text", names)

    def latex(self, heads: dict) -> str:
        """An aligned block; ``heads`` maps a value's name to its left-hand side in LaTeX."""
        return self.printed("latex", list(heads), heads)


def _needed(bindings: tuple, values: list[MatrixExpr]) -> set[str]:
    """The names of the assignments ``values`` use, directly or through other assignments."""
    bodies = dict(bindings)
    needed: set[str] = set()
    stack = list(values)
    while stack:
        x = stack.pop()
        if x.op == "leaf" and x.name in bodies and x.name not in needed:
            needed.add(x.name)
            stack.append(bodies[x.name])
        stack.extend(x.args)
    return needed


# ----- building the program -----------------------------------------------------------------


def rewritten(x: MatrixExpr, symmetric: set | frozenset = frozenset()) -> MatrixExpr:
    """The rewrites every printed matrix form gets: transposes of symmetric names dropped,
    then the cheapest form of the rewrite table."""
    return compact(without_transposes(x, set(symmetric)))


def matrix_program(node: Tensor, symmetric: frozenset = frozenset()) -> MatrixProgram | None:
    """The matrix notation of one tensor by the route ``diff`` prints its answer (elementwise
    algebra, recovery, rewrites), so the same derivative reads the same wherever it is shown;
    None where it has none."""
    if node.rank > 2:
        return None
    builder = ProgramBuilder([node], symmetric=symmetric)
    value = builder(node)
    return None if value is None else builder.finish(value)


def matrix_text(node: Tensor, symmetric: frozenset = frozenset()) -> str | None:
    """:func:`matrix_program`'s text."""
    program = matrix_program(node, symmetric)
    return None if program is None else program.text


def vec_program(jacobian: Tensor, y_shape: tuple, x_shape: tuple,
                symmetric: frozenset = frozenset()) -> MatrixProgram | None:
    """∂vec(Y)/∂vec(X) of ``jacobian`` (shape y_shape + x_shape) as ``diff`` prints it in the vec
    layout; None where it has no matrix form."""
    builder = ProgramBuilder([jacobian], symmetric=symmetric)
    value = vec_form(jacobian, y_shape, x_shape, builder)
    return None if value is None else builder.finish(value)


class ProgramBuilder:
    """Recover matrix notation with shared nodes named, then compact and bind deltas."""

    def __init__(self, roots: list[Tensor], *, assigned: dict | None = None, reserved: set | None = None,
                 symmetric: frozenset = frozenset(), summed_to_one: Assumptions | None = None):
        """With several roots (the gradients of a backward pass), each root's repeats are named as if
        it were printed alone: what the roots share is the program's own intermediates and the
        deltas, bound in :meth:`finish_all`, not every common part of their formulas."""
        self.taken = set(reserved or ()) | set(assigned or ())
        self.simplified: dict[int, tuple[Tensor, Tensor]] = {}  # id → (node, its printing form)
        self.normalizer = Normalizer()
        # one-hot inputs (columns summing to 1): a sum of Y the algebra uncovers (S⊙Y/S) is ones
        self.summed_to_one = summed_to_one if summed_to_one and any(
            summed_to_one.sums_to_one(name) for name in summed_to_one.names) else None
        roots = [self.simplify(root) for root in roots]
        # the user's values in the fused form the answer holds (P = softmax(…, 2) is a transpose of
        # softmax(…), w = inv(A)*X'*y one contraction), simplified in program order: each step, not its past
        assigned = {name: (self.simplify(simplify(node)), row) for name, (node, row) in (assigned or {}).items()}
        names: dict[int, str] = {}
        self.nested: set[str] = set()  # names that break a deep nesting: kept, though used once
        for root in roots:
            found = choose_names([root], assigned=assigned, reserved=set(reserved or ()) | set(names.values()),
                                 nested=self.nested)
            names.update((key, name) for key, name in found.items() if key not in names)
        self.user_names = set(assigned)
        self.assigned = assigned
        self.recovery = Recovery(names, symmetric, transposed_user_names(roots, assigned, names))
        self.taken |= set(self.recovery.names.values())
        self.deltas: set[str] = set()
        self.delta_names: dict[MatrixExpr, str] = {}  # each delta's body -> its name
        self.numbers: dict[str, int] = {}  # for fresh()
        self.roots = list(roots)

    def simplify(self, node: Tensor) -> Tensor:
        """The node as printed: elementwise algebra done (matdiff.notation.identities)."""
        if id(node) not in self.simplified:
            printed = self.normalizer(node)
            if self.summed_to_one is not None:
                printed = self.normalizer(simplify(printed, self.summed_to_one))
            self.simplified[id(node)] = (node, printed)
        return self.simplified[id(node)][1]

    def __call__(self, node: Tensor) -> MatrixExpr | None:
        if self.roots:  # named nodes first, dependencies first: the recursion of the recovery
            roots, self.roots = self.roots, []  # then ends at names, however long the program
            for root in roots:
                for inner in postorder(root):
                    if id(inner) in self.recovery.names:
                        self.recovery(inner)
        return self.recovery(self.simplify(node))

    def finish(self, value: MatrixExpr) -> MatrixProgram:
        shared = self.finish_all([value])
        return _inlined_if_shorter(MatrixProgram(shared.bindings, shared.values[0]))

    def finish_all(self, values: list[MatrixExpr]) -> SharedProgram:
        """Compact the assignments and values, bind the deltas, inline names used only once."""
        symmetric: set[str] = set()
        bindings = []
        raw, values = self._user_products(values)
        for name, body in raw:
            body = body if _is_function_of_name(body) else searched(rewritten(body, symmetric), symmetric)
            if is_symmetric(body):
                symmetric.add(name)
            bindings.append((name, body))
        values = [searched(rewritten(value, symmetric), symmetric) for value in values]
        bindings, values = oriented_bindings(bindings, values, keep=self.user_names)
        activations = _delta_factors({name: body for name, body in bindings})
        with_deltas: list[tuple[str, MatrixExpr]] = []
        for name, body in bindings:
            body = self._bind_deltas(body, activations, with_deltas)
            with_deltas.append((name, body))
        values = [self._bind_deltas(value, activations, with_deltas) for value in values]
        return _inline_single_uses(with_deltas, values, keep=self.deltas | self.nested)

    def _user_products(self, values: list[MatrixExpr]) -> tuple[list, list[MatrixExpr]]:
        """The recovery's bindings and the values, with each product the user named but the answer holds
        only fused into longer products (w = inv(A)*X'*y in y'*X*inv(A)'*inv(A)^2*X'*y) written by
        its name, and bound where it is used (notation/usernames.py)."""
        taken = set(self.recovery.names.values()) | set(self.recovery.transposed.values())
        chains: dict[str, MatrixExpr] = {}
        for name, (node, row) in self.assigned.items():
            if row or name in taken or node.rank == 0 or node.rank > 2:
                continue
            body = self.recovery(node)
            if body is None or body.op != "product":
                continue
            parts = summand_of(body)
            if parts.coefficient == 1.0 and not parts.scalars and len(parts.chain) >= 2:
                chains[name] = body
        bindings = list(self.recovery.bindings)
        if not chains:
            return bindings, values
        used: set[str] = set()
        rewritten_bindings = []
        for name, body in bindings:
            body, found = with_user_chains(body, chains)
            used |= found
            rewritten_bindings.append((name, body))
        new_values = []
        for value in values:
            value, found = with_user_chains(value, chains)
            used |= found
            new_values.append(value)
        for name in used:  # bound after what its body uses, before its first use
            needs = _needed(tuple(rewritten_bindings), [chains[name]])
            position = max((k + 1 for k, (bound, _) in enumerate(rewritten_bindings) if bound in needs), default=0)
            rewritten_bindings.insert(position, (name, chains[name]))
        return rewritten_bindings, new_values

    def _bind_deltas(self, x: MatrixExpr, activations: dict, out: list) -> MatrixExpr:
        """x with each delta used as a factor of a product replaced by a name (inner ones first)."""
        if not x.args:
            return x
        args = tuple(self._bind_deltas(a, activations, out) for a in x.args)
        if x.op == "product":
            args = tuple(self._name_delta(a, activations, out) for a in args)
        return x if all(new is old for new, old in zip(args, x.args)) else rebuild(x, args)

    def _name_delta(self, x: MatrixExpr, activations: dict, out: list) -> MatrixExpr:
        preactivation = _delta_of(x, activations)
        if preactivation is None:
            return x
        if x in self.delta_names:  # the same delta met again (in another gradient): one name
            return leaf(self.delta_names[x], x.shape_class)
        name = fresh("d" + preactivation, self.taken, separator="_")
        out.append((name, x))
        self.deltas.add(name)
        self.delta_names[x] = name
        return leaf(name, x.shape_class)


def searched(x: MatrixExpr, symmetric: set) -> MatrixExpr:
    """x, or the shorter form equality saturation finds for its elementwise parts (notation/saturation.py),
    compacted again."""
    found = saturated(x)
    if found is None:
        return x
    found = rewritten(found, symmetric)
    return found if cost(found) < cost(x) else x


def _is_function_of_name(x: MatrixExpr) -> bool:
    """f(z), as z2 = sin(z1): nothing shorter exists, so the search for one is skipped (in a
    10,000-statement program, that search is most of the printing time)."""
    return x.op == "call" and len(x.args) == 1 and x.args[0].op == "leaf"


def _delta_factors(activations: dict) -> dict[MatrixExpr, tuple[int, str, int, MatrixExpr]]:
    """The derivative factor of each activation, from its record (1 - a of a sigmoid's a.*(1 - a),
    step(z) for a rectifier: :func:`matdiff.notation.slopes.slope`), looked
    up by that factor: (position of the binding, the name of its argument, how many Hadamard
    factors the derivative has, the activation). The argument's name is the user's (a3 = sigmoid(z3))
    or the textbook's z3 (:func:`matdiff.notation.naming.preactivation_name`)."""
    table: dict[MatrixExpr, tuple[int, str, int, MatrixExpr]] = {}
    for position, (name, body) in enumerate(activations.items()):
        if body.op != "call" or body.name not in FUNCTIONS or not FUNCTIONS[body.name].activation:
            continue
        a = leaf(name, body.shape_class)
        argument = body.args[0]
        derivative = slope(body.name, a, argument)
        if derivative is None:
            continue
        factors = derivative.args if derivative.op == "hadamard" else (derivative,)
        own = [f for f in factors if f != a]  # what marks this derivative among a delta's factors
        if len(own) == 1:
            table.setdefault(own[0], (position, argument.name if argument.op == "leaf" else preactivation_name(name),
                                      len(factors), a))
    return table


def _delta_of(x: MatrixExpr, factors_of: dict) -> str | None:
    """The name of the pre-activation whose delta x is: an incoming gradient ⊙ an activation's
    derivative (a.*(1 - a) for a sigmoid, step(z) for a rectifier);
    ``factors_of`` is :func:`_delta_factors` of the activations (the first bound wins). A
    derivative that reuses the value (a.*(1 - a)) is a delta only beside that value and a gradient."""
    if x.op != "hadamard" or len(x.args) < 2:
        return None
    factors = list(x.args)
    present = set(factors)
    found = []
    for f in factors:
        if f not in factors_of:
            continue
        position, preactivation, size, activation = factors_of[f]
        if size == 1 or (activation in present and len(factors) > size):
            found.append((position, preactivation))
    if found:
        return min(found)[1]
    for f in factors:  # a rectifier no binding names
        if is_call(f, "step"):
            inner = f.args[0]
            return inner.name if inner.op == "leaf" else _layer_preactivation(inner)
    return None


def _layer_preactivation(x: MatrixExpr) -> str:
    """z1 for the pre-activation W1*x (+ b1) of a rectifier, numbered by its weight's layer; z otherwise."""
    weights = []
    for t in x.args if x.op == "sum" else (x,):
        factors = t.args if t.op == "product" else (t,)
        first = factors[0].args[0] if factors and factors[0].op == "transpose" else factors[0] if factors else None
        if first is not None and first.op == "leaf" and first.shape_class == "matrix":
            weights.append(first.name)
    number_ = layer_number(weights)
    return "z" if number_ is None else "z" + number_  # W3 → z3


# A program this small may read shorter with its names inlined and compacted together, as when
# P = det(X)^3*inv(X)'^3 cancels against the X' of each use: try it.
SMALL_PROGRAM = 120


def _inlined_if_shorter(program: MatrixProgram) -> MatrixProgram:
    if not program.bindings or len(program.bindings) > 3:
        return program
    total = sum(cost(body) + 2 for _, body in program.bindings) + cost(program.value)
    if total > SMALL_PROGRAM:
        return program
    value = program.value
    for name, body in reversed(program.bindings):
        value = _substitute(value, {name: body})
    value = compact(value)
    return MatrixProgram((), value) if cost(value) < total else program


def _references(x: MatrixExpr, counts: dict) -> None:
    """Add the uses of each name of ``counts`` in x (iteratively: bodies may be deep)."""
    stack = [x]
    while stack:
        y = stack.pop()
        if y.op == "leaf" and y.name in counts:
            counts[y.name] += 1
        stack.extend(y.args)


def _substitute(x: MatrixExpr, bodies: dict) -> MatrixExpr:
    """x with each leaf named in ``bodies`` replaced by its body."""
    if x.op == "leaf" and x.name in bodies:
        return bodies[x.name]
    if not x.args:
        return x
    return rebuild(x, tuple(_substitute(a, bodies) for a in x.args))


def _inline_single_uses(bindings: list, values: list[MatrixExpr], *, keep: set) -> SharedProgram:
    """A name used once is no saving (except a delta, which names a step of backprop); a name
    not used at all is dropped. Two passes, so a program of n bindings takes time linear in n:
    uses are counted from the values back (a dropped binding's uses do not count), then single
    uses are substituted front to back (each body already holding its own substitutions)."""
    counts = {name: 0 for name, _ in bindings}
    for value in values:
        _references(value, counts)
    for name, body in reversed(bindings):
        if counts[name]:
            _references(body, counts)
    inlined: dict[str, MatrixExpr] = {}
    kept = []
    for name, body in bindings:
        if not counts[name]:
            continue
        body = _substitute(body, inlined) if inlined else body
        if counts[name] == 1 and name not in keep:
            inlined[name] = body
        else:
            kept.append((name, body))
    return SharedProgram(tuple(kept), tuple(_substitute(v, inlined) if inlined else v for v in values))
