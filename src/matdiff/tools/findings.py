"""What a diagnosis of a claim found (the verdict's kind, its sentence, extra fields): shared by
the table of diagnoses and the searches that repair a claim's text."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """What a diagnosis found: the verdict's kind, the sentence that says it, and extra fields."""

    kind: str
    diagnosis: str
    fields: dict = field(default_factory=dict)  # hint, layouts, backprop_form, repair
