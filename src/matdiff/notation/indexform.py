"""Index (Einstein/Ricci) notation for any IR tensor — always available.

Each entry of a tensor is printed as a scalar formula in its indices:
∂C[i,j]/∂B[k,l] = A[i,k]·δ[j,l]. Summed indices are written with an explicit
Σ, so Hadamard products (an index three times) stay unambiguous. Operands
with no index form of their own (inv, det) are printed in matrix notation and
then indexed: inv(X)[l,k].

A subexpression printed more than once is bound by name first, as the matrix form
binds it (the same choice, :func:`~matdiff.notation.naming.choose_names`):
``s[i,l] = sigmoid(Σ_k W1[i,k]·X[k,l])``, then every use reads ``s[m,l]``. Inlined, a
program that reuses a value doubles its printed size with each statement.
"""

from __future__ import annotations

from dataclasses import dataclass

from matdiff.engine.ir import Tensor, postorder
from matdiff.engine.functions import ENTRIES, FUNCTIONS
from matdiff.notation.naming import choose_names
from matdiff.notation.matrixform import Recovery
from matdiff.notation.printing import function_latex, latex_name, text as matrix_text
from matdiff.notation.numbers import format_number

_LETTERS = "ijklmnpqrstuvwabcdefgh"


def indexed(name: str, indices, *, latex: bool = False) -> str:
    """name[i,j], or in LaTeX name_{ij} — merged into an existing subscript: W_{2} → W_{2,ij}."""
    if not indices:
        return name
    if not latex:
        return f"{name}[{','.join(indices)}]"
    joined = "".join(indices) if all(len(i) == 1 for i in indices) else ",".join(indices)
    if name.endswith("}") and "_{" in name and name.count("{") == 1:
        return f"{name[:-1]},{joined}}}"
    if "_{" in name or name.endswith("}") or name.endswith(")"):
        name = f"{{{name}}}"
    return f"{name}_{{{joined}}}"


class IndexPrinter:
    """Entry formulas; ``names`` (id of a node → name) prints those nodes as their names."""

    def __init__(self, *, latex: bool = False, names: dict[int, str] | None = None):
        self.latex = latex
        self.names = dict(names or {})
        self.recovery = Recovery(self.names)

    def fresh(self, used: set) -> str:
        for letter in _LETTERS:
            if letter not in used:
                used.add(letter)
                return letter
        name = f"i{len(used)}"
        used.add(name)
        return name

    def indexed(self, name: str, indices) -> str:
        return indexed(name, indices, latex=self.latex)

    def entry(self, node: Tensor, indices: list, used: set) -> str:
        """The formula for node[indices]; ``used`` holds index letters already taken."""
        if id(node) in self.names:
            indices = ["1" if d == 1 else i for i, d in zip(indices, node.shape)]
            return self.indexed(self.name(node), indices)
        return self.definition(node, indices, used)

    def name(self, node: Tensor) -> str:
        name = self.names[id(node)]
        return latex_name(name) if self.latex else name

    def definition(self, node: Tensor, indices: list, used: set) -> str:
        """node[indices] spelled out (its operands may print as names)."""
        indices = ["1" if d == 1 else i for i, d in zip(indices, node.shape)]
        op = node.op
        if op == "var":
            name = latex_name(node.params[0]) if self.latex else node.params[0]
            return self.indexed(name, indices)
        if op == "const":
            return format_number(node.params[0])
        if op == "eye":
            if all(i == "1" for i in indices):  # δ[1,1] = 1: a unit axis leaves nothing to show
                return "1"
            return self.indexed(r"\delta" if self.latex else "δ", indices)
        if op == "add":
            joined = " + ".join(self.entry(t, indices, used) for t in node.args)
            return f"\\left({joined}\\right)" if self.latex else f"({joined})"
        if op == "einsum":
            return self.contraction(node, indices, used)
        if op == "constant_power":
            base = self.entry(node.args[0], indices, used)
            exponent = node.params[0]
            shown = format_number(exponent)
            return f"\\left({base}\\right)^{{{shown}}}" if self.latex else f"({base})^{shown}"
        if op == "power":
            base, exponent = (self.entry(a, indices, used) for a in node.args)
            return f"\\left({base}\\right)^{{{exponent}}}" if self.latex else f"({base})^({exponent})"
        if op in FUNCTIONS and FUNCTIONS[op].acts != ENTRIES:  # no formula entry by entry: indexed
            argument = self.recovery(node.args[0])
            shown = f"{op}({matrix_text(argument) if argument is not None else '…'})"
            return self.indexed(shown, indices)
        if op == "reshape" and _unit_axes_only(node):  # adding or dropping axes of size 1
            real = iter(i for i, d in zip(indices, node.shape) if d != 1)
            return self.entry(node.args[0], [next(real) if d != 1 else "1" for d in node.args[0].shape], used)
        if op == "reshape":
            matrix = self.recovery(node)
            shown = matrix_text(matrix) if matrix is not None else f"{op}(…)"
            if matrix is not None and matrix.op not in ("leaf", "call"):
                shown = f"({shown})"
            return self.indexed(shown, indices)
        inner = self.entry(node.args[0], indices, used)
        return function_latex(op, inner, f"\\left({inner}\\right)") if self.latex else f"{op}({inner})"

    def contraction(self, node: Tensor, indices: list, used: set) -> str:
        inputs, output = node.params
        names = dict(zip(output, indices))
        summed = []
        for operand, labels in zip(node.args, inputs):
            for label, size in zip(labels, operand.shape):
                if label not in names and size == 1:
                    names[label] = "1"
                elif label not in names:
                    names[label] = self.fresh(used)
                    summed.append(names[label])
        factors, sign = [], ""
        for operand, labels in zip(node.args, inputs):
            if operand.op == "const" and operand.rank == 0 and operand.params[0] == -1.0:
                sign = "-"
                continue
            factor = self.entry(operand, [names[l] for l in labels], used)
            if factor == "1":
                continue
            if operand.op in ("add",) and not factor.startswith("("):
                factor = f"({factor})"
            factors.append(factor)
        factors.sort(key=lambda f: not f[:1].isdigit())  # numbers first
        body = sign + ((" " if self.latex else "·").join(factors) if factors else "1")
        if summed:
            if self.latex:
                return f"\\sum_{{{''.join(summed)}}} {body}"
            return f"Σ_{''.join(summed)} {body}"
        return body


def _unit_axes_only(node: Tensor) -> bool:
    return [d for d in node.shape if d != 1] == [d for d in node.args[0].shape if d != 1]


def index_notation(node: Tensor, indices: list, *, latex: bool = False) -> str:
    """node[indices] = … as one line, nothing bound (for small local formulas)."""
    return IndexPrinter(latex=latex).entry(node, list(indices), set(indices))


@dataclass(frozen=True)
class IndexProgram:
    """Bindings ``name[i,j] = …`` (dependencies first), then the formula of the entry."""

    bindings: tuple[str, ...]
    body: str


def index_program(node: Tensor, indices: list, *, latex: bool = False, assigned: dict | None = None,
                  reserved: set | None = None) -> IndexProgram:
    """node[indices] with each subexpression printed twice or more bound once, by name.

    ``assigned`` (the user's intermediates: name → (node, is_row)) and ``reserved`` (names in
    use) are those of :func:`~matdiff.notation.naming.choose_names`. Its size is linear in
    the DAG's: each binding's body prints the bound nodes inside it as names.
    """
    names = choose_names([node], assigned=assigned or {}, reserved=set(reserved or ()), max_rank=None)
    printer = IndexPrinter(latex=latex, names=names)
    # single letters in use as names are not index letters (u[i] = … with a summed u would be ambiguous)
    blocked = {name for name in names.values() if len(name) == 1} | {i for i in indices}
    bindings = []
    for bound in postorder(node):  # dependencies first; postorder visits each node once
        if id(bound) not in names or bound is node:
            continue
        letters: list[str] = []
        used = set(blocked)
        for _ in bound.shape:
            letters.append(printer.fresh(used))
        left = printer.indexed(printer.name(bound), ["1" if d == 1 else i for i, d in zip(letters, bound.shape)])
        bindings.append(f"{left} = {printer.definition(bound, letters, used)}")
    body = printer.definition(node, list(indices), set(indices) | blocked)
    return IndexProgram(tuple(bindings), body)
