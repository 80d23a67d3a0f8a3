"""The errors a user can cause, and nothing else.

Every failure that comes from the input (syntax, shapes, domains, limits, unknown
names, bad options) is a :class:`MatdiffError`: a one-line message in the user's
terms plus the position in the source where it applies, so that a caret can be
drawn under it. Internal bugs are not dressed up as these.
"""

from __future__ import annotations


class MatdiffError(Exception):
    """A problem with the user's input, with a one-line message and a position.

    ``position`` is a 0-based character offset into ``source`` (or None when the
    problem is not located in the expression, e.g. a bad option).
    """

    def __init__(self, message: str, position: int | None = None, source: str | None = None):
        message = " ".join(str(message).split())  # always one line
        super().__init__(message)
        self.message = message
        self.position = position
        self.source = source

    def located(self, position: int | None, source: str | None) -> "MatdiffError":
        """Fill in where the error applies, unless a more precise place is already known."""
        if self.position is None:
            self.position = position
        if self.source is None:
            self.source = source
        return self

    def caret(self) -> str:
        """The offending source line with a caret under the position ('' when unknown)."""
        if self.source is None or self.position is None:
            return ""
        position = max(0, min(self.position, len(self.source)))
        line_start = self.source.rfind("\n", 0, position) + 1
        line_end = self.source.find("\n", position)
        line = self.source[line_start : line_end if line_end >= 0 else len(self.source)]
        column = position - line_start
        if len(line) > 100:  # keep the caret readable on huge inputs
            left = max(0, column - 50)
            line, column = line[left : left + 100], column - left
        return f"{line}\n{' ' * column}^"

    def __str__(self) -> str:
        return self.message


class ParseError(MatdiffError):
    """The text is not in the input language."""


class ShapeError(MatdiffError):
    """Operands whose shapes do not fit the operation."""


class DomainError(MatdiffError):
    """A value outside a function's domain, or an operation the calculus does not define."""


class UnknownNameError(MatdiffError):
    """A variable or function the expression does not define."""


class LayoutError(MatdiffError):
    """A layout that does not apply to this derivative (e.g. 'gradient' of a vector)."""


class LimitError(MatdiffError):
    """The input exceeds a configured size, depth or time limit."""


class ValueMismatchError(MatdiffError):
    """Numeric values whose shapes disagree with the declared or inferred shapes."""


class InternalError(MatdiffError):
    """A bug in matdiff, reported as a MatdiffError so callers' contracts hold (unless
    MATDIFF_STRICT=1, as in the test suite, where the bug surfaces as itself)."""
