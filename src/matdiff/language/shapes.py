"""Shapes in the language: how a caller writes one, how one is shown, and unknown dimensions.

A shape is a tuple of at most two dimensions, each a positive int or a name: ``()`` a
scalar, ``(n,)`` a (column) vector, ``(m, n)`` a matrix. Callers write shapes as tuples
(``(3, 4)``, ``("m", "n")``, ``"scalar"``) or, on the command line and in the web page,
as text (``3x4``, ``m,n``, ``n``, ``scalar``); :func:`normalize_shape` and
:func:`shape_from_text` are the one way each is read. Shapes not given follow
matrixcalculus.org (:func:`default_shape`); their unknown dimensions are :class:`DimVar` s,
solved by unification in :class:`Dims` and then named n, m, p, … (:func:`name_unknowns`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
import unicodedata
from itertools import chain, count

from matdiff.errors import MatdiffError
from matdiff.language.syntax import is_name


def shape_text(shape: tuple, show=str) -> str:
    """3×4, n, or scalar: the one way a shape is written for a reader."""
    return "×".join(show(d) for d in shape) if shape else "scalar"


def describe_shape(shape: tuple, show=str) -> str:
    """How an error message names a shape: a scalar, a vector of length n, or m×n."""
    if not shape:
        return "a scalar"
    if len(shape) == 1:
        return f"a vector of length {show(shape[0])}"
    return shape_text(shape, show)


def shape_from_text(text: str) -> tuple:
    """'3x4', '3×4', 'm,n', 'n' or 'scalar' (as typed on the command line or in the page) → (3, 4),
    ('m', 'n'), ('n',), (); the dimensions are checked by :func:`normalize_shape`."""
    text = text.strip()
    if text.lower() in ("", "scalar", "()"):
        return ()
    parts = [part.strip() for part in re.split(r"[,x×*]" if "," not in text else ",", text)]
    if any(not part for part in parts):
        raise MatdiffError(f"bad shape {text!r}: write 3x4, n, mxn or scalar")
    for part in parts:
        if _is_number(part) and len(part.lstrip("0")) > 18:
            raise MatdiffError(f"bad shape {text[:40]!r}{'…' if len(text) > 40 else ''}: a dimension of "
                               f"{len(part.lstrip('0'))} digits is larger than any array")
    return tuple(int(part) if _is_number(part) else part for part in parts)


def _is_number(text: str) -> bool:
    """ASCII digits only: "²".isdigit() is true, but int("²") fails."""
    return text.isascii() and text.isdigit()


def as_mapping(what: str, given) -> dict:
    """``given`` (a mapping from names, or None) as a dict; anything else is the caller's mistake,
    and so is a key that is not a name of the language (the full-width ``ｘ`` is not the ``x`` it
    looks like, and could never mean it)."""
    if given is None:
        return {}
    if not isinstance(given, Mapping) or not all(isinstance(name, str) for name in given):
        raise MatdiffError(f"{what} must be a dict from names to {what}, like {{'x': ...}}, "
                           f"not {type(given).__name__}")
    for name in given:
        if not is_name(name):
            raise MatdiffError(f"{what} names {name!r}, which is not a name in the language "
                               "(ASCII letters, digits and _)")
    return dict(given)


def _dimension_text(text: str) -> str:
    """A dimension name as given, normalised once here (NFKC, as Python reads identifiers), so
    that the full-width ``ｎ`` and ``n`` are one dimension everywhere, generated code included."""
    return unicodedata.normalize("NFKC", text).strip()


def normalize_shape(name: str, spec) -> tuple:
    """A caller's shape (ints, dimension names, 'scalar', ()) as a tuple of dims; a dimension name
    must be a name of the language (after NFKC), a number ASCII digits."""
    if spec is None or spec == "scalar" or spec == ():
        return ()
    if isinstance(spec, (int, str)):
        spec = (spec,)
    try:
        dims = tuple(spec)
    except TypeError:
        raise MatdiffError(f"shape of {name} must be a tuple like (3, 4) or ('m', 'n'), not {spec!r}") from None
    if len(dims) > 2:
        raise MatdiffError(f"shape of {name} has {len(dims)} dimensions; the language has scalars, "
                           "vectors and matrices")
    result: list[int | str] = []
    for d in dims:
        if isinstance(d, str) and _is_number(d.strip()):
            d = int(d)
        if isinstance(d, bool):
            raise MatdiffError(f"bad dimension {d!r} in the shape of {name}")
        if isinstance(d, int) or (hasattr(d, "__index__") and not isinstance(d, str)):
            d = int(d)
            if d < 1:
                raise MatdiffError(f"dimension {d} in the shape of {name} must be at least 1")
            result.append(d)
        elif isinstance(d, str) and is_name(_dimension_text(d)):
            result.append(_dimension_text(d))
        else:
            raise MatdiffError(f"bad dimension {d!r} in the shape of {name}: use a positive integer or a name "
                               "of ASCII letters, digits and _")
    return tuple(result)


# ----- unknown dimensions and their unification ------------------------------------------


class DimVar:
    """An unknown dimension, solved by unification."""

    _counter = count()

    def __init__(self, hint: str):
        self.hint = hint
        self.order = next(DimVar._counter)

    def __repr__(self):
        return f"?{self.hint}"


class Dims:
    """Union-find over dimensions: ints and user-named symbols are fixed, DimVars are not."""

    def __init__(self):
        self.parent: dict[DimVar, object] = {}

    def find(self, d):
        while isinstance(d, DimVar) and d in self.parent:
            d = self.parent[d]
        return d

    def unify(self, a, b) -> bool:
        a, b = self.find(a), self.find(b)
        if a is b or (not isinstance(a, DimVar) and not isinstance(b, DimVar) and a == b):
            return True
        if isinstance(a, DimVar) and isinstance(b, DimVar):
            first, second = (a, b) if a.order <= b.order else (b, a)
            self.parent[second] = first
            return True
        if isinstance(a, DimVar):
            self.parent[a] = b
            return True
        if isinstance(b, DimVar):
            self.parent[b] = a
            return True
        return False

    def show(self, d) -> str:
        d = self.find(d)
        return d.hint if isinstance(d, DimVar) else str(d)


def default_shape(name: str) -> tuple:
    """matrixcalculus.org's convention by first letter: a–g scalar, h–z vector, A–Z matrix."""
    first = name[0]
    if first.isupper():
        return (DimVar("m_" + name), DimVar("n_" + name))
    if "a" <= first.lower() <= "g":
        return ()
    return (DimVar("n_" + name),)


_POOL = ["n", "m", "p", "q", "r", "k", "s", "t", "u", "v", "w"]


def name_unknowns(shapes: dict, declared: dict, dims: Dims) -> dict:
    """Every shape in ``shapes`` (name → dims) with its unknowns solved in ``dims`` and the
    rest named n, m, p, … (names the caller declared are not reused); the declared shapes too."""
    used = {d for shape in declared.values() for d in shape if isinstance(d, str)}
    names: dict = {}
    pool = (name for name in chain(_POOL, (f"n{i}" for i in count(1))) if name not in used)
    solved = dict(declared)
    for name, shape in shapes.items():
        solved_dims = []
        for d in shape:
            d = dims.find(d)
            if isinstance(d, DimVar):
                if d not in names:
                    names[d] = next(pool)
                d = names[d]
            solved_dims.append(d)
        solved[name] = tuple(solved_dims)
    return solved
