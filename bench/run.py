"""Every benchmark of BENCHMARKS.md side by side, in one run (about 3–5 minutes on 2 cores):

    python bench/run.py [--threads 1] [--quick] [--json bench/results.json] [--plot bench/scaling.png]

prints Markdown tables (times and ratios to the hand-written reference), writes the raw
numbers as JSON, a matplotlib plot of how symbolic time and printed size scale with depth,
and (section 5, ``bench/scaling.py``) a log–log plot of every large workload's time and
output size against its input size, with fitted exponents, beside ``bench/scaling_large.png``.
``--threads`` pins BLAS, XLA and PyTorch to that many threads (default 1: on a shared
machine, oversubscribed BLAS threads make the timings erratic); ``--threads 0`` leaves
every library its default.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, no torch.func.hessian, no tensorgrad")
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "results.json"))
    parser.add_argument("--plot", default=os.path.join(os.path.dirname(__file__), "scaling.png"))
    parser.add_argument("--large-plot", default=os.path.join(os.path.dirname(__file__), "scaling_large.png"))
    return parser.parse_args(argv)


def _pin_threads(threads: int) -> None:
    """Must run before numpy, jax or torch is imported."""
    if threads <= 0:
        return
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}"
                               f" intra_op_parallelism_threads={threads}").strip()


def table(rows: list[dict], columns: list[str]) -> str:
    from common import ms

    def cell(row, column):
        value = row.get(column, "")
        if column in ("seconds", "best", "median", "import", "python", "derive", "matrix form", "total") \
                and isinstance(value, float):
            return ms(value)
        if column == "ratio":
            return f"{value:.2f}×"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row, c) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def plot(depth_rows: list[dict], path: str) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (time_axis, size_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for tool in dict.fromkeys(row["tool"] for row in depth_rows):
        rows = [row for row in depth_rows if row["tool"] == tool]
        depths = [row["depth"] for row in rows]
        time_axis.plot(depths, [row["seconds"] * 1e3 for row in rows], "o-", label=tool)
        if all(row["printed"] != "" for row in rows):
            size_axis.plot(depths, [row["printed"] for row in rows], "o-", label=tool)
    time_axis.axhline(100, color="grey", linestyle=":", label="goal: 100 ms at depth 32")
    time_axis.set(xlabel="sigmoid MLP depth", ylabel="derive + print (ms)", yscale="log", xscale="log",
                  title="time to differentiate ∂loss/∂W1")
    size_axis.set(xlabel="sigmoid MLP depth", ylabel="printed characters", yscale="log", xscale="log",
                  title="size of the printed derivative")
    for axis in (time_axis, size_axis):
        axis.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axis.set_xticks([2, 4, 8, 16, 32], labels=["2", "4", "8", "16", "32"])
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv=None) -> int:
    arguments = _arguments(argv)
    _pin_threads(arguments.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import common
    import compiled
    import recovery
    import scaling
    import startup
    import symbolic

    if common.have("torch") and arguments.threads > 0:
        import torch

        torch.set_num_threads(arguments.threads)
    quick = arguments.quick
    print(f"# matdiff benchmarks\n\n{common.machine()}; threads per library: "
          f"{arguments.threads or 'default'}; {', '.join(f'{k} {v}' for k, v in common.versions().items())}\n")
    results = {"machine": common.machine(), "threads": arguments.threads, "versions": common.versions()}

    results["hessians"] = compiled.hessians(quick=quick)
    print("## 1. Compiled Hessians\n\n" + table(results["hessians"], ["problem", "method", "seconds", "ratio"]))
    results["gradient"] = compiled.mlp_gradient(quick=quick)
    print("\n## 2. Compiled gradient\n\n" + table(results["gradient"], ["problem", "method", "seconds", "ratio"]))
    results["mlp matrix form"] = compiled.mlp_matrix_form()
    print(f"\nmatdiff prints ∂loss/∂W1 as `{results['mlp matrix form']}`")
    results["chain"] = symbolic.chain(quick=quick)
    print("\n## 3a. Symbolic: chain\n\n" + table(results["chain"], ["problem", "tool", "seconds", "printed"]))
    results["depth"] = symbolic.depth_scaling(quick=quick)
    print("\n## 3b. Symbolic: sigmoid MLP depth\n\n" + table(results["depth"], ["depth", "tool", "seconds", "printed"]))
    results["recovery"] = recovery.measure()
    print("\n## 3c. Finding matrix forms (the literature suite, CPU time)\n\n"
          + table(results["recovery"][:5], ["case", "derive", "matrix form", "total"]))
    results["startup"] = [startup.cold_start()]
    print("\n## 4. CLI cold start\n\n" + table(results["startup"], ["command", "best", "median", "import", "python"]))
    results["scaling"] = scaling.run_all(quick=quick)
    results["scaling"]["targets"] = scaling.targets(results["scaling"])
    print("\n## 5. Linear at scale (CPU seconds)\n\n"
          + table(results["scaling"]["rows"], ["workload", "size", "tool", "seconds", "output"]) + "\n\n"
          + table(scaling.shown_fits(results["scaling"]["fits"]), ["workload", "tool", "sizes", "time exponent",
                                                                  "output exponent"]) + "\n\n"
          + table(results["scaling"]["targets"], ["target", "measured", "met"]))

    with open(arguments.json, "w") as handle:
        json.dump(results, handle, indent=1, ensure_ascii=False)
    try:
        plot(results["depth"], arguments.plot)
        scaling.plot(results["scaling"], arguments.large_plot)
        print(f"\nwrote {arguments.json}, {arguments.plot} and {arguments.large_plot}")
    except ImportError:
        print(f"\nwrote {arguments.json} (no plot: pip install matplotlib)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
