"""One rule type for every rewrite table of matdiff.

Each table of identities — the structure rules (engine/structure.py), the primitives spelled out
(engine/spelled.py), the elementwise algebra (notation/identities.py), and the matrix rewrites
(notation/rewrite.py, algebra.py, layers.py) — is a tuple of :class:`Rule`: a name (what tests,
docs and traces call it), the function that applies it to a term (an equal term, or None where it
does not apply) and, for a rule that holds only under an assumption, that side condition in the
user's terms. The tables differ only in what a term is (an IR node, a monomial, a matrix tree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Rule:
    """A named identity: ``apply(term, *context)`` is an equal term, or None where it does not apply."""

    name: str
    apply: Callable[..., Any]
    condition: str = ""  # the side condition, in the user's terms (x > 0); "" where it always holds


def first_rewrite(rules: tuple[Rule, ...], term: Any, *context: Any) -> Any:
    """The first rule's rewrite of ``term`` (in the table's order), or None if none applies."""
    for rule in rules:
        found = rule.apply(term, *context)
        if found is not None:
            return found
    return None
