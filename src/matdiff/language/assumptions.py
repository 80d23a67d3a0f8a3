"""Assumptions about inputs: ``assume={"S": "symmetric"}``.

One immutable object, :class:`Assumptions`, carries what the caller said about each
input through every entry point (``diff``, ``evaluate``, ``gradients``, ``explain``,
``check``, ``entries``, codegen, the command line's ``--assume S=symmetric`` and the
JSON API's ``"assume"``): build it once with :meth:`Assumptions.of` and pass it on.
The stages below ask it questions (is ``S`` symmetric? are ``x``'s entries positive?)
and never look at the raw structure names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from matdiff.errors import MatdiffError


@dataclass(frozen=True)
class Structure:
    """What a structure promises: ``square`` (a square matrix), ``symmetric`` (S = S'),
    ``definite`` (positive definite), ``diagonal`` (zero off the diagonal), ``positive``
    (every entry > 0)."""

    meaning: str
    square: bool = False
    symmetric: bool = False
    definite: bool = False
    diagonal: bool = False
    positive: bool = False
    sums_to_one: str = ""  # "columns" (every column sums to 1: one-hot or probability targets) or "rows"


# name:          Structure(meaning,                                   promises)
STRUCTURES: dict[str, Structure] = {
    "symmetric": Structure("a symmetric matrix (S = S')",               square=True, symmetric=True),
    "spd":       Structure("a symmetric positive definite matrix",      square=True, symmetric=True, definite=True),
    "diagonal":  Structure("a diagonal matrix (zero off the diagonal)", square=True, symmetric=True, diagonal=True),
    "positive":  Structure("every entry positive",                      positive=True),
    "onehot":    Structure("every column sums to 1 (one-hot or probability targets)", sums_to_one="columns"),
    "rows_onehot": Structure("every row sums to 1 (one-hot or probability targets)", sums_to_one="rows"),
}

_NONE = Structure("no assumption")


@dataclass(frozen=True)
class Assumptions:
    """The structure of each assumed input, as sorted (name, structure) pairs."""

    items: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, assume) -> "Assumptions":
        """From None, an Assumptions, a mapping name → structure, or ``NAME=structure`` strings
        (the command line's repeated ``--assume``); anything else is a MatdiffError."""
        if assume is None or isinstance(assume, Assumptions):
            return assume or cls()
        if isinstance(assume, str):
            assume = [assume]
        if isinstance(assume, Mapping):
            pairs = list(assume.items())
        elif isinstance(assume, Iterable):
            pairs = [_split(option) for option in assume]
        else:
            raise MatdiffError(f"assume must map names to structures, e.g. {{'S': 'symmetric'}}, not {assume!r}")
        found: dict[str, str] = {}
        for name, structure in pairs:
            if not isinstance(name, str) or not name.isidentifier():
                raise MatdiffError(f"assume: {name!r} is not a variable name")
            if not isinstance(structure, str) or structure.strip().lower() not in STRUCTURES:
                raise MatdiffError(f"unknown structure {structure!r} for {name}: choose one of "
                                   f"{', '.join(STRUCTURES)}")
            structure = structure.strip().lower()
            if found.setdefault(name, structure) != structure:
                raise MatdiffError(f"{name} is assumed both {found[name]} and {structure}: choose one")
        return cls(tuple(sorted(found.items())))

    def __bool__(self) -> bool:
        return bool(self.items)

    def as_dict(self) -> dict[str, str]:
        return dict(self.items)

    def structure_of(self, name: str) -> Structure:
        return STRUCTURES[self.as_dict()[name]] if name in self.names else _NONE

    @property
    def names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.items)

    def symmetric(self, name: str) -> bool:
        return self.structure_of(name).symmetric

    def diagonal(self, name: str) -> bool:
        return self.structure_of(name).diagonal

    def positive(self, name: str) -> bool:
        return self.structure_of(name).positive

    def sums_to_one(self, name: str) -> str:
        """"columns" or "rows" when the entries of each column (row) of ``name`` sum to 1, else ""."""
        return self.structure_of(name).sums_to_one

    def without(self, names: Iterable[str]) -> "Assumptions":
        """These assumptions less those on ``names`` (e.g. the variables still to differentiate by)."""
        dropped = set(names)
        return Assumptions(tuple(item for item in self.items if item[0] not in dropped))

    def options(self) -> list[str]:
        """The command line's spelling: ``--assume S=symmetric`` for each."""
        return [f"--assume {name}={structure}" for name, structure in self.items]

    def describe(self) -> str:
        """'S symmetric, x positive': for notes and reports."""
        return ", ".join(f"{name} {structure}" for name, structure in self.items)


def _split(option) -> tuple[str, str]:
    if not isinstance(option, str) or "=" not in option:
        raise MatdiffError(f"--assume takes NAME=STRUCTURE (e.g. S=symmetric), not {option!r}")
    name, _, structure = option.partition("=")
    return name.strip(), structure.strip()
