"""What a diagnosis may ask of a check in progress: the interface between ``check`` and its diagnoses.

``tools/checking.py`` runs a check (its :class:`~matdiff.tools.checking.Check` satisfies
:class:`Evidence`); ``tools/diagnoses.py`` and ``tools/repairs.py`` explain a wrong claim from the
evidence alone. Declared here, below both, so that neither imports the other: the diagnoses see
these values and questions, not the check's machinery (its random generator, its clock, how it
lowers a claim).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from matdiff.api import Derivative
    from matdiff.language.assumptions import Assumptions
    from matdiff.language.syntax import Node, Program
    from matdiff.tools.claims import Claim


class Evidence(Protocol):
    """The claim, the derivative and the random points where both were compared."""

    # -- the question --
    expression: str
    program: Program
    claim: str
    wrt_text: str  # the variable(s), as typed: "W" or "W,b"
    single: bool  # by one variable
    layout: str
    assume: Assumptions
    inputs: dict[str, tuple]  # each input's shape
    output: str  # the name of the expression's value (L, y, a3 …)
    y_shape: tuple  # its shape: () for a scalar

    # -- the answer and the claim --
    derivative: Derivative
    claimed: Claim
    points: list[tuple[dict, np.ndarray, Any]]  # (values, derivative, claim) at each random point

    def derivative_in(self, layout: str, *, assume: Assumptions | None = None,
                      convention: str | None = None) -> Derivative: ...

    def expected(self, values: dict, layout: str | None = None) -> np.ndarray: ...

    def structured_draws(self, assume: Assumptions) -> list[dict]: ...

    def cotangent(self) -> np.ndarray: ...

    def answer_texts(self) -> list[str]: ...

    def backprop_form(self) -> str | None: ...

    def tensor_hint(self) -> str | None: ...

    # -- the repairs' search: a budget of numerical comparisons --

    @property
    def claim_value(self) -> Node: ...

    @property
    def names_in_scope(self) -> set[str]: ...

    def budget_spent(self) -> bool: ...

    def agrees(self, value: Node) -> bool | None: ...

    def surfaces(self, nodes: list[Node]) -> dict[int, tuple]: ...
