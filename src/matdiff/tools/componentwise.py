"""``entries``: every entry of a derivative as a scalar formula in the user's own letters.

For small concrete shapes, the derivative's IR (already arranged in the layout)
is evaluated with SymPy over a matrix of symbols per variable — the letters the
user chose (``names={"W1": "a b; c d"}``) or ``W1_11, …`` — so a by-hand
computation can be compared cell by cell. Beside each entry is its label,
∂y/∂a, which says which partial derivative the layout puts there.

SymPy is imported on first use; this module is itself loaded only when ``md.entries`` is
called. The IR is evaluated over SymPy, within bounds, by :mod:`matdiff.tools.symbolic`.
"""

from __future__ import annotations

import math

import re
from dataclasses import dataclass

import numpy as np

from matdiff.engine import ir
from matdiff.engine.functions import FUNCTIONS, MATRIX
from matdiff.api import Derivative, diff, infer_shapes
from matdiff.guarded import guarded
from matdiff.errors import LimitError, MatdiffError
from matdiff.notation.report import Line, Printable
from matdiff.language.shapes import shape_text
from matdiff.notation.forms import value_name
from matdiff.language.assumptions import Assumptions, Structure
from matdiff.tools.symbolic import evaluate_symbolic, sympy_module, tidied

MAX_ENTRIES = 2_000  # of the derivative: beyond this, a by-hand comparison is not the point


# ----- the user's letters ------------------------------------------------------------------------


def parse_names(spec) -> list[list[str]]:
    """'a b; c d' → [['a', 'b'], ['c', 'd']]; lists are taken as they are."""
    if isinstance(spec, str):
        rows = [re.split(r"[\s,]+", row.strip()) for row in spec.strip().strip("[]").split(";")]
        rows = [[entry for entry in row if entry] for row in rows]
    elif isinstance(spec, (list, tuple)):
        rows = [list(map(str, row)) if isinstance(row, (list, tuple)) else [str(row)] for row in spec]
        if all(len(row) == 1 for row in rows) and not any(isinstance(r, (list, tuple)) for r in spec):
            rows = [[str(r) for r in spec]]  # a flat list: one row
    else:
        raise MatdiffError(f"letters must be text like 'a b; c d' or a nested list, not {spec!r}")
    if not rows or any(not row for row in rows) or len({len(row) for row in rows}) != 1:
        raise MatdiffError(f"bad letters {spec!r}: write the rows separated by ';', e.g. 'a b; c d'")
    for row in rows:
        for entry in row:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", entry):
                raise MatdiffError(f"bad letter {entry!r} in {spec!r}: use names such as a, h1, w_12")
    return rows


def parse_name_argument(text: str) -> tuple[str, str]:
    """The command line's --name 'W1=a b; c d' → ('W1', 'a b; c d')."""
    name, separator, spec = text.partition("=")
    if not separator or not name.strip().isidentifier() or not spec.strip():
        raise MatdiffError(f"bad --name {text!r}: write NAME='a b; c d' (rows separated by ';')")
    return name.strip(), spec


def _shape_from_letters(name: str, rows: list, declared) -> tuple:
    """The shape the letters give, fitted to what the expression says ``name`` is."""
    count = sum(len(row) for row in rows)
    if declared is not None and len(declared) == 0:
        if count != 1:
            raise MatdiffError(f"{name} is a scalar, but its letters give {count} entries")
        return ()
    if declared is not None and len(declared) == 1:
        if len(rows) != 1 and len(rows[0]) != 1:
            raise MatdiffError(f"{name} is a vector, but its letters form a {len(rows)}×{len(rows[0])} matrix")
        return (count,)
    return (len(rows), len(rows[0]))


def _default_letters(name: str, shape: tuple) -> list:
    join = "_" if name[-1].isdigit() else ""
    if not shape:
        return [[name]]
    if len(shape) == 1:
        return [[f"{name}{join}{i + 1}" for i in range(shape[0])]]
    wide = max(shape) > 9
    return [[f"{name}_{i + 1}_{j + 1}" if wide else f"{name}{join}{i + 1}{j + 1}" for j in range(shape[1])]
            for i in range(shape[0])]


def _entry_latex(sympy, name: str, rows: list) -> dict:
    """LaTeX for the default letters of ``name``, with unambiguous subscripts: entry (1,1) of W2 is
    (W_2)_{1,1}, not W_{2 11}, and of A is A_{1,1}. Letters the user chose are left to SymPy."""
    base = sympy.latex(sympy.Symbol(name))
    base = rf"\left({base}\right)" if name[-1].isdigit() else base
    count = sum(len(row) for row in rows)
    found = {}
    for shape in ((count,), (len(rows), len(rows[0]))):
        default = _default_letters(name, shape)
        if default == rows:
            for i, row in enumerate(default):
                for j, letter in enumerate(row):
                    found[letter] = f"{base}_{{{j + 1}}}" if len(shape) == 1 else f"{base}_{{{i + 1},{j + 1}}}"
            return found
    return found


# ----- the result ------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Entries(Printable):
    """The derivative entry by entry: ``values`` (SymPy expressions) and ``labels`` (∂y/∂a), both arranged
    in the layout as nested lists of ``shape``; ``letters`` the symbols used for each variable."""

    expression: str
    wrt: str | tuple
    layout: str
    shape: tuple
    values: list
    labels: list
    letters: dict  # name -> rows of letters
    output: str = "y"  # the name of the expression's value in the labels

    @property
    def matrix(self):
        """The entries as a SymPy Matrix (derivatives of at most 2 dimensions)."""
        sympy = sympy_module()
        if len(self.shape) > 2:
            raise MatdiffError(f"the derivative is {shape_text(self.shape)}: more than two dimensions, "
                               "see .values for the nested lists")
        rows = self.values if len(self.shape) == 2 else [[v] for v in self.values] if self.shape else [[self.values]]
        return sympy.Matrix(rows)

    def strings(self) -> list:
        return _nested(np.asarray(self.values, dtype=object), str)

    def __repr__(self) -> str:
        return f"<Entries {self.layout} {shape_text(self.shape)}: {self.strings()}>"

    def to_dict(self) -> dict:
        return {"expression": self.expression, "wrt": self.wrt, "layout": self.layout, "shape": list(self.shape),
                "values": self.strings(), "labels": self.labels, "letters": self.letters, "text": str(self),
                "latex": self.latex()}

    def latex(self) -> str:
        sympy = sympy_module()
        values = np.asarray(self.values, dtype=object)
        names = {sympy.Symbol(letter): tex for name, rows in self.letters.items()
                 for letter, tex in _entry_latex(sympy, name, rows).items()}
        if values.ndim <= 2:
            return sympy.latex(self.matrix, symbol_names=names)
        blocks = [sympy.latex(sympy.Matrix(values[index].tolist()), symbol_names=names)
                  for index in np.ndindex(*values.shape[:-2])]
        return r",\; ".join(blocks)

    def _repr_latex_(self) -> str:
        return f"$${self.latex()}$$"

    def lines(self) -> list[Line]:
        wrt = self.wrt if isinstance(self.wrt, str) else ",".join(self.wrt)
        order = "" if isinstance(self.wrt, str) or len(self.wrt) == 1 else f"^{len(self.wrt)}"
        wrt = wrt.replace(",", "∂")
        lines = [Line(f"∂{order}{self.output}/∂{wrt} entry by entry, {self.output} = {self.expression}  "
                      f"({self.layout} layout, {shape_text(self.shape)})", "title")]
        letters = "; ".join(f"{name} = {_letters_text(rows)}" for name, rows in self.letters.items())
        lines.append(Line(f"with {letters}", "note", 2))
        values = np.asarray(_nested(np.asarray(self.values, dtype=object), str), dtype=object)
        labels = np.asarray(self.labels, dtype=object)
        if values.ndim <= 2:
            lines.extend(_grid(labels, values))
            return lines
        for index in np.ndindex(*values.shape[:-2]):
            position = ", ".join(str(i + 1) for i in index) + ", :, :"
            lines.append(Line(f"[{position}]", "heading", 2))
            lines.extend(_grid(labels[index], values[index]))
        return lines


def _letters_text(rows: list) -> str:
    if len(rows) == 1 and len(rows[0]) == 1:
        return rows[0][0]
    return "[" + "; ".join(" ".join(row) for row in rows) + "]"


def _nested(array: np.ndarray, convert) -> list:
    """An object array as nested lists, each entry converted."""
    if array.ndim == 0:
        return convert(array.item())
    if array.ndim == 1:
        return [convert(array[i]) for i in range(array.shape[0])]
    return [_nested(array[i], convert) for i in range(array.shape[0])]


def _grid(labels: np.ndarray, values: np.ndarray) -> list[Line]:
    """Labels and values side by side, as two bracketed matrices."""
    labels = np.asarray(labels, dtype=object)
    values = np.asarray(values, dtype=object)
    if values.ndim == 0:
        return [Line(f"{labels.item()} = {values.item()}", "formula", 2)]
    if values.ndim == 1:
        labels, values = labels.reshape(-1, 1), values.reshape(-1, 1)
    width_l = [max(len(str(x)) for x in labels[:, j]) for j in range(labels.shape[1])]
    width_v = [max(len(str(x)) for x in values[:, j]) for j in range(values.shape[1])]
    rows = []
    middle = (labels.shape[0] - 1) // 2
    for i in range(labels.shape[0]):
        left = "  ".join(str(labels[i, j]).ljust(width_l[j]) for j in range(labels.shape[1]))
        right = "  ".join(str(values[i, j]).ljust(width_v[j]) for j in range(values.shape[1]))
        joiner = " = " if i == middle else "   "
        rows.append(Line(f"[ {left} ]{joiner}[ {right} ]", "formula", 2))
    return rows


# ----- entries -------------------------------------------------------------------------------------------


def entries(expression: str, wrt, shapes: dict | None = None, names: dict | None = None,
            layout: str = "numerator", *, assume=None) -> Entries:
    """Every entry of ∂expression/∂wrt in ``layout``, in the letters ``names`` gives (name → 'a b; c d');
    ``assume`` gives inputs a structure."""
    source = expression if isinstance(expression, str) else None
    with guarded(source):
        assume = Assumptions.of(assume)
        letters = {name: parse_names(spec) for name, spec in (names or {}).items()}
        declared = infer_shapes(expression, shapes, assume=assume)
        unknown = [name for name in letters if name not in declared]
        if unknown:
            raise MatdiffError(f"--name {unknown[0]}: {unknown[0]} is not an input of the expression "
                               f"(inputs: {', '.join(declared)})")
        concrete = dict(shapes or {})
        for name, rows in letters.items():
            concrete[name] = _shape_from_letters(name, rows, declared.get(name))
        inferred = infer_shapes(expression, concrete, assume=assume)
        symbolic = [(name, d) for name, shape in inferred.items() for d in shape if not isinstance(d, int)]
        if symbolic:
            name, d = symbolic[0]
            raise MatdiffError(f"entries needs concrete sizes: dimension {d} of {name} is not known; "
                               f"give --shape {name}=… or --name {name}='…'")
        concrete.update(inferred)
        derivative = diff(expression, wrt=wrt, shapes=concrete, layout=layout, assume=assume)
        return _entries(derivative, expression, wrt, layout, letters, inferred)


# A function of a whole matrix (det, inv …) of a larger matrix of letters expands into n! terms an entry
# (5×5: 120 terms, seconds)
MAX_SYMBOLIC_MATRIX = 4


def _entries(derivative: Derivative, expression: str, wrt, layout: str, letters: dict, inputs: dict) -> Entries:
    sympy = sympy_module()
    size = int(np.prod([int(d) for d in derivative.shape], dtype=float)) if derivative.shape else 1
    if size > MAX_ENTRIES:
        raise LimitError(f"the derivative has {size} entries; entries are for small shapes "
                         f"(at most {MAX_ENTRIES})")
    for node in ir.postorder(derivative.tensor):  # a matrix function of a symbolic matrix: n! terms an entry
        if node.op in FUNCTIONS and FUNCTIONS[node.op].acts == MATRIX and node.rank >= 0 and node.args and node.args[0].rank == 2 \
                and int(node.args[0].shape[0]) > MAX_SYMBOLIC_MATRIX:
            n = int(node.args[0].shape[0])
            raise LimitError(f"entries of {node.op} of a {n}×{n} matrix of letters have {math.factorial(n):,} terms "
                             f"each; entries are for matrices up to {MAX_SYMBOLIC_MATRIX}×{MAX_SYMBOLIC_MATRIX} "
                             "(the matrix form says it whole)")
    symbols, shown = {}, {}
    for name, shape in inputs.items():
        rows = letters.get(name) or _default_letters(name, shape)
        shown[name] = rows
        positive = derivative.assume.positive(name)
        flat = [sympy.Symbol(letter, positive=True) if positive else sympy.Symbol(letter)
                for row in rows for letter in row]
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        symbols[name] = _with_structure(array.reshape(tuple(int(d) for d in shape)), derivative.assume.structure_of(name))
    variables = ir.variables(derivative.tensor)
    for name, node in variables.items():  # an intermediate's name left in the IR: its own letters
        if name not in symbols:
            symbols[name] = np.array([[sympy.Symbol(letter) for letter in row] for row in
                                      _default_letters(name, node.shape)], dtype=object).reshape(node.shape)
    try:
        value = evaluate_symbolic(derivative.tensor, symbols)
        tidy = tidied(value)
    except OverflowError:  # SymPy's exact arithmetic met a number with more digits than it can write
        raise LimitError("the entries hold a number too large to write out exactly") from None
    return Entries(expression, wrt, layout, tuple(int(d) for d in derivative.shape),
                   _nested(np.asarray(tidy, dtype=object), lambda x: x), _labels(derivative, shown),
                   {name: rows for name, rows in shown.items()}, value_name(derivative))


def _with_structure(array: np.ndarray, structure: Structure) -> np.ndarray:
    """A symmetric matrix of letters reads its upper triangle below the diagonal too (S21 is S12);
    a diagonal one has zeros off the diagonal."""
    if structure.symmetric:
        lower = np.tril_indices(array.shape[0], -1)
        array[lower] = array.T[lower]
    if structure.diagonal:
        array[~np.eye(array.shape[0], dtype=bool)] = 0
    return array


def _labels(derivative: Derivative, letters: dict) -> list:
    """'∂y/∂a' for each entry, arranged by the same permutation and reshape as the numbers."""
    arrangement = derivative.arrangement
    y_shape = tuple(int(d) for d in arrangement.y_shape)
    x_shapes = [tuple(int(d) for d in s) for s in arrangement.x_shapes]
    y_name = value_name(derivative)
    labels = np.empty(y_shape + tuple(d for s in x_shapes for d in s), dtype=object)
    for index in np.ndindex(*labels.shape):
        numerator = y_name if not y_shape else f"{y_name}[{','.join(str(i + 1) for i in index[:len(y_shape)])}]"
        rest, parts = index[len(y_shape):], []
        for name, shape in zip(derivative.wrt, x_shapes):
            own, rest = rest[:len(shape)], rest[len(shape):]
            rows = letters.get(name)
            if rows is not None:
                flat = [letter for row in rows for letter in row]
                parts.append(flat[int(np.ravel_multi_index(own, shape))] if shape else flat[0])
            else:
                parts.append(f"{name}[{','.join(str(i + 1) for i in own)}]" if own else name)
        order = f"^{len(parts)}" if len(parts) > 1 else ""
        labels[index] = f"∂{order}{numerator}/" + "".join(f"∂{p}" for p in parts)
    arranged = np.transpose(labels, arrangement.permutation) if labels.ndim else labels
    return _nested(arranged.reshape(tuple(int(d) for d in arrangement.shape)), str)

