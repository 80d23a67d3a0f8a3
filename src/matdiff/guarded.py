"""The error contract, applied at every entry point: whatever the input, a caller sees a result
or a :class:`~matdiff.errors.MatdiffError` — deep inputs get room on the stack, work out of bounds
is a LimitError, and (with MATDIFF_STRICT=1, the test suite) internal bugs surface as themselves.
Used by the API and the tools alike, as errors.py and limits.py are."""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager

from matdiff.errors import InternalError, LimitError, MatdiffError


_DEEP_RECURSION = 20_000  # frames the printers and the simplifier may need at the maximum nesting
_recursion_lock = threading.Lock()
_recursion_users = 0  # guarded calls running now, in any thread
_recursion_before = 0  # the limit before the first of them


@contextmanager
def room_to_recurse():
    """Room on the stack for deep inputs while any guarded call runs.

    The recursion limit is one number for the whole process: saved and raised by the first
    guarded call in, restored by the last one out (a count under a lock), so that threads
    whose calls overlap can never leave it raised — nor lower it under one another.
    """
    global _recursion_users, _recursion_before
    with _recursion_lock:
        if _recursion_users == 0:
            _recursion_before = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_recursion_before, _DEEP_RECURSION))
        _recursion_users += 1
    try:
        yield
    finally:
        with _recursion_lock:
            _recursion_users -= 1
            if _recursion_users == 0:
                sys.setrecursionlimit(_recursion_before)


@contextmanager
def guarded(source: str | None = None):
    """Deep inputs may recurse in the printers; out-of-bounds work is a LimitError, and with
    MATDIFF_STRICT=1 (the test suite) internal bugs surface as themselves."""
    try:
        with room_to_recurse():
            yield
    except MatdiffError as error:
        raise error.located(None, source) from None
    except RecursionError:
        raise LimitError("the expression is too deeply nested to process", None, source) from None
    except MemoryError:
        raise LimitError("the expression needs more memory than is available", None, source) from None
    except Exception as error:  # noqa: BLE001 - the contract: never a bare exception
        if os.environ.get("MATDIFF_STRICT"):
            raise
        raise InternalError(f"internal error ({type(error).__name__}: {error}); please report this input",
                            None, source) from error
