"""Lowering: syntax tree + shapes → tensor IR, checking every shape on the way.

The input language is MATLAB-like: a vector is a column, ``x'`` is a row, ``*``
is a matrix product or a scaling, and a value whose every dimension is 1 acts
as a scalar where a matrix product would not fit. The IR is honest tensors, so
a row vector is stored as a rank-1 tensor plus a ``row`` flag on its
:class:`Value`; products are written as einsums over the real axes only.

Shapes not given by the caller follow matrixcalculus.org (names starting with
a–g are scalars, h–z vectors, A–Z matrices), with unknown dimensions found by
unification (:mod:`matdiff.language.shapes`). Lowering runs twice: once with dimension variables to solve the
shapes, once with the solved shapes to build the IR that is kept. Errors name
the operation and both shapes in the user's terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from matdiff import limits
from matdiff.engine import ir
from matdiff.errors import LimitError, MatdiffError, ShapeError, UnknownNameError
from matdiff.engine.ir import Tensor, const, einsum, eye, is_all_ones
from matdiff.engine.functions import FUNCTIONS
from matdiff.engine.primitives import substitute
from matdiff.engine.spelled import recognised
from matdiff.engine.along import count, expand
from matdiff.engine.calls import FUNCTION_NAMES, Calls  # noqa: F401 - FUNCTION_NAMES: this module's API
from matdiff.engine.values import Value
from matdiff.language.assumptions import Assumptions
from matdiff.language.shapes import Dims, as_mapping, default_shape, describe_shape, name_unknowns, normalize_shape, shape_text
from matdiff.language.syntax import Chain, Name, Number, Power, Program, Signed, Transpose


@dataclass
class Lowered:
    """The IR of a program and what the rest of the pipeline needs to know about it."""

    value: Value
    variables: dict  # name -> Value (the var node and its surface kind)
    assigned: dict  # name -> Value of each intermediate
    intermediate_value: Value | None  # the real value of the intermediate differentiated by
    notes: list = field(default_factory=list)
    positions: dict = field(default_factory=dict)  # id(node) -> (node, position)
    intermediate: str | None = None  # its name: a variable of that name stands for it in the IR

    def filled_in(self, node: Tensor) -> Tensor:
        """``node`` with the intermediate's variable replaced by its value (in terms of the inputs)."""
        if self.intermediate is None or self.intermediate_value is None:
            return node
        value = self.intermediate_value.node
        return substitute(node, {id(ir.var(self.intermediate, value.shape)): value})


# ----- the lowering ---------------------------------------------------------------------------


def lower(program: Program, shapes: dict | None = None, intermediate: str | None = None,
          assume: Assumptions | None = None) -> Lowered:
    """Check shapes and build the IR of ``program``; ``intermediate`` names an intermediate to treat
    as an independent variable (to differentiate by it); ``assume`` may make an input square."""
    first, solved = _solve_shapes(program, shapes, intermediate, assume)
    second = _Lowering(program, solved, Dims(), intermediate, assume, declared=first.shapes)
    second.run()
    return second.result


def infer_shapes(program: Program, shapes: dict | None = None, assume: Assumptions | None = None) -> dict:
    """The shape of every input variable (declared or inferred), by name."""
    first, solved = _solve_shapes(program, shapes, None, assume)
    return {name: solved[name] if not first.result.variables[name].row else (1,) + solved[name]
            for name in first.result.variables}


def _solve_shapes(program: Program, shapes: dict | None, intermediate: str | None,
                  assume: Assumptions | None) -> tuple["_Lowering", dict]:
    """The first pass, with unknown dimensions: every variable's shape, solved and named."""
    declared = {name: normalize_shape(name, spec) for name, spec in as_mapping("shapes", shapes).items()}
    solver = Dims()
    first = _Lowering(program, declared, solver, intermediate, assume)
    first.run()
    unknown = {name: value.node.shape for name, value in first.result.variables.items()}
    return first, name_unknowns(unknown, declared, solver)


class _Lowering(Calls):
    def __init__(self, program: Program, shapes: dict, dims: Dims, intermediate: str | None, assume: Assumptions | None,
                 declared: dict | None = None):
        self.program = program
        self.declared = shapes if declared is None else declared  # the caller's shapes: their dimension names
        self.assume = assume or Assumptions()
        self.shapes = shapes
        self.dims = dims
        self.intermediate = intermediate
        self.environment: dict[str, Value] = {}
        self.named: set[int] = set()  # ids of the assigned values' nodes: never flattened into a sum
        self.result = Lowered(Value(const(0.0)), {}, {}, None, intermediate=intermediate)

    def error(self, message: str, position: int, kind=ShapeError) -> MatdiffError:
        return kind(message, position, self.program.source)

    def show(self, value: Value) -> str:
        return describe_shape(value.surface(), self.dims.show)

    def record(self, node: Tensor, position: int) -> Tensor:
        """node, or the primitive it spells out (:mod:`matdiff.engine.spelled`), at ``position``."""
        node = recognised(node)
        self.result.positions.setdefault(id(node), (node, position))
        return node

    def run(self):
        intermediate_seen = False
        for statement in self.program.statements:
            value = self.expression(statement.value)
            if statement.target is None:
                self.result.value = value
                continue
            if statement.target in self.assume.names:
                raise self.error(f"{statement.target} is assigned in the program; assume describes inputs "
                                 f"(here {statement.target} = …)", statement.position, MatdiffError)
            self.result.assigned[statement.target] = value
            if statement.target == self.intermediate:
                intermediate_seen = True
                self.result.intermediate_value = value
                value = Value(ir.var(statement.target, value.node.shape), value.row)
            self.environment[statement.target] = value
            self.named.add(id(value.node))
        if self.intermediate is not None and not intermediate_seen and self.intermediate not in self.result.variables:
            names = sorted(set(self.result.variables) | set(self.result.assigned))
            raise self.error(f"cannot differentiate with respect to {self.intermediate}: it does not occur "
                             f"(names here: {', '.join(names)})", None, UnknownNameError)
        if is_all_ones(self.result.value.node.shape) and self.result.value.node.rank > 0:
            shape = shape_text(self.result.value.as_matrix())
            self.result.notes.append(f"the result is {shape}, a scalar for layout purposes")

    # -- expressions --

    def expression(self, node) -> Value:
        method = getattr(self, "lower_" + type(node).__name__)
        return method(node)

    def lower_Number(self, node: Number) -> Value:
        return Value(const(node.value))

    def lower_Name(self, node: Name) -> Value:
        name = node.name
        if name in self.environment:
            return self.environment[name]
        if name in self.result.variables:
            return self.result.variables[name]
        shape = self.shapes.get(name)
        dimension = self.dimension_named(name)
        if dimension is not None and shape is not None:  # SPEC "Layers": a name that is both is an error
            raise self.error(f"{name} is both a variable and a dimension of a shape, so it could mean either: "
                             "rename one", node.position, MatdiffError)
        if dimension is not None:  # Q*K'/sqrt(d) with Q n×d: the size d
            return Value(count(dimension))
        if shape is None:
            shape = default_shape(name)
        value = Value(ir.var(name, shape))
        if self.assume.structure_of(name).square:
            self.check_square(name, value, node.position)
        self.result.variables[name] = value
        return value

    def dimension_named(self, name: str) -> str | None:
        """``name`` when it names a symbolic dimension of a declared shape (it then stands for that
        size in an expression, SPEC "Layers"), else None."""
        for shape in self.declared.values():
            if name in shape:
                return name
        return None

    def check_square(self, name: str, value: Value, position: int) -> None:
        """A symmetric, SPD or diagonal input is a square matrix: its two dimensions are one."""
        structure = self.assume.as_dict()[name]
        if value.node.rank != 2 or not self.dims.unify(*value.node.shape):
            raise self.error(f"{name} is assumed {structure}, which needs a square matrix, but {name} is "
                             f"{self.show(value)}", position, MatdiffError)

    def lower_Signed(self, node: Signed) -> Value:
        value = self.expression(node.operand)
        if node.sign == "+":
            return value
        return Value(self.record(ir.scale(-1.0, value.node), node.position), value.row)

    def lower_Transpose(self, node: Transpose) -> Value:
        value = self.expression(node.operand)
        if value.node.rank == 2:
            return Value(self.record(ir.transpose(value.node), node.position))
        return Value(value.node, not value.row if value.node.rank == 1 else False)

    def lower_Chain(self, node: Chain) -> Value:
        value = self.expression(node.first)
        if node.rest[0][0] in "+-":
            return self.sum_chain(value, node)
        for op, position, operand in node.rest:
            value = self.binary(op, value, self.expression(operand), position)
        return value

    def sum_chain(self, first: Value, node: Chain) -> Value:
        """a + b - c + …, checked term by term but summed once: adding terms one at a time
        would build sums of 2, 3, … n terms, quadratic in the length of the chain."""
        terms = [first]  # same-shaped terms not yet summed
        for op, position, operand in node.rest:
            right = self.expression(operand)
            if op == "-":
                right = Value(ir.scale(-1.0, right.node), right.row)
            left = terms[0]
            if (left.node.rank == 0) == (right.node.rank == 0) and self.same_shape(left, right):
                terms.append(right)  # what self.add would do: no broadcast, no squeeze
                continue
            pending = self.summed(terms, node.rest[0][1])
            terms = [self.add(pending, right, position, "add" if op == "+" else "subtract")]
        return self.summed(terms, node.rest[0][1])

    def summed(self, terms: list, position: int) -> Value:
        if len(terms) == 1:
            return terms[0]
        return Value(self.record(ir.add(*(t.node for t in terms), named=self.named), position), terms[0].row)

    def lower_Power(self, node: Power) -> Value:
        base = self.expression(node.base)
        exponent = self.expression(node.exponent)
        if node.op == ".^" or base.node.rank == 0:
            return self.elementwise_power(base, exponent, node.position)
        rows, columns = base.as_matrix()
        if base.node.rank == 1:
            raise self.error(f"cannot raise {self.show(base)} to a power with ^; use .^ for elementwise powers",
                             node.position)
        if not self.dims.unify(rows, columns):
            raise self.error(f"matrix power needs a square matrix, not {self.show(base)}; "
                             "use .^ for elementwise powers", node.position)
        k = exponent.node.params[0] if exponent.node.op == "const" and exponent.node.rank == 0 else None
        if k is None or not float(k).is_integer():
            raise self.error("a matrix power needs an integer exponent; use .^ for elementwise powers",
                             node.position)
        k = int(k)
        if abs(k) > limits.current.max_matrix_power:
            raise self.error(f"matrix power {k} exceeds the limit of {limits.current.max_matrix_power} "
                             "(see matdiff.limits)", node.position, LimitError)
        factor = base.node if k >= 0 else FUNCTIONS["inv"](base.node)
        result = eye(rows)
        for _ in range(abs(k)):
            result = factor if result.op == "eye" else ir.matmul(result, factor)
        return Value(self.record(result, node.position))

    def elementwise_power(self, base: Value, exponent: Value, position: int) -> Value:
        if exponent.node.op == "const" and exponent.node.rank == 0:
            return Value(self.record(ir.apply("constant_power", base.node, exponent.node.params[0]), position), base.row)
        # x .^ e with e not a number: no logarithm, so negative bases stay real where e is an integer
        base, exponent = self.aligned(base, exponent)
        if base.node.rank and exponent.node.rank and not self.same_shape(base, exponent):
            raise self.error(f"cannot raise {self.show(base)} elementwise to the power {self.show(exponent)}",
                             position)
        shaped = base if base.node.rank else exponent
        return Value(self.record(ir.power(base.node, exponent.node), position), shaped.row)

    # -- binary operators --

    def binary(self, op: str, left: Value, right: Value, position: int) -> Value:
        if op in "+-":
            if op == "-":
                right = Value(ir.scale(-1.0, right.node), right.row)
            return self.add(left, right, position, "add" if op == "+" else "subtract")
        if op == "*":
            return self.multiply(left, right, position)
        if op == "/":
            if right.node.rank and not is_all_ones(right.node.shape):
                raise self.error(f"cannot divide by {self.show(right)}: / divides by a scalar; "
                                 "use ./ for elementwise division", position)
            divisor = self.squeeze(right)
            if left.node.op == "const" and left.node.rank == 0 and divisor.op == "const" and divisor.params[0] != 0:
                # a number over a number is their quotient, rounded once: -10/3 is the double -10/3 (a
                # printed fraction evaluates to the same double it stands for), not -10·(1/3)
                return Value(self.record(ir.const(left.node.params[0] / divisor.params[0]), position), left.row)
            reciprocal = ir.apply("constant_power", divisor, -1.0)
            return Value(self.record(ir.scale(reciprocal, left.node), position), left.row)
        if op in (".*", "./"):
            if op == "./":
                right = Value(self.record(ir.apply("constant_power", right.node, -1.0), position), right.row)
            return self.elementwise_product(left, right, position, "divide" if op == "./" else "multiply")
        raise AssertionError(op)

    def squeeze(self, value: Value) -> Tensor:
        """An all-ones-shaped value as a scalar."""
        return ir.reshape(value.node, ()) if value.node.rank else value.node

    def broadcast(self, scalar: Tensor, like: Value) -> Tensor:
        labels = tuple(range(like.node.rank))
        return einsum(labels, (scalar, ()), sizes=dict(zip(labels, like.node.shape)))

    def aligned(self, left: Value, right: Value) -> tuple[Value, Value]:
        """A vector beside a matrix of its own shape (a row 1×n beside a 1×n matrix, a column beside
        an n×1 one) reshaped to that matrix, so elementwise operations take both; anything else as it
        is. Only a dimension known to be 1 matches a vector's implied one: nothing broadcasts but a
        scalar (the language's one broadcast: a scalar plus a vector or matrix is elementwise), and no
        matrix is inferred to be a vector."""
        if {left.node.rank, right.node.rank} != {1, 2}:
            return left, right
        vector, matrix = (left, right) if left.node.rank == 1 else (right, left)
        if is_all_ones(matrix.node.shape):
            return left, right  # a 1×1 matrix is a scalar (add squeezes it); its 1 infers no vector's length
        rows, columns = vector.as_matrix()
        unit = 0 if vector.row else 1
        if matrix.node.shape[unit] != 1 or not self.dims.unify((rows, columns)[1 - unit], matrix.node.shape[1 - unit]):
            return left, right
        reshaped = Value(ir.reshape(vector.node, matrix.node.shape))
        return (reshaped, right) if vector is left else (left, reshaped)

    @staticmethod
    def no_broadcast(left: Value, right: Value) -> str:
        """Why two shapes fail an elementwise operation: implicit expansion repeats only a
        dimension of size 1."""
        if not left.node.rank or not right.node.rank:
            return ""
        return "; implicit expansion repeats only a dimension of size 1 (an m×1 column or a 1×n row)"

    def same_shape(self, left: Value, right: Value) -> bool:
        if left.node.rank != right.node.rank or (left.node.rank == 1 and left.row != right.row):
            return False
        if left.node.shape == right.node.shape:  # the same dimensions (a DimVar equals only itself)
            return True
        return all(self.dims.unify(a, b) for a, b in zip(left.node.shape, right.node.shape))

    def add(self, left: Value, right: Value, position: int, verb: str) -> Value:
        if left.node.rank == 0 and right.node.rank:
            left = Value(self.broadcast(left.node, right), right.row)
        elif right.node.rank == 0 and left.node.rank:
            right = Value(self.broadcast(right.node, left), left.row)
        else:
            left, right = self.aligned(left, right)
        if not self.same_shape(left, right):
            if is_all_ones(left.node.shape) and left.node.rank:
                return self.add(Value(self.squeeze(left)), right, position, verb)
            if is_all_ones(right.node.shape) and right.node.rank:
                return self.add(left, Value(self.squeeze(right)), position, verb)
            expanded = expand(self.dims.unify, left, right)
            if expanded is not None:
                return Value(self.record(ir.add(*expanded, named=self.named), position))
            raise self.error(f"cannot {verb} {self.show(left)} and {self.show(right)}{self.no_broadcast(left, right)}",
                             position)
        return Value(self.record(ir.add(left.node, right.node, named=self.named), position), left.row)

    def elementwise_product(self, left: Value, right: Value, position: int, verb: str = "multiply") -> Value:
        if left.node.rank == 0 or right.node.rank == 0:
            scalar, other = (left, right) if left.node.rank == 0 else (right, left)
            return Value(self.record(ir.scale(scalar.node, other.node), position), other.row)
        left, right = self.aligned(left, right)
        if not self.same_shape(left, right):
            expanded = expand(self.dims.unify, left, right)
            if expanded is not None:
                return Value(self.record(ir.hadamard(*expanded), position))
            raise self.error(f"cannot {verb} elementwise {self.show(left)} and {self.show(right)}"
                             f"{self.no_broadcast(left, right)}", position)
        return Value(self.record(ir.hadamard(left.node, right.node), position), left.row)

    def multiply(self, left: Value, right: Value, position: int) -> Value:
        if left.node.rank == 0 or right.node.rank == 0:
            return self.elementwise_product(left, right, position)
        (_, b), (c, _) = left.as_matrix(), right.as_matrix()
        if not self.dims.unify(b, c):
            if is_all_ones(left.node.shape):
                return self.elementwise_product(Value(self.squeeze(left)), right, position)
            if is_all_ones(right.node.shape):
                return self.elementwise_product(left, Value(self.squeeze(right)), position)
            raise self.error(
                f"cannot multiply {self.show(left)} by {self.show(right)}: inner dimensions "
                f"{self.dims.show(b)} and {self.dims.show(c)} differ", position)
        # Label the real axes: a row vector has no real row axis, a column no real column axis.
        left_row = "i" if left.kind in ("matrix", "column") else None
        left_inner = "k" if left.kind in ("matrix", "row") else None
        right_inner = "k" if right.kind in ("matrix", "column") else None
        right_column = "j" if right.kind in ("matrix", "row") else None
        if left_inner is None and right_inner is not None:
            right_inner = "k_alone"  # a real axis of size 1 meeting an implied one: summed alone
        if right_inner is None and left_inner is not None:
            left_inner = "k_alone"
        left_labels = [x for x in (left_row, left_inner) if x]
        right_labels = [x for x in (right_inner, right_column) if x]
        output = [x for x in (left_row, right_column) if x]
        node = self.record(einsum(output, (left.node, left_labels), (right.node, right_labels)), position)
        is_row = len(output) == 1 and output[0] == "j"
        return Value(node, is_row)

    # -- functions --
