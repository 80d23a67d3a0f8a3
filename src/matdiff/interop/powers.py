"""Exact powers in SymPy that stay small: a power whose exact value would have more digits than any
machine holds is left unevaluated. Shared by the SymPy bridge and the componentwise view."""

from __future__ import annotations

import math
from typing import Any

_EXACT_BITS = 10_000  # a power of numbers bigger than this many bits stays unevaluated


def exact_power(sp: Any, base: Any, exponent: Any) -> Any:
    """base ** exponent in SymPy, left unevaluated where both are numbers and the exact value would
    be huge (SymPy computes every digit: 2^(2^(2^65536)) fits no machine), and where both are
    symbolic (evaluating exp(E)^F expands E into real and imaginary parts: minutes on long entries)."""
    symbolic = not getattr(exponent, "is_Number", True) and not getattr(base, "is_Number", True)
    return sp.Pow(base, exponent, evaluate=False) if symbolic or _huge(base, exponent) else base ** exponent


def holds_huge_power(sp: Any, expression: Any) -> bool:
    """Whether ``expression`` holds a power that ``exact_power`` left unevaluated (which
    ``simplify`` would evaluate, digit by digit)."""
    return any(_huge(power.base, power.exp) for power in expression.atoms(sp.Pow))


def _huge(base: Any, exponent: Any) -> bool:
    if not (getattr(base, "is_Number", False) and getattr(exponent, "is_Number", False)):
        return False
    try:
        return abs(float(exponent)) * abs(math.log2(abs(float(base)))) > _EXACT_BITS
    except (OverflowError, ValueError):  # a number too large for a float, or a zero base
        return True
