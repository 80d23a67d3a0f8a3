"""``explain``: the chain rule one operation at a time, with the shape of every factor.

The expression is lowered to the IR and walked from the variable X to the
output. Each operation that depends on X is a step ``u = f(…)``, named by the
user's own assignment where there is one (``z2``, ``a2``) and ``u1, u2, …``
otherwise. For each step the explanation gives

- its shape, and its local derivative ∂u/∂v for each operand v that depends on
  X: a tensor of order rank(u) + rank(v), in index notation and, when it has
  one, in matrix form in the chosen layout (∂u/∂W for u = W·h is 2×2×2, which
  no matrix can stand for);
- how it contracts with the rest: ∂u/∂X = Σ_v ∂u/∂v · ∂v/∂X, summing over v's
  indices (the chain rule, in forward order);
- ∂u/∂X so far, in index notation and in the layout.

A product of matrices ``L*X*R`` is regrouped as ``L*(X*R)`` first, so the
variable meets its neighbours the way a person (or a network's forward pass)
applies them: ``W2*W1*h`` is u = W1*h, then y = W2*u. Transposes and scalings
are folded into the step that uses them. Elementwise functions show up as
diagonal Jacobians that collapse into Hadamard products. The backprop view of
the same program is in :mod:`matdiff.tools.backprop`.

Nothing here changes the engine; the final answer is exactly ``md.diff``'s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from matdiff.engine import ir
from matdiff.api import Derivative, _guarded, diff
from matdiff.tools.backprop import Backprop, LETTERS, backprop, fresh_name, matrix_form
from matdiff.engine.differentiate import jacobian, seed
from matdiff.errors import MatdiffError
from matdiff.notation.indexform import IndexPrinter, index_notation
from matdiff.engine.layout import apply_arrangement, arrange, layout_y_shape
from matdiff.engine.lowering import Lowered, Value, lower
from matdiff.engine.primitives import elementwise_derivative, is_elementwise, substitute
from matdiff.notation.forms import output_name
from matdiff.notation.report import INTERNAL, Line, Printable
from matdiff.language.shapes import shape_text
from matdiff.engine.simplify import simplify
from matdiff.engine.structure import CONVENTIONS
from matdiff.language.syntax import Call, Chain, Name, Power, Program, Signed, Transpose, parse

# ----- the result -----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Factor:
    """A derivative ∂of/∂by: its order, its shape as a tensor and in the layout, its forms."""

    of: str
    by: str
    order: int  # rank(of) + rank(by)
    tensor_shape: tuple  # shape(of) + shape(by), J[i…, j…] = ∂of[i…]/∂by[j…]
    layout: str
    shape: tuple  # arranged in the layout
    matrix: str | None  # matrix form in the layout, None when it has none
    index: str  # "∂u1[i]/∂W1[j,k] = δ[i,j]·h[k]"
    diagonal: bool = False  # an elementwise function's Jacobian
    node: ir.Tensor | None = field(default=None, compare=False, metadata=INTERNAL)  # over the step names
    arranged: ir.Tensor | None = field(default=None, compare=False, metadata=INTERNAL)  # in the layout

    @property
    def label(self) -> str:
        return f"∂{self.of}/∂{self.by}"

    def describe(self) -> str:
        """'1×2: W2' or 'order-3 tensor 2×2×2, no matrix form'."""
        if self.matrix is not None:
            return f"{shape_text(self.shape)}: {self.matrix}"
        return f"order-{self.order} tensor {shape_text(self.tensor_shape)}, no matrix form"

    def __repr__(self) -> str:
        return f"<Factor {self.label} {self.describe()}>"


@dataclass(frozen=True, repr=False)
class Step:
    """One operation u = f(…) on the way from the variable to the output."""

    name: str
    formula: str  # in the step names: "W2*u1"
    shape: tuple  # the tensor's shape
    operands: tuple[str, ...]  # the operands that depend on the variable
    local: tuple[Factor, ...]  # ∂name/∂operand, one per operand
    accumulated: Factor  # ∂name/∂variable
    contraction: str  # how the local factors meet the operands' derivatives

    def __repr__(self) -> str:
        return f"<Step {self.name} = {self.formula} ({shape_text(self.shape)})>"


@dataclass(frozen=True, repr=False)
class Explanation(Printable):
    """The chain rule for ∂expression/∂wrt, step by step; ``backprop`` is the reverse view."""

    expression: str
    wrt: str
    layout: str
    output: str  # the name used for the expression's value
    variable_shape: tuple
    steps: tuple[Step, ...]
    chain: tuple[Factor, ...]  # the local factors in the layout's order, when the steps form one chain
    chain_is_matrix_product: bool
    result: str | None  # md.diff(...).text
    result_named: str | None  # the same, over the step names
    vec: str | None  # the vec layout's matrix when the result has no matrix form ('kron(eye(2), A), 2×6')
    result_index: str
    result_shape: tuple
    why_order: str
    notes: tuple[str, ...]
    backprop: Backprop | None
    derivative: Derivative = field(compare=False, metadata=INTERNAL)
    conventions: tuple[tuple[str, str, str], ...] = ()  # (convention, the derivative in it, when it is right)

    def __repr__(self) -> str:
        return f"<Explanation ∂{self.output}/∂{self.wrt} ({self.layout}): {len(self.steps)} steps>"

    def lines(self) -> list[Line]:
        statements = [s.strip() for s in self.expression.replace("\n", ";").split(";") if s.strip()]
        if len(statements) == 1:
            lines = [Line(f"∂{self.output}/∂{self.wrt} for {self.output} = {statements[0]}  ({self.layout} layout)",
                          "title")]
        else:
            lines = [Line(f"∂{self.output}/∂{self.wrt} for the program  ({self.layout} layout)", "title")]
            lines += [Line(statement, "formula", 4) for statement in statements[:-1]]
            lines.append(Line(f"{self.output} = {statements[-1]}", "formula", 4))
        lines.append(Line(f"{self.wrt} is {_kind_text(self.variable_shape)}.", indent=2))
        if not self.steps:
            lines.append(Line(f"{self.output} does not depend on {self.wrt}: the derivative is zero.", indent=2))
        else:
            lines.append(Line(f"The chain rule, one operation at a time from {self.wrt} to {self.output}:",
                              "heading"))
        for number, step in enumerate(self.steps, 1):
            lines.append(Line(f"{number}. {step.name} = {step.formula}   ({_kind_text(step.shape)})", "formula", 2))
            for factor in step.local:
                lines.append(Line(f"local derivative {factor.label}: {factor.describe()}", indent=5))
                lines.append(Line(factor.index, "note", 9))
                if factor.diagonal:
                    lines.append(Line(f"diagonal ({step.name} is elementwise in {factor.by}): multiplying by it is "
                                      "a Hadamard product (.*) with the derivative of the function", "note", 9))
            if step.operands == (self.wrt,):
                continue  # the local derivative is ∂step/∂variable itself
            if step.contraction:
                lines.append(Line(step.contraction, indent=5))
            lines.append(Line(f"so {step.accumulated.label}: {step.accumulated.describe()}", indent=5))
            lines.append(Line(step.accumulated.index, "note", 9))
        if len(self.chain) > 1:
            lines.append(Line(f"The chain in the {self.layout} layout:", "heading"))
            labels = " · ".join(f.label for f in self.chain)
            lines.append(Line(f"∂{self.output}/∂{self.wrt} = {labels}", "formula", 2))
            shapes = " · ".join(shape_text(f.shape) if f.matrix is not None else
                                f"({shape_text(f.tensor_shape)} tensor)" for f in self.chain)
            lines.append(Line(f"shapes: {shapes}", indent=2))
            if self.chain_is_matrix_product:
                product = " * ".join(f"({f.matrix})" for f in self.chain)
                lines.append(Line(f"as matrices: {product}", indent=2))
            else:
                tensors = [f.label for f in self.chain if f.matrix is None or f.order > 2]
                if tensors:
                    lines.append(Line(f"{', '.join(tensors)} {'has' if len(tensors) == 1 else 'have'} order > 2: "
                                      "the chain rule is a sum over the intermediate's indices (the contractions "
                                      "above), not a product of matrices — writing such a factor as a matrix is "
                                      "what makes the dimensions fail.", indent=2))
                else:
                    lines.append(Line("the factors' shapes do not chain as a matrix product here; the contractions "
                                      "above are the chain rule.", indent=2))
        lines.append(Line("Why the order:", "heading"))
        lines.append(Line(self.why_order, indent=2))
        lines.append(Line("Result:", "heading"))
        if self.result is not None:
            lines.append(Line(f"∂{self.output}/∂{self.wrt} = {self.result}   ({self.layout} layout, "
                              f"{shape_text(self.result_shape)})", "good", 2))
            if self.result_named and self.result_named != self.result:
                lines.append(Line(f"in the step names: {self.result_named}", indent=2))
        else:
            lines.append(Line(f"no matrix form in the {self.layout} layout: an order-{len(self.result_shape)} "
                              f"tensor {shape_text(self.result_shape)}", "good", 2))
            if self.vec is not None:
                lines.append(Line(f"in the vec layout (∂vec({self.output})/∂vec({self.wrt}), both column-stacked) "
                                  f"it is the matrix {self.vec}", indent=2))
        if len(self.result_index) <= 240 or not self.steps:
            lines.append(Line(self.result_index, "note", 2))
        if self.conventions:
            lines.append(Line(f"By a structured {self.wrt}, three answers (G: every entry free):", "heading"))
            for convention, text, when in self.conventions:
                lines.append(Line(f"{convention}: {text}   right when {when}", "formula", 2))
        for note in self.notes:
            lines.append(Line(f"note: {note}", "note", 2))
        if self.backprop is not None:
            lines.extend(self.backprop.lines())
        return lines


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


def _regrouped(program: Program, wrt: str) -> Program:
    dependent = {wrt}
    statements = []
    for statement in program.statements:
        mentions = _mentions(statement.value, dependent)
        statements.append(dataclasses.replace(statement, value=_regroup(statement.value, dependent)))
        if statement.target is not None and mentions and statement.target != wrt:
            dependent.add(statement.target)
    return Program(tuple(statements), program.source)


# ----- steps -------------------------------------------------------------------------------------


def _kind_text(shape: tuple) -> str:
    if not shape:
        return "a scalar"
    if ir.is_all_ones(shape):
        return "1×1, a scalar for layout purposes"
    if len(shape) == 1:
        return f"a vector of length {shape[0]}"
    return f"a {shape_text(shape)} matrix"


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


def _factor(node: ir.Tensor, of: str, by: str, of_surface: tuple, x_shape: tuple, by_rank: int, layout: str,
            diagonal: ir.Tensor | None = None, via: tuple[str, int] | None = None) -> Factor:
    """∂of/∂by for ``node`` (shape(of) + shape(by)), arranged with ``of`` seen as ``of_surface`` and ``by``
    as ``x_shape`` (the language's shapes: a 1×1 result is a scalar for layout purposes). ``diagonal`` is
    f'(u) when ``of`` = f(``by``) elementwise; ``via`` names the intermediate summed over, for the index form."""
    y_shape = layout_y_shape(of_surface)
    used = _layout_for(layout, y_shape)
    arrangement = arrange(used, y_shape, (x_shape,))
    arranged = simplify(apply_arrangement(ir.reshape(node, y_shape + x_shape), arrangement))
    matrix = matrix_form(arranged)
    if diagonal is not None and diagonal.rank == 1 and matrix_form(diagonal) is not None:
        matrix = f"diag({matrix_form(diagonal)})"  # δ[i,j]·f'(u)[j], whatever the layout
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
    return Factor(of, by, node.rank, node.shape, used, arrangement.shape, matrix, f"{entry} = {chain}{body}",
                  diagonal is not None, node, arranged)


def _terms(node: ir.Tensor) -> tuple:
    """The terms of a sum (a contraction distributes over them, so deltas inside can cancel)."""
    return node.args if node.op == "add" else (node,)


def _scalar_if_ones(shape: tuple) -> tuple:
    return () if ir.is_all_ones(shape) else shape


def _brackets(letters) -> str:
    return f"[{','.join(letters)}]" if letters else ""


class _Walk:
    """The steps of ∂value/∂X, built from the lowered (regrouped) program."""

    def __init__(self, lowered: Lowered, variable: Value, wrt: str, layout: str, output: str):
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
            if node is value or id(node) in named or not _is_view(node):
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
            parts: list[ir.Tensor] = []
            for operand in self.operands(node):
                by = self.names[id(operand)]
                v = self.var_of[id(operand)]
                derivative = simplify(jacobian(local_node, v))
                derivative = substitute(derivative, own)
                diagonal = None
                if is_elementwise(node.op) and node.args[0] is operand:
                    diagonal = substitute(elementwise_derivative(local_node), own)
                x_shape = self.variable.surface() if operand is self.X else _scalar_if_ones(operand.shape)
                factors.append(_factor(derivative, name, by, self.surface(node), x_shape, operand.rank, self.layout,
                                       diagonal))
                r, t = node.rank, operand.rank
                s_labels, t_labels = list(range(r)), list(range(r, r + t))
                x_labels = list(range(r + t, r + t + x_rank))
                parts.extend(simplify(ir.einsum(s_labels + x_labels, (left, s_labels + t_labels),
                                                (right, t_labels + x_labels)))
                             for left in _terms(derivative) for right in _terms(accumulated[id(operand)]))
                contractions.append(self._contraction(name, by, node, operand))
            total = simplify(ir.add(*parts)) if parts else ir.const(0.0, node.shape + self.X.shape)
            accumulated[id(node)] = total
            through = [o for o in self.operands(node) if o is not self.X]
            via = (self.names[id(through[0])], through[0].rank) if len(through) == 1 and through[0].rank else None
            result = _factor(total, name, self.wrt, self.surface(node), self.variable.surface(), x_rank,
                             self.layout, via=via)
            steps.append(Step(name, formula, node.shape, tuple(f.by for f in factors), tuple(factors), result,
                              " ".join(c for c in contractions if c)))
        return steps

    def _contraction(self, name: str, by: str, node: ir.Tensor, operand: ir.Tensor) -> str:
        if operand is self.X:
            return ""
        if not _scalar_if_ones(operand.shape):
            return (f"∂{name}/∂{self.wrt} ← ∂{name}/∂{by} · ∂{by}/∂{self.wrt}: {by} is a scalar, "
                    "so this is a plain scaling (no index to sum).")
        of, by_shape = layout_y_shape(self.surface(node)), operand.shape
        x_shape = self.X.shape
        shapes = (shape_text(of + by_shape), shape_text(by_shape + x_shape), shape_text(of + x_shape))
        indices = "index" if operand.rank == 1 else f"{operand.rank} indices"
        return (f"∂{name}/∂{self.wrt} ← ∂{name}/∂{by} · ∂{by}/∂{self.wrt}: ({shapes[0]}) with ({shapes[1]}), "
                f"summing over {by}'s {indices} → {shapes[2]} (orders {len(of) + len(by_shape)} and "
                f"{len(by_shape) + len(x_shape)} give order {len(of) + len(x_shape)}).")


# ----- the explanation ---------------------------------------------------------------------------------

_WHY = {
    "numerator": ("In numerator layout ∂u/∂v has u's indices first (its rows), so the chain rule "
                  "∂y/∂x = ∂y/∂u·∂u/∂x multiplies factors left to right from the output back to the variable. "
                  "Denominator layout transposes every factor, and transposing a product reverses it "
                  "((AB)' = B'A'), so there the same chain reads ∂u/∂x·∂y/∂u: right to left."),
    "denominator": ("In denominator layout ∂u/∂v has v's indices first (its rows): each factor is the transpose "
                    "of its numerator-layout form, and transposing a product reverses it ((AB)' = B'A'). So the "
                    "chain rule ∂y/∂x = ∂y/∂u·∂u/∂x of numerator layout becomes ∂u/∂x·∂y/∂u: the factors run "
                    "right to left from the output, i.e. backprop appends each new factor on the left."),
    "gradient": ("The gradient layout has the variable's own shape (the denominator layout for a scalar): each "
                 "factor is the transpose of its numerator form, and transposing a product reverses it "
                 "((AB)' = B'A'), so the chain reads ∂u/∂x·∂y/∂u, right to left from the output."),
    "jacobian": ("The Jacobian layout keeps the output's indices first, like numerator layout: factors multiply "
                 "left to right from the output back to the variable, contracting over each intermediate's "
                 "indices."),
    "vec": ("In the vec layout every factor is a matrix ∂vec(u)/∂vec(v), so the chain rule is an ordinary "
            "matrix product, left to right from the output back to the variable (as in numerator layout)."),
}


def _chain(steps: list[Step], layout: str, wrt: str) -> tuple[tuple, bool]:
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


def explain(expression: str, wrt: str, shapes: dict | None = None, layout: str = "numerator", *,
            assume=None) -> Explanation:
    """The chain rule for ∂expression/∂wrt in ``layout``, one operation at a time (see the module doc);
    ``assume`` gives inputs a structure (``{"S": "symmetric"}``)."""
    if not isinstance(wrt, str):
        if isinstance(wrt, (tuple, list)) and len(wrt) == 1:
            wrt = wrt[0]
        else:
            raise MatdiffError("explain takes one variable (--wrt once); for higher orders use diff")
    derivative = diff(expression, wrt=wrt, shapes=shapes, layout=layout, assume=assume)
    with _guarded(expression):
        return _explain(derivative, expression, wrt, shapes, layout)


def _explain(derivative: Derivative, expression: str, wrt: str, shapes, layout: str) -> Explanation:
    program = parse(expression)
    assigned = {s.target for s in program.statements if s.target}
    intermediate = wrt if wrt in assigned else None
    original = derivative.lowered
    try:
        lowered = lower(_regrouped(program, wrt), shapes, intermediate=intermediate, assume=derivative.assume)
        if lowered.value.surface() != original.value.surface():
            lowered = original
    except MatdiffError:
        lowered = original
    if intermediate is not None:
        assert lowered.intermediate_value is not None  # lowering with intermediate= records the intermediate's value
        variable = Value(ir.var(intermediate, lowered.intermediate_value.node.shape), lowered.intermediate_value.row)
    elif wrt in lowered.variables:
        variable = lowered.variables[wrt]
    else:
        variable = Value(ir.var(wrt, derivative.arrangement.x_shapes[0]))
    output = output_name(lowered)
    walk = _Walk(lowered, variable, wrt, layout, output)
    steps = walk.run() if walk.depends.get(id(lowered.value.node)) else []
    chain, is_product = _chain(steps, layout, wrt)
    result_named = None
    if steps:
        last = steps[-1].accumulated
        assert last.node is not None  # _factor always sets it
        arranged = simplify(apply_arrangement(ir.reshape(last.node, derivative.arrangement.y_shape +
                                                         derivative.arrangement.x_shapes[0]),
                                              derivative.arrangement), derivative.assume)
        result_named = matrix_form(arranged, derivative.assume)
    notes = list(derivative.notes)
    if layout == "numerator" and not derivative.arrangement.y_shape and len(variable.surface()) == 2:
        notes.append(f"numerator layout puts ∂{output}/∂{wrt}[i,j] at row j, column i: the transpose of "
                     f"{wrt}'s shape (denominator and gradient layouts keep {wrt}'s shape)")
    if layout == "gradient" and any(step.shape for step in steps[:-1]):
        notes.append("intermediate steps that are not scalars are shown in the denominator layout, which the "
                     "gradient layout extends")
    try:
        view = backprop(original if intermediate is None else lower(program, shapes, assume=derivative.assume), output=output,
                        assume=derivative.assume)
    except MatdiffError:
        view = None
    vec = None
    if derivative.text is None and layout != "vec":
        in_vec = diff(expression, wrt=wrt, shapes=shapes, layout="vec", assume=derivative.assume)
        if in_vec.text is not None:
            vec = f"{in_vec.text}, {shape_text(in_vec.shape)}"
    index = derivative.index.replace("∂y/", f"∂{output}/").replace("∂Y[", f"∂{output}[").replace("∂f/", f"∂{output}/")
    return Explanation(expression, wrt, layout, output, variable.surface(), tuple(steps), chain, is_product,
                       derivative.text, result_named, vec, index, derivative.shape, _WHY[layout], tuple(notes), view,
                       derivative, _conventions(expression, wrt, shapes, layout, derivative))


def _conventions(expression: str, wrt: str, shapes, layout: str, derivative: Derivative) -> tuple:
    """Each convention's derivative by a structured ``wrt``, printed, and when it is the right one."""
    if not derivative.assume.structure_of(wrt).square:
        return ()
    shown = []
    for name, convention in CONVENTIONS.items():
        other = diff(expression, wrt=wrt, shapes=shapes, layout=layout, assume=derivative.assume, convention=name)
        shown.append((name, f"{convention.formula} = {other.text or other.index}", convention.when))
    return tuple(shown)

