"""SymPy interop: SymPy matrix expressions in, matdiff derivatives back out as SymPy.

- :func:`from_sympy` turns an expression over ``MatrixSymbol`` s (and scalar ``Symbol`` s)
  into this package's input language plus the shapes of its names — the pair ``md.diff``
  takes: ``text, shapes = md.from_sympy(e); md.diff(text, wrt="X", shapes=shapes)``. It
  returns a :class:`SympyExpression` (a named tuple), so ``md.diff(*pair)`` is not the
  call; name the variable with ``wrt=``.
- :func:`to_sympy` (also ``Derivative.to_sympy()``) turns a derivative's matrix form back into
  a SymPy matrix expression, with the same symbols.

Both directions go through the text of the input language, so they share the parser and
the language's rules (a vector is a column, ``x'`` a row, a scalar plus a matrix is
elementwise). SymPy is imported here only, on first use.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Protocol

from matdiff.engine.ir import dim_factors
from matdiff.engine.functions import COLUMNS, ENTRIES, FUNCTIONS
from matdiff.errors import MatdiffError
from matdiff.interop.powers import exact_power
from matdiff.language.syntax import Call, Chain, Name, Number, Power, Signed, Transpose, is_name, parse



class MatrixForm(Protocol):
    """What :func:`to_sympy` reads of a derivative (``matdiff.api.Derivative`` is one; this layer is
    below the API and does not import it)."""

    text: str | None
    layout: str

    @property
    def input_variables(self) -> dict[str, Any]: ...  # name -> an IR variable, with its shape


class SympyExpression(NamedTuple):
    """An expression in the input language and the shapes of its names (for ``md.diff``)."""

    text: str
    shapes: dict[str, tuple]


# ----- SymPy → text --------------------------------------------------------------------------------

def _elementwise_name(sympy_class: str) -> str | None:
    """The language's name of SymPy's elementwise function class (Heaviside is step's body), from the records."""
    names = {f.sympy: f.name for f in FUNCTIONS.values() if f.acts == ENTRIES and isinstance(f.sympy, str)}
    return names.get(sympy_class, "step" if sympy_class == "Heaviside" else None)


def _bodies() -> dict:
    """The language's elementwise functions SymPy has no class for, recognised by their bodies."""
    return {f.name: f.sympy for f in FUNCTIONS.values() if f.acts == ENTRIES and not isinstance(f.sympy, str)}


def from_sympy(expression: Any) -> SympyExpression:
    """The input-language text of a SymPy (matrix) expression and the shapes of its symbols.

    ``MatrixSymbol('x', n, 1)`` is the column vector ``x`` of shape ``('n',)``, other matrix
    symbols keep both dimensions, plain ``Symbol`` s are scalars. Dimensions that are SymPy
    symbols become dimension names. Raises :class:`MatdiffError` for a construct the language
    has no counterpart for (an explicit matrix, an entry ``X[i, j]``, a sum over an index).
    """
    sympy = _sympy()
    if not isinstance(expression, sympy.Basic):
        raise MatdiffError(f"from_sympy takes a SymPy expression, not {type(expression).__name__}")
    printer = _ToText(sympy)
    try:
        text = printer.text(expression)
    except (ValueError, OverflowError, RecursionError) as error:  # a 5,000-digit integer, a huge nesting
        raise MatdiffError(f"from_sympy cannot read this expression: {str(error)[:120]}") from None
    return SympyExpression(text, printer.shapes)


class _ToText:
    def __init__(self, sympy: Any):
        self.sp = sympy
        self.shapes: dict[str, tuple] = {}

    def dimension(self, d: Any) -> int | str:
        sp = self.sp
        if isinstance(d, (int, sp.Integer)):
            return int(d)
        if isinstance(d, sp.Symbol) and is_name(d.name):
            return d.name
        raise MatdiffError(f"dimension {d} is not an integer or a single symbol")

    def declare(self, name: str, shape: tuple) -> str:
        if not is_name(name):
            raise MatdiffError(f"the symbol name {name!r} is not a name in the language (ASCII letters, digits, _)")
        if self.shapes.setdefault(name, shape) != shape:
            raise MatdiffError(f"{name} is used with two shapes, {self.shapes[name]} and {shape}")
        return name

    def text(self, e: Any) -> str:
        sp = self.sp
        M = sp.matrices.expressions
        from sympy.matrices.expressions import applyfunc  # noqa: F401 - a submodule sympy does not import itself
        if isinstance(e, sp.MatrixSymbol):
            rows, columns = self.dimension(e.rows), self.dimension(e.cols)
            return self.declare(e.name, (rows,) if columns == 1 else (rows, columns))
        if isinstance(e, sp.Symbol):
            return self.declare(e.name, ())
        if isinstance(e, sp.Number):
            return self.number(e)
        if e in (sp.pi, sp.E):
            return self.number(sp.Float(e))
        if isinstance(e, (sp.Add, sp.MatAdd)):
            return "(" + " + ".join(self.text(a) for a in e.args) + ")"
        if isinstance(e, (sp.Mul, sp.MatMul)):
            return "(" + "*".join(self.text(a) for a in e.args) + ")"
        if isinstance(e, sp.Pow):
            if e.exp == -1:
                return f"(1/{self.text(e.base)})"
            return f"({self.text(e.base)})^({self.text(e.exp)})"
        if isinstance(e, sp.Inverse):  # before MatPow: an Inverse is a MatPow
            return f"inv({self.text(e.arg)})"
        if isinstance(e, sp.MatPow):
            return f"({self.text(e.base)})^({self.text(e.exp)})"
        if isinstance(e, sp.Transpose):
            return f"({self.text(e.arg)})'"
        if isinstance(e, sp.Determinant):
            return f"det({self.text(e.arg)})"
        if isinstance(e, sp.Trace):
            return f"tr({self.text(e.arg)})"
        if isinstance(e, sp.log) and isinstance(e.args[0], sp.Determinant):
            return f"logdet({self.text(e.args[0].arg)})"
        if isinstance(e, sp.HadamardProduct):
            return "(" + " .* ".join(self.text(a) for a in e.args) + ")"
        if isinstance(e, sp.HadamardPower):
            return f"({self.text(e.base)}) .^ ({self.text(e.exp)})"
        if isinstance(e, sp.KroneckerProduct):
            result = self.text(e.args[0])
            for factor in e.args[1:]:
                result = f"kron({result}, {self.text(factor)})"
            return result
        if isinstance(e, sp.Identity):
            return f"eye({self.dimension(e.rows)})"
        if isinstance(e, M.special.OneMatrix):
            rows, columns = self.dimension(e.rows), self.dimension(e.cols)
            return f"ones({rows})" if columns == 1 else f"ones({rows}, {columns})"
        if isinstance(e, sp.ZeroMatrix):
            rows, columns = self.dimension(e.rows), self.dimension(e.cols)
            return f"(0*ones({rows}))" if columns == 1 else f"(0*ones({rows}, {columns}))"
        if isinstance(e, M.diagonal.DiagMatrix):
            return f"diag({self.text(e.arg)})"
        if isinstance(e, M.diagonal.DiagonalOf):
            return f"diag({self.text(e.arg)})"
        if isinstance(e, M.applyfunc.ElementwiseApplyFunction):
            # SymPy pushes transposes inside entrywise functions ((f(W*x))' becomes f(x'*W')); pull
            # them back out, so f(x'*W') and f(W*x) read as one subexpression and are shared.
            flipped = e.expr.T
            if _transposes(sp, flipped) < _transposes(sp, e.expr):
                return f"({self.elementwise(e.function, self.text(flipped))})'"
            return self.elementwise(e.function, self.text(e.expr))
        if isinstance(e, sp.Function) and len(e.args) == 1:
            name = _elementwise_name(type(e).__name__)
            if name is not None:
                return f"{name}({self.text(e.args[0])})"
        raise MatdiffError(f"from_sympy: no counterpart in the language for {type(e).__name__} ({e})")

    def number(self, value: Any) -> str:
        sp = self.sp
        if isinstance(value, sp.Rational) and not isinstance(value, sp.Integer):
            return f"({value.p}/{value.q})"
        try:
            number = float(value)
        except (TypeError, OverflowError):
            number = math.nan
        if not math.isfinite(number):  # printed, inf or nan would be names in the language
            shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:20]}… ({len(str(value))} characters)"
            raise MatdiffError(f"from_sympy: {shown} is not a finite real number")
        text = str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
        return f"({text})" if number < 0 else text

    def elementwise(self, function: Any, argument: str) -> str:
        """f applied entrywise: a SymPy function class, or a Lambda whose body is written with
        elementwise operators (1/(1 + exp(-d)) is recognised as sigmoid)."""
        sp = self.sp
        name = _elementwise_name(getattr(function, "__name__", ""))
        if name is not None:
            return f"{name}({argument})"
        if isinstance(function, sp.Lambda) and len(function.variables) == 1:
            (d,) = function.variables
            body = function.expr
            for name, known in _bodies().items():
                if body == known(sp, d) or sp.simplify(body - known(sp, d)) == 0:
                    return f"{name}({argument})"
            return _ElementwiseBody(sp, d, argument).text(body)
        raise MatdiffError(f"from_sympy: cannot apply {function} entrywise in the language")


def _transposes(sp: Any, e: Any) -> int:
    """How many Transpose nodes a SymPy expression holds."""
    return sum(isinstance(node, sp.Transpose) for node in sp.preorder_traversal(e))


class _ElementwiseBody:
    """The body of a Lambda, with its variable replaced by a matrix and * / ^ made elementwise."""

    def __init__(self, sympy: Any, variable: Any, argument: str):
        self.sp, self.variable, self.argument = sympy, variable, argument

    def text(self, e: Any) -> str:
        sp = self.sp
        if e == self.variable:
            return f"({self.argument})"
        if isinstance(e, sp.Number):
            return _ToText(sp).number(e)
        if isinstance(e, sp.Add):
            return "(" + " + ".join(self.text(a) for a in e.args) + ")"
        if isinstance(e, sp.Mul):
            return "(" + " .* ".join(self.text(a) for a in e.args) + ")"
        if isinstance(e, sp.Pow):
            return f"({self.text(e.base)} .^ {self.text(e.exp)})"
        name = _elementwise_name(type(e).__name__) if isinstance(e, sp.Function) and len(e.args) == 1 else None
        if name is not None:
            return f"{name}({self.text(e.args[0])})"
        raise MatdiffError(f"from_sympy: cannot write {e} entrywise in the language")


# ----- matdiff → SymPy ----------------------------------------------------------------------------------


def to_sympy(derivative: MatrixForm) -> Any:
    """The derivative's matrix form as a SymPy expression over ``MatrixSymbol`` s.

    Vectors become n×1 matrix symbols, scalars ``Symbol`` s, symbolic dimensions SymPy
    symbols. Raises :class:`MatdiffError` when the derivative has no matrix form in its
    layout (a higher-order tensor): choose layout='vec' for a matrix arrangement of it.
    """
    if derivative.text is None:
        raise MatdiffError(f"this derivative has no matrix form in the {derivative.layout} layout; "
                           "layout='vec' arranges any derivative as a matrix")
    shapes = {name: node.shape for name, node in derivative.input_variables.items()}
    _sympy()
    try:
        return text_to_sympy(derivative.text, shapes)
    except MatdiffError:
        raise
    except (TypeError, ValueError) as error:  # SymPy's NonInvertibleMatrixError is a ValueError
        # SymPy's matrix expressions cannot state every form: a scalar times an outer product in a
        # vec layout ("Mix of Matrix and Scalar symbols"), the inverse of a singular constant
        raise MatdiffError(f"SymPy cannot hold this derivative's matrix form ({type(error).__name__}: "
                           f"{str(error)[:100]}); its text is {derivative.text}") from None


def _sympy():
    """SymPy, or a MatdiffError that says how to install it (as ``entries`` does)."""
    try:
        import sympy
    except ModuleNotFoundError:
        raise MatdiffError("to_sympy needs SymPy: pip install 'matdiff[sympy]'") from None
    return sympy


def text_to_sympy(text: str, shapes: dict[str, tuple]) -> Any:
    """A program of the input language as a SymPy expression (assignments substituted)."""
    import sympy

    builder = _ToSympy(sympy, shapes)
    program = parse(text)
    result = None
    for statement in program.statements:
        result = builder.value(statement.value)
        if statement.target is not None:
            builder.environment[statement.target] = result
    return result


class _ToSympy:
    def __init__(self, sympy: Any, shapes: dict[str, tuple]):
        self.sp = sympy
        self.shapes = shapes
        self.environment: dict[str, Any] = {}
        self.symbols: dict[str, Any] = {}

    def dimension(self, d: Any) -> Any:
        if isinstance(d, int):
            return d
        factors = [self.sp.Integer(int(f)) if f.isdigit() else self.sp.Symbol(f, integer=True, positive=True)
                   for f in dim_factors(d)]
        return self.sp.Mul(*factors)

    def symbol(self, name: str) -> Any:
        if name in self.environment:
            return self.environment[name]
        if name not in self.symbols:
            shape = tuple(self.shapes.get(name, ()))
            if not shape:
                self.symbols[name] = self.sp.Symbol(name)
            else:
                rows = self.dimension(shape[0])
                columns = self.dimension(shape[1]) if len(shape) == 2 else 1
                self.symbols[name] = self.sp.MatrixSymbol(name, rows, columns)
        return self.symbols[name]

    def is_matrix(self, e: Any) -> bool:
        return bool(getattr(e, "is_Matrix", False))

    def scalar(self, e: Any) -> Any:
        """A 1×1 matrix as the scalar it stands for (the language's rule)."""
        return e[0, 0] if self.is_matrix(e) and e.shape == (1, 1) else e

    def value(self, node: Any) -> Any:
        sp = self.sp
        if isinstance(node, Number):
            return sp.Integer(int(node.value)) if float(node.value).is_integer() else sp.Float(node.value)
        if isinstance(node, Name):
            return self.symbol(node.name)
        if isinstance(node, Signed):
            inner = self.value(node.operand)
            return -inner if node.sign == "-" else inner
        if isinstance(node, Transpose):
            inner = self.value(node.operand)
            return inner.T if self.is_matrix(inner) else inner
        if isinstance(node, Chain):
            result = self.value(node.first)
            for op, _, operand in node.rest:
                result = self.binary(op, result, self.value(operand))
            return result
        if isinstance(node, Power):
            base, exponent = self.value(node.base), self.value(node.exponent)
            if not self.is_matrix(base):
                return exact_power(sp, base, self.scalar(exponent))
            if node.op == ".^":
                return sp.HadamardPower(base, self.scalar(exponent))
            return sp.Inverse(base) if exponent == -1 else sp.MatPow(base, exponent)
        if isinstance(node, Call):
            return self.call(node)
        raise MatdiffError(f"cannot convert {type(node).__name__} to SymPy")

    def binary(self, op: str, left: Any, right: Any) -> Any:
        sp = self.sp
        matrices = self.is_matrix(left), self.is_matrix(right)
        if op in "+-":
            if op == "-":
                right = -right
            if matrices == (True, False):
                right = right * sp.OneMatrix(*left.shape)
            elif matrices == (False, True):
                left = left * sp.OneMatrix(*right.shape)
            elif all(matrices):
                left, right = self.expanded(left, right)
            return left + right
        if op == "*":
            if all(matrices) and left.shape[1] != right.shape[0]:
                left, right = self.scalar(left), self.scalar(right)
            return left * right
        if op == "/":
            return left * self.scalar(right) ** -1
        if op in (".*", "./"):
            if op == "./":
                right = sp.HadamardPower(right, -1) if self.is_matrix(right) else right ** -1
            if all(matrices):
                return sp.HadamardProduct(*self.expanded(left, right))
            return left * right
        raise MatdiffError(f"cannot convert the operator {op} to SymPy")

    def expanded(self, left: Any, right: Any) -> tuple[Any, Any]:
        """Implicit expansion as products with ones: an m×1 beside m×n is v·1ᵀ, a 1×n is 1·r."""
        sp = self.sp
        (lr, lc), (rr, rc) = left.shape, right.shape
        if (lr, lc) == (rr, rc):
            return left, right

        def spread(x: Any, rows: Any, columns: Any) -> Any:
            if x.shape[1] == 1 and columns != 1:
                x = x * sp.OneMatrix(1, columns)
            if x.shape[0] == 1 and rows != 1:
                x = sp.OneMatrix(rows, 1) * x
            return x

        rows = lr if lr != 1 else rr
        columns = lc if lc != 1 else rc
        return spread(left, rows, columns), spread(right, rows, columns)

    def call(self, node: Call) -> Any:
        sp = self.sp
        name = node.function
        if name in ("eye", "ones"):
            dims = [self.dimension(int(a.value) if isinstance(a, Number) else a.name) for a in node.arguments]
            if name == "eye":
                return sp.Identity(dims[0])
            return sp.OneMatrix(dims[0], dims[1] if len(dims) == 2 else 1)
        if name in ("sum", "mean") and len(node.arguments) == 2 and isinstance(node.arguments[1], Number):
            x = self.value(node.arguments[0])  # sums of columns (1) or of rows (2), as products with ones
            if not self.is_matrix(x):
                return x
            rows, columns = x.shape
            summed = sp.OneMatrix(1, rows) * x if node.arguments[1].value == 1 else x * sp.OneMatrix(columns, 1)
            return summed if name == "sum" else summed / (rows if node.arguments[1].value == 1 else columns)
        args = [self.value(a) for a in node.arguments]
        x = args[0]
        matrix = self.is_matrix(x)
        d = sp.Dummy("d")
        if name in FUNCTIONS and FUNCTIONS[name].acts == ENTRIES:
            form = FUNCTIONS[name].sympy
            function = getattr(sp, form) if isinstance(form, str) else sp.Lambda(d, form(sp, d))
            return x.applyfunc(function) if matrix else function(x)
        if name in FUNCTIONS and FUNCTIONS[name].acts == COLUMNS:
            raise MatdiffError(f"to_sympy: SymPy has no matrix expression for {name}()")
        if not matrix:  # the matrix functions of a scalar
            scalar = {"tr": x, "det": x, "logdet": sp.log(x), "inv": 1 / x, "diag": x, "sum": x,
                      "norm2": sp.Abs(x), "norm1": sp.Abs(x), "vec": x}
            if name == "kron":
                return x * args[1]
            return scalar[name]
        rows, columns = x.shape
        if name == "tr":
            return sp.Trace(x)
        if name == "det":
            return sp.Determinant(x)
        if name == "logdet":
            return sp.log(sp.Determinant(x))
        if name == "inv":
            return sp.Inverse(x)
        if name == "diag":
            if columns == 1 or rows == 1:
                return sp.matrices.expressions.diagonal.DiagMatrix(x)
            return sp.matrices.expressions.diagonal.DiagonalOf(x)
        if name == "sum":
            return sp.Trace(sp.OneMatrix(columns, rows) * x)
        if name == "norm2":
            return sp.sqrt(sp.Trace(x.T * x))
        if name == "norm1":
            return sp.Trace(sp.OneMatrix(columns, rows) * x.applyfunc(sp.Abs))
        if name == "kron":
            return sp.KroneckerProduct(x, args[1])
        if name == "vec":
            if columns == 1:
                return x
            raise MatdiffError("vec(X) of a matrix has no SymPy matrix-expression counterpart")
        raise MatdiffError(f"cannot convert {name}() to SymPy")
