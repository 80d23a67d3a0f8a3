"""Every route on random well-shaped inputs: no crash, no disagreement between routes.

``bench/differential.py`` asks whether a derivative is *right*. This asks whether every other
route a user takes with the same input survives it and agrees: the printed forms (text, LaTeX,
index, vec, JSON), ``check`` given matdiff's own answer (it must say "right"), ``explain`` (and
its verbose form), ``gradients`` and its backward-pass text, the compiled NumPy code of the
derivative and of the gradients (the same numbers as ``evaluate``), the second derivative, and
(every ``--entries-every``-th case) the entries by SymPy.

The issue-26 fuzzer found two InternalErrors in ~98k cases; this is the command that keeps
looking (README, "Random exploration"):

    python bench/fuzz_routes.py --count 100000 --seed 0 --jobs 2

With ``MATDIFF_STRICT=1`` (set here) an internal error surfaces as its own exception, so a
finding names the real failure. Each case has a time bound; a case past it is a finding too.
A ``MatdiffError`` is an answer, not a finding: a well-shaped input may still be refused (a
limit, a domain the values miss). Exit status 1 when anything was found.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from dataclasses import asdict, dataclass

os.environ.setdefault("MATDIFF_STRICT", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import differential  # noqa: E402
import matdiff as md  # noqa: E402

TIME_BOUND = 30.0  # seconds for all the routes of one case


@dataclass
class Finding:
    index: int
    program: str
    wrt: str
    layout: str
    route: str
    detail: str

    def repro(self) -> str:
        return (f"[{self.route}] #{self.index} {self.detail}\n    program={self.program!r} wrt={self.wrt!r} "
                f"layout={self.layout!r}  (shapes: bench/differential.py VARIABLES)")


class _Expired(Exception):
    pass


class _Disagrees(Exception):
    pass


def _agree(got, want, what: str, spread=None) -> None:
    """``got`` is ``want``, to rounding; ``spread()`` (how far ``want`` moves when the values move
    by one part in 10¹⁰) widens that where the point is ill-conditioned (inv of a near-singular)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if not np.all(np.isfinite(want)):  # 0·∞ past an overflow: evaluate's nan, compiled code's 0
        return
    if got.size != want.size:
        raise _Disagrees(f"{what}: {got.shape} entries, evaluate gives {want.shape}")
    got = got.reshape(want.shape)
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    if np.allclose(got, want, rtol=1e-7, atol=1e-9 * scale):
        return
    if spread is None or not np.max(np.abs(got - want)) <= 100 * spread():
        raise _Disagrees(f"{what} differs from evaluate")


def _spread(d, values: dict, want) -> float:
    moved = {name: np.asarray(value, dtype=float) * (1 + 1e-10) for name, value in values.items()}
    return float(np.max(np.abs(np.asarray(d.evaluate(moved), dtype=float) - want), initial=0.0))


def _routes(case, values: dict, *, entries: bool, second: bool) -> list[tuple[str, object]]:
    """(route, callable) for every route of one case, in the order a user meets them."""
    shapes, program, wrt, layout = differential.VARIABLES, case.program, case.wrt, case.layout
    state: dict = {}

    def derivative():
        d = state["d"] = md.diff(program, wrt=wrt, shapes=shapes, layout=layout)
        _ = d.text, d.latex, d.index, d.vec_text, d.reason, d.notes, repr(d), json.dumps(d.to_dict())
        state["value"] = np.asarray(d.evaluate(values), dtype=float)

    def checked():
        d = state.get("d")
        if d is None or d.text is None:
            return
        verdict = md.check(program, wrt, d.text, shapes=shapes, layout=layout)
        if not verdict.correct:
            raise _Disagrees(f"check says {verdict.kind} of matdiff's own answer {d.text!r}: {verdict.diagnosis}")
        _ = str(verdict)

    def explained():
        explanation = md.explain(program, wrt, shapes=shapes, layout=layout, verbose=case.index % 7 == 0)
        _ = str(explanation)

    def compiled():
        d = state.get("d")
        if d is None or "value" not in state:
            return
        with np.errstate(all="ignore"):
            _agree(d.compile("numpy")(**_inputs(d, values)), state["value"], "compiled numpy",
                   lambda: _spread(d, values, state["value"]))

    def backward():
        d = state.get("d")
        if d is None or d.shape != tuple(differential.VARIABLES.get(wrt, ())) or layout != "gradient":
            return
        grads = md.gradients(program, shapes=shapes, wrt=[wrt])
        _ = grads.text, grads.latex, json.dumps(grads.to_dict())
        if grads.text is not None and "value" in state:
            with np.errstate(all="ignore"):
                _, gradient = grads.compile("numpy")(**_inputs(grads[wrt], values))
            _agree(gradient[wrt], state["value"], "compiled gradients", lambda: _spread(d, values, state["value"]))

    def twice():
        d2 = md.diff(program, wrt=(wrt, wrt), shapes=shapes, layout="jacobian")
        _ = d2.text, d2.latex, d2.index

    def componentwise():
        _ = str(md.entries(program, wrt, shapes=shapes, layout=layout))

    routes = [("diff", derivative), ("check", checked), ("explain", explained), ("compile", compiled),
              ("gradients", backward)]
    if second:
        routes.append(("second", twice))
    if entries:
        routes.append(("entries", componentwise))
    return routes


def _inputs(d, values: dict) -> dict:
    """The values a compiled function takes: its own inputs (an intermediate wrt is a program's t)."""
    names = set(d.input_variables)
    return {name: value for name, value in values.items() if name in names}


def run_case(case, *, entries_every: int, second_every: int) -> list[Finding]:
    values = differential.values_for(case.value_seed)
    found: list[Finding] = []

    def expired(signum, frame):
        raise _Expired(f"routes past {TIME_BOUND} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, TIME_BOUND)
    route = "diff"
    try:
        for route, function in _routes(case, values, entries=entries_every > 0 and case.index % entries_every == 0,
                                       second=second_every > 0 and case.index % second_every == 0):
            try:
                with np.errstate(all="ignore"):
                    function()
            except md.MatdiffError as error:
                if isinstance(error, md.InternalError) or "\n" in error.message:
                    found.append(Finding(case.index, case.program, case.wrt, case.layout, route,
                                         f"{type(error).__name__}: {error.message}"))
                if route == "diff":
                    break  # every later route repeats diff's refusal
            except (_Disagrees, _Expired) as error:
                found.append(Finding(case.index, case.program, case.wrt, case.layout, route, str(error)))
                if isinstance(error, _Expired):
                    break
            except Exception as error:  # noqa: BLE001 - any other exception is a finding
                found.append(Finding(case.index, case.program, case.wrt, case.layout, route,
                                     f"{type(error).__name__}: {error}"[:300] + " | "
                                     + traceback.format_exc(limit=-2)[-400:].replace("\n", " ")))
    except _Expired as error:  # between routes
        found.append(Finding(case.index, case.program, case.wrt, case.layout, route, str(error)))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return found


def _run_chunk(arguments) -> list[dict]:
    chunk, entries_every, second_every = arguments
    return [asdict(f) for case in chunk for f in run_case(case, entries_every=entries_every,
                                                          second_every=second_every)]


def run(count: int, seed: int, *, jobs: int = 1, entries_every: int = 50, second_every: int = 5,
        progress=None) -> list[Finding]:
    todo = differential.cases(count, seed)
    if jobs <= 1:
        found = []
        for done, case in enumerate(todo, 1):
            new = run_case(case, entries_every=entries_every, second_every=second_every)
            found += new
            if progress and (new or done % 1000 == 0):
                progress(done, found[-len(new):] if new else [])
        return found
    from concurrent.futures import ProcessPoolExecutor

    size = 200
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    found = []
    with ProcessPoolExecutor(jobs) as pool:
        for done, part in enumerate(pool.map(_run_chunk, [(c, entries_every, second_every) for c in chunks]), 1):
            new = [Finding(**row) for row in part]
            found += new
            if progress and (new or (done * size) % 1000 == 0):
                progress(min(done * size, count), new)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--entries-every", type=int, default=50, metavar="N",
                        help="run entries (SymPy) on every N-th case (0: never)")
    parser.add_argument("--second-every", type=int, default=5, metavar="N",
                        help="take the second derivative of every N-th case (0: never)")
    parser.add_argument("--json", metavar="PATH", help="write the findings as JSON")
    arguments = parser.parse_args(argv)
    started = time.perf_counter()

    total = []

    def progress(done: int, new: list) -> None:
        """Findings as they come (a long run is read while it runs), and a count every 1,000 cases."""
        total.extend(new)
        for finding in new:
            print(finding.repro(), file=sys.stderr, flush=True)
        print(f"{done} cases, {len(total)} findings, {time.perf_counter() - started:.0f} s", file=sys.stderr,
              flush=True)

    found = run(arguments.count, arguments.seed, jobs=arguments.jobs, entries_every=arguments.entries_every,
                second_every=arguments.second_every, progress=progress)
    for finding in found:
        print(finding.repro())
    routes: dict[str, int] = {}
    for finding in found:
        routes[finding.route] = routes.get(finding.route, 0) + 1
    summary = {"count": arguments.count, "seed": arguments.seed, "findings": len(found), "by_route": routes,
               "wall_seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(summary))
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump({"summary": summary, "findings": [asdict(f) for f in found]}, handle, indent=1)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
