"""Coverage-guided fuzzing of parse → shapes → differentiate → print with atheris.

The contract under test (SPEC §3): any input gives a result or a ``MatdiffError``; anything
else (including ``InternalError``, a bug reported politely) is a crash that atheris saves as
a reproducer. Run with MATDIFF_STRICT=1 so internal errors surface as themselves:

    MATDIFF_STRICT=1 python bench/fuzz_atheris.py -max_total_time=600 [corpus_dir]

Each input is decoded into an expression, a variable, a layout and up to three declared
shapes. ``tests/test_fuzz.py`` runs this for a few seconds when atheris is installed.
"""

from __future__ import annotations

import os
import sys

import atheris

with atheris.instrument_imports():
    import matdiff as md
    from matdiff.api import InternalError

LAYOUTS = ["numerator", "denominator", "gradient", "jacobian", "vec"]
NAMES = ["x", "y", "A", "B", "W1", "h", "a", "z"]
SEEDS = ["x'*A*x", "W2*W1*h", "A*B", "z = W*x; a = sigmoid(z); sum(a)", "logdet(X)", "kron(A, B)", "vec(A)",
         "0.5*sum((sigmoid(W3*sigmoid(W2*x)) - y).^2)", "tr(inv(X)*A)", "norm2(A*x - b)"]


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    choice = provider.ConsumeIntInRange(0, 3)
    if choice == 0:  # mutate a known-good expression
        seed = SEEDS[provider.ConsumeIntInRange(0, len(SEEDS) - 1)]
        cut = provider.ConsumeIntInRange(0, len(seed))
        expression = seed[:cut] + provider.ConsumeUnicodeNoSurrogates(8) + seed[cut:]
    else:
        expression = provider.ConsumeUnicodeNoSurrogates(200)
    wrt = NAMES[provider.ConsumeIntInRange(0, len(NAMES) - 1)]
    layout = LAYOUTS[provider.ConsumeIntInRange(0, len(LAYOUTS) - 1)]
    shapes = {}
    for _ in range(provider.ConsumeIntInRange(0, 3)):
        name = NAMES[provider.ConsumeIntInRange(0, len(NAMES) - 1)]
        rank = provider.ConsumeIntInRange(0, 2)
        shapes[name] = tuple(provider.ConsumeIntInRange(1, 4) for _ in range(rank))
    try:
        d = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout)
        _ = d.text, d.index, d.latex, d.shape
    except InternalError:
        raise
    except md.MatdiffError as error:
        if "\n" in error.message:
            raise AssertionError(f"multi-line error message: {error.message!r}") from None


def main() -> None:
    os.environ.setdefault("MATDIFF_STRICT", "1")
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
