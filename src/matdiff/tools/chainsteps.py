"""The steps of ``explain``: the chain rule one operation (or one statement) at a time.

The expression is lowered to the IR and walked from the variable X to the output. Each
operation that depends on X is a step ``u = f(…)``, named by the user's own assignment where
there is one (``z2``, ``a2``) and ``u1, u2, …`` otherwise; with ``every_operation=False`` only
the user's statements are steps (the operations inside one are folded into it). Each step has
its local derivative ∂u/∂v for each operand v that depends on X (a tensor of order
rank(u) + rank(v), with its matrix form in the layout when it has one) and ∂u/∂X so far.

A product of matrices ``L*X*R`` is regrouped as ``L*(X*R)`` first, so the variable meets its
neighbours the way a person (or a network's forward pass) applies them: ``W2*W1*h`` is u = W1*h,
then y = W2*u. Transposes and scalings are folded into the step that uses them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from matdiff.engine import ir
from matdiff.engine.differentiate import jacobian, seed
from matdiff.engine.layout import apply_arrangement, arrange, layout_y_shape
from matdiff.engine.lowering import Lowered, Value
from matdiff.engine.primitives import elementwise_derivative, is_elementwise, substitute
from matdiff.engine.simplify import simplify
from matdiff.language.shapes import shape_text
from matdiff.language.syntax import Call, Chain, Name, Power, Program, Signed, Transpose
from matdiff.notation.bindings import MatrixProgram, matrix_program, vec_program
from matdiff.notation.indexform import IndexPrinter, index_notation
from matdiff.notation.mtree import call
from matdiff.notation.report import INTERNAL
from matdiff.tools.backprop import LETTERS, fresh_name, matrix_form

# ----- the steps --------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Factor:
    """A derivative ∂of/∂by: its order, its shape as a tensor and in the layout, its forms."""

    of: str
    by: str
    order: int  # rank(of) + rank(by)
    tensor_shape: tuple  # shape(of) + shape(by), J[i…, j…] = ∂of[i…]/∂by[j…]
    layout: str
    shape: tuple  # arranged in the layout
    matrix: str | None  # matrix form in the layout (the text of ``program``), None when it has none
    index: str  # "∂u1[i]/∂W1[j,k] = δ[i,j]·h[k]"
    diagonal: bool = False  # an elementwise function's Jacobian
    program: MatrixProgram | None = field(default=None, compare=False, metadata=INTERNAL)  # the matrix form's tree
    node: ir.Tensor | None = field(default=None, compare=False, metadata=INTERNAL)  # over the step names
    arranged: ir.Tensor | None = field(default=None, compare=False, metadata=INTERNAL)  # in the layout

    @property
    def label(self) -> str:
        return f"∂{self.of}/∂{self.by}"

    def describe(self) -> str:
        """'1×2: W2' or 'order-3 tensor 2×2×2, no matrix form'."""
        if self.matrix is not None:
            return f"{layout_shape_text(self.shape)}: {self.matrix}"
        return f"order-{self.order} tensor {shape_text(self.tensor_shape)}, no matrix form"

    def __repr__(self) -> str:
        return f"<Factor {self.label} {self.describe()}>"


@dataclass(frozen=True, repr=False)
class Step:
    """One operation (or statement) u = f(…) on the way from the variable to the output."""

    name: str
    formula: str  # in the step names: "W2*u1"
    shape: tuple  # the tensor's shape
    operands: tuple[str, ...]  # the operands that depend on the variable
    local: tuple[Factor, ...]  # ∂name/∂operand, one per operand
    printed_accumulated: Callable[[], Factor] = field(metadata={"internal": True})  # ∂name/∂variable, on demand
    contraction: str  # how the local factors meet the operands' derivatives
    function: str | None = None  # the elementwise function a diagonal local derivative comes from

    @functools.cached_property
    def accumulated(self) -> Factor:
        """∂name/∂variable. Printed on demand: the default explanation shows it for a few steps
        only, and printing it for every step of a long chain would cost time quadratic in its length."""
        return self.printed_accumulated()

    def __repr__(self) -> str:
        return f"<Step {self.name} = {self.formula} ({shape_text(self.shape)})>"

# ----- regrouping products so the variable meets its neighbours first --------------------------------


def _mentions(node, names: set) -> bool:
    if isinstance(node, Name):
        return node.name in names
    if isinstance(node, Call):
        return any(_mentions(a, names) for a in node.arguments)
    if isinstance(node, Chain):
        return _mentions(node.first, names) or any(_mentions(o, names) for _, _, o in node.rest)
    if isinstance(node, (Signed, Transpose)):
        return _mentions(node.operand, names)
    if isinstance(node, Power):
        return _mentions(node.base, names) or _mentions(node.exponent, names)
    return False


def _chain_of(operands: list, joins: list):
    """operands[0] * operands[1] * … as a (left-associated) Chain."""
    if len(operands) == 1:
        return operands[0]
    rest = tuple(("*", position, o) for position, o in zip(joins, operands[1:]))
    return Chain(position=joins[0], depth=max(o.depth for o in operands) + 1, first=operands[0], rest=rest)


def _regroup(node, dependent: set):
    """L*X*R → L*(X*R) when only X depends on the variable (recursively)."""
    if isinstance(node, Call):
        return dataclasses.replace(node, arguments=tuple(_regroup(a, dependent) for a in node.arguments))
    if isinstance(node, (Signed, Transpose)):
        return dataclasses.replace(node, operand=_regroup(node.operand, dependent))
    if isinstance(node, Power):
        return dataclasses.replace(node, base=_regroup(node.base, dependent),
                                   exponent=_regroup(node.exponent, dependent))
    if not isinstance(node, Chain):
        return node
    operands = [_regroup(node.first, dependent)] + [_regroup(o, dependent) for _, _, o in node.rest]
    joins = [position for _, position, _ in node.rest]
    rest = tuple((op, position, o) for (op, position, _), o in zip(node.rest, operands[1:]))
    if any(op != "*" for op, _, _ in node.rest):
        return dataclasses.replace(node, first=operands[0], rest=rest)
    hits = [k for k, o in enumerate(operands) if _mentions(o, dependent)]
    if len(hits) != 1 or len(operands) < 3:
        return dataclasses.replace(node, first=operands[0], rest=rest)
    k = hits[0]
    inner = operands[k]
    if k + 1 < len(operands):
        right = _chain_of(operands[k + 1:], joins[k:])
        inner = _chain_of([inner, right], [joins[k]])
    if k == 0:
        return inner
    left = _chain_of(operands[:k], joins[:k - 1]) if k > 1 else operands[0]
    return _chain_of([left, inner], [joins[k - 1]])


def regrouped(program: Program, wrt: str) -> Program:
    dependent = {wrt}
    statements = []
    for statement in program.statements:
        mentions = _mentions(statement.value, dependent)
        statements.append(dataclasses.replace(statement, value=_regroup(statement.value, dependent)))
        if statement.target is not None and mentions and statement.target != wrt:
            dependent.add(statement.target)
    return Program(tuple(statements), program.source)


# ----- steps -------------------------------------------------------------------------------------


def layout_shape_text(shape: tuple) -> str:
    """A shape in a layout as the language sees it: a vector is a column, n×1, as in the backprop
    view, so ∂f/∂a3 reads the same in both."""
    return shape_text(shape + (1,)) if len(shape) == 1 else shape_text(shape)


def kind_text(shape: tuple) -> str:
    if not shape:
        return "a scalar"
    if ir.is_all_ones(shape):
        return "1×1, a scalar for layout purposes"
    if len(shape) == 1:
        return f"a vector of length {shape[0]}"
    size = shape_text(shape)
    spoken_vowel = size.startswith(("8", "11", "18")) or size[0] in "aefhilmnorsx"  # an 8×3, an n×m
    return f"{'an' if spoken_vowel else 'a'} {size} matrix"


def _is_view(node: ir.Tensor) -> bool:
    """A transpose, a scaling, or a reshape adding/dropping 1s: folded into the step using it."""
    if node.op == "reshape":
        return [d for d in node.shape if d != 1] == [d for d in node.args[0].shape if d != 1]
    if node.op != "einsum":
        return False
    tensors = [(a, labels) for a, labels in ir.einsum_operands(node) if not (a.op == "const" and a.rank == 0)]
    if len(tensors) != 1:
        return False
    labels = tensors[0][1]
    output = node.params[1]
    return len(set(labels)) == len(labels) == len(output) and set(labels) == set(output)


def _layout_for(layout: str, y_shape: tuple) -> str:
    """The gradient layout is for scalars; intermediate vectors and matrices use denominator's."""
    return "denominator" if layout == "gradient" and y_shape else layout


def factor(node: ir.Tensor, of: str, by: str, of_surface: tuple, x_shape: tuple, by_rank: int, layout: str,
            diagonal: ir.Tensor | None = None, via: tuple[str, int] | None = None) -> Factor:
    """∂of/∂by for ``node`` (shape(of) + shape(by)), arranged with ``of`` seen as ``of_surface`` and ``by``
    as ``x_shape`` (the language's shapes: a 1×1 result is a scalar for layout purposes). ``diagonal`` is
    f'(u) when ``of`` = f(``by``) elementwise; ``via`` names the intermediate summed over, for the index form."""
    y_shape = layout_y_shape(of_surface)
    used = _layout_for(layout, y_shape)
    arrangement = arrange(used, y_shape, (x_shape,))
    arranged = simplify(apply_arrangement(ir.reshape(node, y_shape + x_shape), arrangement))
    program = matrix_program(arranged) if used != "vec" else \
        vec_program(simplify(ir.reshape(node, y_shape + x_shape)), y_shape, x_shape)
    derivative = matrix_program(diagonal) if diagonal is not None and diagonal.rank == 1 else None
    if derivative is not None:  # δ[i,j]·f'(u)[j], whatever the layout
        program = dataclasses.replace(derivative, value=call("diag", (derivative.value,), "matrix"))
    letters = list(LETTERS[:node.rank])
    split = node.rank - by_rank
    of_letters, by_letters = (letters[:split] if y_shape else []), letters[split:]  # a 1×1 'of' is a scalar
    entry = f"∂{of}{_brackets(of_letters)}/∂{by}{_brackets(by_letters)}"
    used_letters = set(letters)
    chain = ""
    if via is not None:
        via_name, via_rank = via
        summed = list(LETTERS[node.rank:node.rank + via_rank])
        used_letters |= set(summed)
        chain = (f"Σ_{''.join(summed)} ∂{of}{_brackets(of_letters)}/∂{via_name}{_brackets(summed)}·"
                 f"∂{via_name}{_brackets(summed)}/∂{by}{_brackets(by_letters)} = ")
    body = IndexPrinter().entry(node, letters, used_letters)
    return Factor(of, by, node.rank, node.shape, used, arrangement.shape, None if program is None else program.text,
                  f"{entry} = {chain}{body}", diagonal is not None, program, node, arranged)


# The chain distributes a contraction over the terms of sums (so deltas inside can cancel) up to this
# many products; where a value is reused (a residual network) the terms would double at every step.
MAX_DISTRIBUTED_TERMS = 8


def _terms(node: ir.Tensor) -> tuple:
    """The terms of a sum (a contraction distributes over them, so deltas inside can cancel)."""
    return node.args if node.op == "add" else (node,)


def _scalar_if_ones(shape: tuple) -> tuple:
    return () if ir.is_all_ones(shape) else shape


def _brackets(letters) -> str:
    return f"[{','.join(letters)}]" if letters else ""


class Walk:
    """The steps of ∂value/∂X, built from the lowered (regrouped) program: every operation, or
    with ``every_operation=False`` only the user's statements (and the output)."""

    def __init__(self, lowered: Lowered, variable: Value, wrt: str, layout: str, output: str,
                 every_operation: bool = True):
        self.lowered, self.variable, self.wrt, self.layout, self.output = lowered, variable, wrt, layout, output
        self.X = variable.node
        value = lowered.value.node
        order = ir.postorder(value)
        depends: dict[int, bool] = {}
        for node in order:
            depends[id(node)] = node is self.X or any(depends[id(a)] for a in node.args)
        self.depends = depends
        named = {id(v.node): name for name, v in lowered.assigned.items() if name != wrt}
        taken = set(lowered.variables) | set(lowered.assigned) | {output, wrt}
        self.names: dict[int, str] = {}
        self.steps_nodes: list[ir.Tensor] = []
        count = 0
        for node in order:
            if node is self.X or not depends[id(node)]:
                continue
            if node is value or id(node) in named or (every_operation and not _is_view(node)):
                if node is value:
                    name = output
                elif id(node) in named:
                    name = named[id(node)]
                else:
                    count += 1
                    name = fresh_name(f"u{count}", taken)
                self.names[id(node)] = name
                self.steps_nodes.append(node)
        self.names[id(self.X)] = wrt
        # constants the user named (not depending on X) print by their names
        self.constant_names = {i: n for i, n in named.items() if not depends.get(i, True)}
        self.var_of = {i: ir.var(n, self._node(i).shape) for i, n in {**self.names, **self.constant_names}.items()
                       if self._node(i) is not None}

    def _node(self, key: int):
        for node in self.steps_nodes + [self.X] + [v.node for v in self.lowered.assigned.values()]:
            if id(node) == key:
                return node
        return None

    def operands(self, node: ir.Tensor) -> list[ir.Tensor]:
        """The steps (or X) a step reads, looking through views."""
        found: list[ir.Tensor] = []
        stack = list(node.args)
        while stack:
            arg = stack.pop(0)
            if not self.depends.get(id(arg)):
                continue
            if id(arg) in self.names:
                if all(arg is not f for f in found):
                    found.append(arg)
            else:
                stack.extend(arg.args)
        return found

    def local(self, node: ir.Tensor) -> ir.Tensor:
        """The step's right-hand side over the names of its operands (and of named constants)."""
        replacements = {i: v for i, v in self.var_of.items() if i != id(node)}
        return substitute(node, replacements)

    def surface(self, node: ir.Tensor) -> tuple:
        if node is self.X:
            return self.variable.surface()
        if node is self.lowered.value.node:
            return self.lowered.value.surface()
        return node.shape

    def run(self) -> list[Step]:
        accumulated: dict[int, ir.Tensor] = {id(self.X): seed(self.X.shape)}
        steps = []
        x_rank = self.X.rank
        for node in self.steps_nodes:
            name = self.names[id(node)]
            local_node = self.local(node)
            own = {id(local_node): ir.var(name, node.shape)}
            formula = matrix_form(local_node) or index_notation(local_node, list(LETTERS[:node.rank]))
            factors, contractions = [], []
            function = None
            parts: list[ir.Tensor] = []
            for operand in self.operands(node):
                by = self.names[id(operand)]
                v = self.var_of[id(operand)]
                derivative = simplify(jacobian(local_node, v))
                derivative = substitute(derivative, own)
                diagonal = None
                if is_elementwise(node.op) and node.args[0] is operand:
                    diagonal = substitute(elementwise_derivative(local_node), own)
                    function = "power" if node.op == "constant_power" else node.op
                x_shape = self.variable.surface() if operand is self.X else _scalar_if_ones(operand.shape)
                factors.append(factor(derivative, name, by, self.surface(node), x_shape, operand.rank, self.layout,
                                       diagonal))
                r, t = node.rank, operand.rank
                s_labels, t_labels = list(range(r)), list(range(r, r + t))
                x_labels = list(range(r + t, r + t + x_rank))
                lefts, rights = _terms(derivative), _terms(accumulated[id(operand)])
                if len(lefts) * len(rights) > MAX_DISTRIBUTED_TERMS:  # a reused value: keep the sums whole
                    lefts, rights = (derivative,), (accumulated[id(operand)],)
                parts.extend(simplify(ir.einsum(s_labels + x_labels, (left, s_labels + t_labels),
                                                (right, t_labels + x_labels)))
                             for left in lefts for right in rights)
                contractions.append(self._contraction(name, by, node, operand))
            total = simplify(ir.add(*parts)) if parts else ir.const(0.0, node.shape + self.X.shape)
            accumulated[id(node)] = total
            through = [o for o in self.operands(node) if o is not self.X]
            via = (self.names[id(through[0])], through[0].rank) if len(through) == 1 and through[0].rank else None
            result = functools.partial(factor, total, name, self.wrt, self.surface(node), self.variable.surface(),
                                       x_rank, self.layout, via=via)
            steps.append(Step(name, formula, node.shape, tuple(f.by for f in factors), tuple(factors), result,
                              " ".join(c for c in contractions if c), function))
        return steps

    def _contraction(self, name: str, by: str, node: ir.Tensor, operand: ir.Tensor) -> str:
        if operand is self.X:
            return ""
        if not _scalar_if_ones(operand.shape):
            return (f"∂{name}/∂{self.wrt} ← ∂{name}/∂{by} · ∂{by}/∂{self.wrt}: {by} is a scalar, "
                    "so this is a plain scaling (no index to sum).")
        of = len(layout_y_shape(self.surface(node)))
        by_order, x_order = operand.rank, len(self.variable.surface())
        indices = "index" if by_order == 1 else f"{by_order} indices"
        # orders, not shapes: the factors' shapes are on their own lines, each in one form
        return (f"∂{name}/∂{self.wrt} ← ∂{name}/∂{by} · ∂{by}/∂{self.wrt}, summing over {by}'s {indices} "
                f"(orders {of + by_order} and {by_order + x_order} give order {of + x_order}).")


def chain_of_steps(steps: list[Step], layout: str, wrt: str) -> tuple[tuple, bool]:
    """The local factors of a single chain X → u1 → … → y, in the layout's order."""
    if not steps:
        return (), False
    previous = wrt
    factors = []
    readers: dict[str, int] = {}
    for step in steps:
        for operand in step.operands:
            readers[operand] = readers.get(operand, 0) + 1
    for step in steps:
        if step.operands != (previous,) or readers.get(previous, 0) != 1:
            return (), False
        factors.append(step.local[0])
        previous = step.name
    forward = list(reversed(factors))  # output first: numerator order
    ordered = tuple(factors) if layout in ("denominator", "gradient") else tuple(forward)
    matrices = all(f.matrix is not None and len(f.shape) <= 2 for f in ordered)
    if matrices:
        shapes = [f.shape if len(f.shape) == 2 else ((1,) + f.shape if f.shape else (1, 1)) for f in ordered]
        matrices = all(a[1] == b[0] for a, b in zip(shapes, shapes[1:]))
    return ordered, matrices


