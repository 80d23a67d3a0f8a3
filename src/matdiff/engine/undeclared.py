"""Notes on the names a caller gave no shape, where the naming convention decided the answer.

A name without a declared shape is a scalar (a–g), a vector (h–z) or a matrix (A–Z) by its
first letter. That guess can decide the order of the derivative: ``sum(W1*x)`` by W1 is a
matrix because W1 was taken as one, and would be a vector were W1 a scalar. The user should
not have to discover that, so each such name gets a note ("W1 has no declared shape; it was
taken as a matrix with unknown sizes"). A name decides the order when another kind for it still
gives a valid program whose derivative has another order. The other kind is tried by renaming
the name (W1 → b_W1, a scalar by the same convention), so its sizes are as free as W1's were;
that costs one lowering per kind and name, so it is done for small programs only (the notes
are a help, not a contract).
"""

from __future__ import annotations

import dataclasses

from matdiff.engine.layout import layout_y_shape
from matdiff.engine.lowering import Lowered, lower
from matdiff.errors import MatdiffError
from matdiff.language.assumptions import Assumptions
from matdiff.language.shapes import as_mapping, normalize_shape, shape_text
from matdiff.language.syntax import Name, Program

MAX_UNDECLARED = 8  # more names than this, or more statements, and no notes are tried
MAX_STATEMENTS = 40
LETTER_OF_RANK = ("b", "v", "M")  # a first letter that makes a name a scalar, a vector, a matrix


def undeclared_notes(program: Program, shapes: dict | None, wrt: tuple, lowered: Lowered,
                     assume: Assumptions) -> list[str]:
    """A note for each undeclared name whose kind, taken from its first letter, decides the order
    of ∂value/∂wrt (the lowering ``lowered`` of ``program`` with ``shapes`` is the one kept)."""
    declared = {name: normalize_shape(name, spec) for name, spec in as_mapping("shapes", shapes).items()}
    undeclared = [name for name in lowered.variables if name not in declared]
    if not undeclared or len(undeclared) > MAX_UNDECLARED or len(program.statements) > MAX_STATEMENTS:
        return []
    order = _order(lowered, wrt)
    known = {d for shape in declared.values() for d in shape}
    notes = []
    taken_names = set(lowered.variables) | set(lowered.assigned)
    for name in undeclared:
        taken = lowered.variables[name].node.shape
        for rank, letter in enumerate(LETTER_OF_RANK):
            if rank == min(len(taken), 2) or assume.structure_of(name).square:
                continue
            other = f"{letter}_{name}"
            while other in taken_names:
                other += "_"
            try:
                changed = lower(_renamed(program, name, other), declared, intermediate=lowered.intermediate,
                                assume=assume)
            except MatdiffError:
                continue  # the program needs another kind here: the convention decided nothing
            if _order(changed, tuple(other if x == name else x for x in wrt)) != order:
                notes.append(f"{name} has no declared shape; it was taken as {_kind(taken, known)}")
                break
    return notes


def _renamed(node, old: str, new: str):
    """A syntax tree (frozen dataclasses and tuples) with each use of the name ``old`` called ``new``."""
    if isinstance(node, Name):
        return dataclasses.replace(node, name=new) if node.name == old else node
    if isinstance(node, tuple):
        return tuple(_renamed(item, old, new) for item in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {f.name: _renamed(getattr(node, f.name), old, new) for f in dataclasses.fields(node) if f.init}
        return dataclasses.replace(node, **changes)
    return node


def _order(lowered: Lowered, wrt: tuple) -> int:
    """The order of ∂value/∂wrt…: the value's axes (a 1×1 value has none) and each variable's."""
    order = len(layout_y_shape(lowered.value.surface()))
    for name in wrt:
        value = lowered.variables.get(name)
        if value is None and name == lowered.intermediate:
            value = lowered.intermediate_value
        order += len(value.surface()) if value is not None else 0
    return order


def _kind(shape: tuple, known: set) -> str:
    """"a matrix with unknown sizes", "a vector of length 3", "a matrix of size 4×n", "a scalar"."""
    unknown = all(not isinstance(d, int) and d not in known for d in shape)
    if not shape:
        return "a scalar"
    if len(shape) == 1:
        return "a vector of unknown length" if unknown else f"a vector of length {shape[0]}"
    return "a matrix with unknown sizes" if unknown else f"a matrix of size {shape_text(shape)}"
