"""How the printed forms write a number: integers as integers, a fraction with no short decimal as
p/q (1/6, never 0.166666666666667: issue 24), anything else to 15 significant digits."""

from __future__ import annotations


def format_number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


MAX_DENOMINATOR = 64


def fraction(value: float) -> tuple[int, int] | None:
    """(p, q) when ``value`` is the double p/q, q ≤ 64, and has no short decimal: 1/6 prints as
    1/6, not 0.166666666666667 (issue 24); 0.25 stays 0.25. p/q evaluates to the same double."""
    value = float(value)
    if value.is_integer() or len(repr(abs(value))) <= 8:
        return None
    for q in range(3, MAX_DENOMINATOR + 1):
        p = round(value * q)
        if p != 0 and p / q == value:
            return p, q
    return None


def number_text(value: float) -> str:
    exact = fraction(value)
    return f"{exact[0]}/{exact[1]}" if exact else format_number(value)
