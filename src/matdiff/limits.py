"""Configurable bounds on the work one request may cause.

They exist so that no input can exhaust the stack, memory or time: a longer or
deeper input is refused with a :class:`~matdiff.errors.LimitError` instead.
Change them with :func:`configure` (or the environment variables named below,
read at import).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Limits:
    max_source_length: int = 200_000  # characters of input (MATDIFF_MAX_SOURCE_LENGTH)
    max_depth: int = 400  # nesting of parentheses, calls and operators (MATDIFF_MAX_DEPTH)
    max_matrix_power: int = 64  # X^k for |k| up to this (MATDIFF_MAX_MATRIX_POWER)
    max_numeric_size: int = 10_000_000  # entries of any array evaluated (MATDIFF_MAX_NUMERIC_SIZE)
    max_numeric_total: int = 50_000_000  # entries held at once by one evaluation (MATDIFF_MAX_NUMERIC_TOTAL)


def _from_environment() -> Limits:
    values = {}
    for field in Limits.__dataclass_fields__:
        text = os.environ.get("MATDIFF_" + field.upper())
        if text and text.isascii() and text.isdigit():  # not "²", which int() refuses
            values[field] = int(text)
    return Limits(**values)


current = _from_environment()


def configure(**changes: int) -> Limits:
    """Set some limits (e.g. ``configure(max_depth=1000)``); returns the new limits."""
    global current
    current = replace(current, **changes)
    return current
