"""Generated code: a derivative's IR → standalone NumPy, JAX or PyTorch source.

This module owns ``Derivative.code`` / ``Derivative.compile`` and ``matdiff codegen``: it
writes one Python function that imports only its backend (matdiff is not needed to run
it) and computes the arranged derivative — optionally together with the value — from
keyword arrays named like the program's inputs. It reads the IR; it never changes it.

How the IR becomes code:

- one assignment per shared node, in postorder; nodes are interned, so a subexpression
  shared by the value and the derivative (or by several factors) is computed once.
  A node used once is written inline when its expression is short;
- an einsum becomes pairwise contractions in the order opt_einsum chooses when the code
  is generated: ``A @ B``, ``tensordot``, broadcasting products (``X * v[:, None]``).
  With a symbolic dimension the sizes are unknown until the call: the order is planned with
  each symbolic size taken as SYMBOLIC_SIZE (for JAX, one einsum that XLA orders);
- Kronecker deltas and constant tensors are never built: a delta with a summed index
  was already eliminated by the simplifier, one whose indices are both free becomes a
  write into a diagonal view of the zero output (``np.einsum("ijil->ijl", out)[...] =
  inner``), and a constant becomes a number multiplied in or broadcast;
- symbolic dimensions are read from the input shapes, and every input is checked
  (``ValueError`` naming the input, the dimension and both sizes).
"""


from __future__ import annotations


import builtins
import keyword
import re
from itertools import count

from matdiff.engine import ir
from matdiff.errors import MatdiffError
from matdiff.engine.functions import ENTRIES, FUNCTIONS
from matdiff.language.syntax import is_name
from matdiff.codegen.backends import ATOM, Code, NumpyBackend, POWER, PRODUCT, SUM, backend_named, helper_sources, is_atomic, number_code, tuple_text, wrap
from matdiff.codegen.contraction import Contractions, SYMBOLIC_SIZE, is_number
from matdiff.codegen.factoring import factor_sums, postorder_of


_INLINE_LENGTH = 72  # single-use expressions longer than this get their own line


# Every name the generated module or function may use for itself: user inputs and dimensions
# get another name (lambda → lambda_) instead of shadowing one of these.


_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | {
    "np", "jnp", "jax", "torch", "dtype", "device", "sizes", "out", "values", "_check_shape", "_paths", "_x64",
    "_wants_float64", "_unused", "_derivative", "_value_and_derivative", "_value_and_gradients"}


class _Writer(Contractions):
    """Writes the body of one generated function, node by node in postorder."""

    def __init__(self, backend: NumpyBackend, roots: list[ir.Tensor], variables: dict[str, ir.Tensor],
                 statements: tuple = ()):
        self.backend = backend
        self.multiply_adds: int | None = 0  # of the pairwise products written; None once a size is unknown
        self.lines: list[str] = []
        self.helpers: set[str] = set()
        self.code: dict[int, Code] = {}
        self.taken = set(_RESERVED) | set(helper_sources(backend))
        self.temporaries = count(1)
        self.assigned: dict[str, str] = {}
        self.roots = roots
        self.order = postorder_of([node for _, node in statements] + roots)
        self.uses: dict[int, int] = {}
        for node in self.order:
            for argument in node.args:
                self.uses[id(argument)] = self.uses.get(id(argument), 0) + 1
        for root in roots:
            self.uses[id(root)] = self.uses.get(id(root), 0) + 2  # a root is always named
        self.variables = {name: node for name, node in variables.items()}
        self.names = {name: self._name(name) for name in variables}
        self.dimensions: dict[str, str] = {}
        # Statements (the reverse pass's a1, dz4, …) are bound to their printed names; a statement
        # whose node another statement already computes reads that one's name.
        self.bound: dict[int, str] = {}
        self.freeable: set[str] = set()  # locals the function may drop after their last use
        self.structures: dict[str, str] = {}  # input -> the assumed structure the code checks ("symmetric")
        for name, node in statements:
            local = self.bound.get(id(node)) or self._name(name, "value")
            self.freeable.add(local)
            self.bound.setdefault(id(node), local)
            self.names[name] = local

    def _name(self, preferred: str, fallback: str = "input") -> str:
        """A fresh local name, ``preferred`` when it is a plain ASCII name nothing else uses."""
        name = preferred if is_name(preferred) else fallback
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        return name

    def _assign(self, expression: str) -> str:
        """A name bound to ``expression``; the same expression twice is computed once
        (two IR nodes can differ only in the order of their operands)."""
        if expression not in self.assigned:
            name = self._temporary()
            self.lines.append(f"{name} = {expression}")
            self.assigned[expression] = name
        return self.assigned[expression]

    def _temporary(self) -> str:
        while True:
            name = f"t{next(self.temporaries)}"
            if name not in self.taken:
                self.taken.add(name)
                self.freeable.add(name)
                return name

    def free_after_last_use(self, returned: list[str]) -> None:
        """``del`` each temporary and statement value after the last line that reads it, as
        hand-written backprop lets each delta go: the peak stays that of the live values, not the
        sum of every intermediate (the CI guard: within 1.5× of hand-written backprop)."""
        last: dict[str, int] = {}
        for k, line in enumerate(self.lines):
            for token in re.findall(r"[A-Za-z_]\w*", line):
                if token in self.freeable:
                    last[token] = k
        keep = set(re.findall(r"[A-Za-z_]\w*", " ".join(returned)))
        freed: dict[int, list[str]] = {}
        for name, k in last.items():
            if name not in keep:
                freed.setdefault(k, []).append(name)
        lines: list[str] = []
        for k, line in enumerate(self.lines):
            lines.append(line)
            if k in freed and not line.startswith(" "):
                lines.append(f"del {', '.join(sorted(freed[k]))}")
        self.lines = lines

    # -- dimensions --

    def bind_inputs(self, needed: list[str]) -> None:
        """Convert and check every needed input; name its symbolic dimensions."""
        backend = self.backend
        self.helpers.update(("_check_shape", backend.converter))
        self.lines.append("sizes = {}")
        for name in needed:
            local, shape = self.names[name], self.variables[name].shape
            self.lines.append(f"{local} = {backend.convert(local)}")
            self.lines.extend(self._as_declared(local, shape))
            self.lines.append(f"_check_shape({name!r}, {local}, {tuple(shape)!r}, sizes)")
            if name in self.structures and backend.name != "jax":  # jax checks outside jit, in its wrapper
                self.helpers.add("_check_structure")
                self.lines.append(f"_check_structure({name!r}, {local}, {self.structures[name]!r})")
            for dimension in shape:
                if isinstance(dimension, str) and dimension not in self.dimensions:
                    self.dimensions[dimension] = self._name(dimension, "dim")
                    self.lines.append(f"{self.dimensions[dimension]} = sizes[{dimension!r}][0]")
        self.lines.extend(backend.dtype_line(self.names[needed[0]] if needed else None))

    def check_unused(self, optional: list[str], unpacked: bool) -> None:
        """An input the result does not read may be left out, but when given its shape is checked
        as ``evaluate`` checks it: a wrong size is an error, not silently ignored."""
        for name in optional:
            local, shape = self.names[name], self.variables[name].shape
            value = f"values.get({name!r})" if unpacked else local
            self.lines.append(f"if {value} is not None:")
            self.lines.append(f"    _unused = {self.backend.convert(value)}")
            self.lines.extend("    " + line for line in self._as_declared("_unused", shape))
            self.lines.append(f"    _check_shape({name!r}, _unused, {tuple(shape)!r}, sizes)")

    def _as_declared(self, local: str, shape: tuple) -> list[str]:
        """Lines that read a value as ``md.evaluate`` does: a column or row given as a 1×n or n×1
        matrix is the vector, a value of one entry the scalar."""
        if len(shape) == 1:
            return [f"if {local}.ndim == 2 and 1 in {local}.shape:", f"    {local} = {local}.reshape(-1)"]
        if not shape:
            size = "numel()" if self.backend.name == "torch" else "size"
            return [f"if {local}.ndim and {local}.{size} == 1:", f"    {local} = {local}.reshape(())"]
        return []

    def dim(self, dimension) -> str:
        if isinstance(dimension, int):
            return str(dimension)
        factors = []
        for factor in ir.dim_factors(dimension):
            if factor.isdigit():
                factors.append(factor)
            elif factor in self.dimensions:
                factors.append(self.dimensions[factor])
            else:
                raise MatdiffError(f"the size of dimension {factor} is not fixed by any input, so no code "
                                   "can compute it")
        return " * ".join(factors)

    def shape(self, dims) -> str:
        return tuple_text(self.dim(d) for d in dims) if dims else "()"

    @staticmethod
    def cost(dims) -> int:
        total = 1
        for d in dims:
            total *= d if isinstance(d, int) else SYMBOLIC_SIZE
        return total

    # -- nodes --

    def write(self, node: ir.Tensor) -> None:
        op = node.op
        if op == "var":
            code = Code(self.names[node.params[0]])
        elif op == "const":
            code = number_code(node.params[0])
        elif op == "eye":
            code = Code(self.backend.eye(self.dim(node.shape[0])).expr, holds="eye")
        elif op == "einsum" and is_pure_delta(node):
            code = Code("δ", ATOM, "delta")  # merged into the contractions that read it; built only if read otherwise
        elif op == "einsum":
            code = self.einsum(node)
        elif op == "add":
            code = self.add(node)
        elif op == "reshape":
            code = self.reshape(node)
        elif op == "power":
            base, exponent = (self.array(a) for a in node.args)
            if base.holds == "scalar":  # NumPy's power: inf or nan, never Python's OverflowError
                base = self.backend.scalar(base)
            code = Code(f"{wrap(base, ATOM)} ** {wrap(exponent, ATOM)}", POWER)
        elif op == "constant_power" or (op in FUNCTIONS and FUNCTIONS[op].acts == ENTRIES):
            code = self.elementwise(node)
        elif op in FUNCTIONS:
            code = self.function(FUNCTIONS[op].code[self.backend.name], self.array(node.args[0]), FUNCTIONS[op])
        else:
            raise MatdiffError(f"no code generation for the {op} operation")
        self.code[id(node)] = self._place(node, code)

    def _place(self, node: ir.Tensor, code: Code) -> Code:
        """Inline a short single-use expression; name everything else."""
        if code.holds == "delta" and id(node) not in self.bound:
            return code
        if id(node) in self.bound:
            local = self.bound[id(node)]
            value = self.array(node, code) if node.rank else code
            self.lines.append(f"{local} = {value.expr}")
            return Code(local, ATOM, "array" if node.rank else code.holds)
        if code.holds in ("scalar", "eye") and (node.op in ("const", "eye") or is_number(code.expr)):
            return code
        if code.precedence == ATOM and code.expr.isidentifier():
            return code
        if self.uses.get(id(node), 0) <= 1 and len(code.expr) <= _INLINE_LENGTH:
            return code
        return Code(self._assign(code.expr), ATOM, code.holds)

    def array(self, node: ir.Tensor, code: Code | None = None) -> Code:
        """The node as a real array of its shape (constants and identities built here)."""
        code = self.code[id(node)] if code is None else code
        if code.holds == "delta":  # a product of deltas read other than by a contraction: built now, once
            built = self.einsum(node)
            if not built.expr.isidentifier():
                built = Code(self._assign(built.expr), ATOM)
            self.code[id(node)] = built
            return built
        if code.holds == "eye":
            return code
        if code.holds == "scalar" and node.rank:
            return self.backend.full(code.expr, self.shape(node.shape))
        return code

    def elementwise(self, node: ir.Tensor) -> Code:
        (argument,) = node.args
        x = self.code[id(argument)]
        if x.holds == "scalar" and is_number(x.expr):  # a function of a constant: fold it here
            with _quiet():
                folded = _apply_number(node, float(x.expr))
            if folded is not None:
                return number_code(folded)
        if x.holds in ("eye", "delta"):
            x = self.array(argument)
        elif x.holds == "scalar" and (self.backend.name == "torch" or node.op == "constant_power"):
            x = self.backend.scalar(x)  # x ** k of a Python float may raise instead of giving inf
        if node.op == "constant_power":
            exponent = node.params[0]
            if exponent == 0.5:
                result = self.function(FUNCTIONS["sqrt"].code[self.backend.name], x, FUNCTIONS["sqrt"])
            elif exponent == -1.0:
                result = Code(f"1.0 / {wrap(x, PRODUCT + 1)}", PRODUCT)
            else:
                shown = str(int(exponent)) if float(exponent).is_integer() else repr(exponent)
                result = Code(f"{wrap(x, ATOM)} ** {shown if exponent >= 0 else f'({shown})'}", POWER)
        else:
            result = self.function(FUNCTIONS[node.op].code[self.backend.name], x, FUNCTIONS[node.op])
        return Code(result.expr, result.precedence, "scalar" if x.holds == "scalar" else "array")

    def function(self, template: str, x: Code, function) -> Code:
        """A function's code for this backend, from its template in the table of primitives
        (``{x}``: the argument; ``{x!}``: the argument, parenthesised unless atomic)."""
        self.helpers.update(function.helpers.get(self.backend.name, {}))
        expression = template.replace("{x!}", wrap(x, ATOM)).replace("{x}", x.expr)
        return Code(expression, ATOM if is_atomic(template) else SUM)

    def add(self, node: ir.Tensor) -> Code:
        terms = [self.code[id(a)] if self.code[id(a)].holds not in ("eye", "delta") else self.array(a)
                 for a in node.args]
        constants = [t for t in terms if t.holds == "scalar"]
        arrays = [t for t in terms if t.holds != "scalar"]
        ordered = constants + arrays
        text = ""
        for position, term in enumerate(ordered):
            if position == 0:
                text = term.expr if term.precedence >= SUM else f"({term.expr})"
            elif term.negated is not None:
                text += f" - {wrap(term.negated, PRODUCT)}"
            elif term.expr.startswith("-") and is_number(term.expr):
                text += f" - {term.expr[1:]}"
            else:
                text += f" + {wrap(term, PRODUCT)}"
        holds = "scalar" if not arrays else "array"
        if arrays and all(t.holds == "view" for t in arrays):
            holds = "view"
        return Code(text, SUM, holds)

    def reshape(self, node: ir.Tensor) -> Code:
        x = self.code[id(node.args[0])]
        if x.holds == "scalar":
            return x
        return self.backend.reshape(self.array(node.args[0]), self.shape(node.shape))

    # -- contractions --


def is_pure_delta(node: ir.Tensor) -> bool:
    """An einsum of Kronecker deltas alone, every index free (δ[a,c]·δ[b,d]): never built as an array
    where a contraction reads it, only merged into that contraction's indices."""
    inputs, output = node.params
    return len(node.args) > 1 and all(a.op == "eye" for a in node.args) \
        and {x for labels in inputs for x in labels} <= set(output)


def _quiet():
    import numpy as np

    return np.errstate(all="ignore")


def _apply_number(node: ir.Tensor, value: float) -> float | None:
    """f(value) as md.evaluate computes it, or None when that is not a finite number."""
    import numpy as np

    if node.op == "constant_power":
        result = np.power(value, node.params[0])
    else:
        result = FUNCTIONS[node.op].numpy(np.float64(value))
    result = float(result)
    return result if np.isfinite(result) else None


def _docstring(text: str) -> str:
    """``text`` as a triple-quoted literal that shows it as written: backslashes and quotes are
    escaped, so no user text can end the string early, and unprintable characters become escapes."""
    escaped = "".join(
        "\\" + c if c in '\\"' else c if c.isprintable() or c == "\n" else c.encode("unicode_escape").decode("ascii")
        for c in text)
    return '"""' + escaped + '"""'


def program_source(roots: list[ir.Tensor], variables: dict[str, ir.Tensor], backend: str, *,
                   name: str = "derivative", doc: str = "", statements: tuple = (),
                   result_keys: tuple | None = None, structures: dict | None = None) -> str:
    """Standalone source of ``def name(*, inputs...)`` returning the value of each root
    (one root: that array; several: a tuple), for ``backend``.

    Without ``statements`` the roots are simplified and planned as one DAG. With them (name,
    node) pairs computed in order, each reading the earlier names as ``var`` nodes, as
    :mod:`matdiff.codegen.passes` makes them: every statement and root is simplified on its own
    and bound to its name, so contractions are planned within one statement, never across them."""
    if statements:
        statements = tuple((s, factor_sums([node])[0]) for s, node in statements)
        roots = [factor_sums([root])[0] for root in roots]
    else:
        roots = factor_sums(roots)
    writer = _Writer(backend_named(backend), roots, variables, statements)
    bound = {s for s, _ in statements}
    used = {n.params[0] for n in writer.order if n.op == "var"} - bound
    unknown = sorted(used - set(variables))
    if unknown:
        raise MatdiffError(f"no input named {unknown[0]} to generate code for")
    # An input the result does not read is still needed when it alone fixes a dimension (x in 2·I_n).
    symbols = {f for n in writer.order for d in n.shape if isinstance(d, str) for f in ir.dim_factors(d)}
    bound_dims = {d for v in used for d in variables[v].shape if isinstance(d, str)}
    for v, node in variables.items():
        dims = {d for d in node.shape if isinstance(d, str)}
        if v not in used and dims & (symbols - bound_dims):
            used.add(v)
            bound_dims |= dims
    needed = [v for v in variables if v in used]
    writer.structures = {v: kind for v, kind in (structures or {}).items() if v in used}
    writer.bind_inputs(needed)
    ordinary = all(writer.names[v] == v for v in variables)
    writer.check_unused([v for v in variables if v not in used], unpacked=not ordinary)
    for node in writer.order:
        writer.write(node)
    results = []
    for root in writer.roots:
        code = writer.code[id(root)]
        if code.holds in ("scalar", "eye", "delta"):
            code = writer.array(root) if root.rank else Code(f"{writer.backend.module}.asarray({code.expr})")
        elif code.holds == "view":
            code = writer.backend.contiguous(code)
        results.append(code.expr)
    writer.free_after_last_use(results)
    if result_keys is not None:  # the value, then {name: result}
        results = [results[0], "{" + ", ".join(f"{key!r}: {r}" for key, r in zip(result_keys, results[1:])) + "}"]
    writer.lines.append(f"return {', '.join(results)}")

    if ordinary:
        parameters = ", ".join(v if v in used else f"{v}=None" for v in variables)
        signature = f"def {name}(*, {parameters}):" if parameters else f"def {name}():"
        unpack = []
    else:  # an input named like a keyword or a module: take the values as a dict
        signature = f"def {name}(**values):"
        unpack = [f"{writer.names[v]} = values[{v!r}]" for v in needed]
    docstring = [re.sub(r"\n(?=.)", "\n    ", _docstring(doc))] if doc else []
    body = unpack + writer.lines
    if writer.multiply_adds:  # what the plan costs, for a reader and for the CI guards (tests/test_codegen_scale.py)
        body.insert(len(unpack), f"# products planned: {writer.multiply_adds:,} multiply-adds")
    backend_object = writer.backend
    sources = helper_sources(backend_object)
    helpers = [sources[h] for h in sorted(writer.helpers)]
    header = f'"""Generated by matdiff for {backend_object.name}; needs only {backend_object.imports[-1].split()[1]}."""'
    blocks = [header + "\n\n" + "\n".join(backend_object.imports)] + [h.strip() for h in helpers]
    if backend_object.name == "jax":  # jit the body; run it with 64-bit floats unless all inputs are narrower
        core = signature.replace(f"def {name}(", f"def _{name}(", 1)
        blocks.append(backend_object.decorator + core + "\n" + "\n".join("    " + line for line in body))
        checks = [f"if values.get({v!r}) is not None:\n        _check_structure({v!r}, values[{v!r}], {kind!r})"
                  for v, kind in writer.structures.items()]
        body = [*docstring, *checks, "# float64 unless every input is float32 or narrower (JAX's default is float32)",
                "with _x64(_wants_float64(values)):", f"    return _{name}(**values)"]
        blocks.append(f"def {name}(**values):\n" + "\n".join("    " + line for line in body))
    else:
        blocks.append(signature + "\n" + "\n".join("    " + line for line in docstring + body))
    return "\n\n\n".join(blocks) + "\n"
