"""What a diagnosis may ask of a check in progress: the interface between ``check`` and its diagnoses.

``tools/checking.py`` runs a check (its :class:`~matdiff.tools.checking.Check` satisfies
:class:`Evidence`); ``tools/diagnoses.py`` and ``tools/repairs.py`` explain a wrong claim from the
evidence alone. Declared here, below both, so that neither imports the other: the diagnoses see
these values and questions, not the check's machinery (its random generator, its clock, how it
lowers a claim), and each diagnosis only the part it needs (:class:`Points`, :class:`Alternatives`,
:class:`Backprop`, :class:`ClaimSearch`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from matdiff.api import Derivative
    from matdiff.language.assumptions import Assumptions
    from matdiff.language.syntax import Node, Program
    from matdiff.tools.claims import Claim


class Points(Protocol):
    """The derivative and the claim compared at random points: enough to see a transposed or
    differently arranged answer."""

    layout: str
    points: list[tuple[dict, np.ndarray, Any]]  # (values, derivative, claim) at each random point

    def expected(self, values: dict, layout: str | None = None) -> np.ndarray: ...


class Alternatives(Protocol):
    """The derivative asked for, and the same derivative asked otherwise (another layout, another
    convention, more assumptions), with the claim's value to compare them with."""

    layout: str
    claim: str
    assume: Assumptions
    inputs: dict[str, tuple]  # each input's shape
    derivative: Derivative
    claimed: Claim

    def derivative_in(self, layout: str, *, assume: Assumptions | None = None,
                      convention: str | None = None) -> Derivative: ...

    def structured_draws(self, assume: Assumptions) -> list[dict]: ...


class Backprop(Alternatives, Protocol):
    """A claim read as the factor of a vector-Jacobian product: the output, a random cotangent G."""

    single: bool  # by one variable
    wrt_text: str  # the variable(s), as typed: "W" or "W,b"
    output: str  # the name of the expression's value (L, y, a3 …)
    y_shape: tuple  # its shape: () for a scalar
    points: list[tuple[dict, np.ndarray, Any]]

    @property
    def claim_value(self) -> Node: ...

    def cotangent(self) -> np.ndarray: ...

    def backprop_form(self) -> str | None: ...


class ClaimSearch(Protocol):
    """The repairs' search: the claim's syntax tree, and a budget of numerical comparisons of an
    edited claim with the derivative."""

    claim: str
    program: Program
    layout: str
    wrt_text: str
    derivative: Derivative
    claimed: Claim
    points: list[tuple[dict, np.ndarray, Any]]

    @property
    def claim_value(self) -> Node: ...

    @property
    def names_in_scope(self) -> set[str]: ...

    def answer_texts(self) -> list[str]: ...

    def tensor_hint(self) -> str | None: ...

    def budget_spent(self) -> bool: ...

    def agrees(self, value: Node) -> bool | None: ...

    def surfaces(self, nodes: list[Node]) -> dict[int, tuple]: ...


class Evidence(Points, Backprop, ClaimSearch, Protocol):
    """All of it: what the table of diagnoses is given. Each diagnosis is typed with the narrowest of
    the protocols above that it reads, so mypy holds it to them."""
