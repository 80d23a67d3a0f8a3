"""The cost of finding matrix forms: every case of the literature suite, derived and printed.

    python bench/recovery.py            # the table of the slowest cases, then the totals

For each case of tests/literature_*.py: the time to derive (``md.diff``) and the time to find
and print the matrix form (``.text`` on a fresh derivative: the contraction-tree search of
matdiff.notation.search, the rewrites and the bindings), each the best of 5, cold, in CPU
time of this process (``time.process_time``: the development machine is shared, and wall time
there measures the neighbours). The search
keeps to its budget (``search.STEP_BUDGET`` combination steps per contraction, exact dynamic
programming up to ``search.MAX_EXACT_OPERANDS`` operands, greedy beyond); the most steps any
contraction of the suite needed is printed beside the budget. Target: under 50 ms per derivative.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import matdiff as md  # noqa: E402
from literature_matrix import CASES as MATRIX_CASES  # noqa: E402
from literature_networks import CASES as NETWORK_CASES  # noqa: E402
from matdiff.notation import search  # noqa: E402
from symbolic import best_of  # noqa: E402

TARGET = 0.050  # seconds per derivative, derive and print


def _best(function) -> float:
    return best_of(function, clock=time.process_time)


def _steps_counted():
    """Wrap Search.run to record the steps each contraction took; returns the list and an undo."""
    steps: list[int] = []
    original = search.Search.run

    def run(self):
        try:
            return original(self)
        finally:
            steps.append(self.steps)

    search.Search.run = run  # type: ignore[method-assign]
    return steps, lambda: setattr(search.Search, "run", original)


def measure() -> list[dict]:
    rows = []
    steps, undo = _steps_counted()
    try:
        for case in NETWORK_CASES + MATRIX_CASES:
            def derive(case=case):
                return md.diff(case.expr, wrt=case.wrt, shapes=case.shapes, layout=case.layout)

            derive().text  # warm: the parser and the imports
            derive_s = _best(derive)
            total_s = _best(lambda: derive().text)
            rows.append({"case": case.id, "derive": derive_s, "matrix form": max(total_s - derive_s, 0.0),
                         "total": total_s})
    finally:
        undo()
    rows.sort(key=lambda row: -row["total"])
    rows[0]["most steps"] = max(steps, default=0)
    return rows


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    rows = measure()
    print("| case | derive | matrix form | total |\n|---|---|---|---|")
    for row in rows[:12]:
        print(f"| `{row['case']}` | {_ms(row['derive'])} | {_ms(row['matrix form'])} | {_ms(row['total'])} |")
    totals = sorted(row["total"] for row in rows)
    print(f"\n{len(rows)} derivatives: median {_ms(totals[len(totals) // 2])}, worst {_ms(totals[-1])} "
          f"(target {_ms(TARGET)}); most search steps in one contraction {rows[0]['most steps']} "
          f"(budget {search.STEP_BUDGET}, exact up to {search.MAX_EXACT_OPERANDS} operands)")
    return 0 if totals[-1] < TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
