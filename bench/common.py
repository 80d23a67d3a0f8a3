"""What the benchmarks share: a timer, the machine's description, optional imports.

Times are the minimum over interleaved rounds of the mean over a batch of calls (the least
disturbed estimate on a shared machine); each batch runs at least ``min_time`` seconds.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import platform
import time

import numpy as np


def _batch(function, min_time: float, max_calls: int) -> tuple[int, float]:
    """How many calls make a batch of at least ``min_time`` seconds, and that batch's time per call."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            function()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or calls >= max_calls:
            return calls, elapsed / calls
        calls = min(max_calls, calls * max(2, min(10, int(min_time / max(elapsed, 1e-9)) + 1)))


def measure_all(functions: dict, *, min_time: float = 0.1, rounds: int = 5, max_calls: int = 10_000) -> dict:
    """Seconds per call of each ``function()`` (warmed up by the caller), measured in interleaved
    rounds so that a change in the machine's load affects every method alike."""
    batches = {name: _batch(function, min_time, max_calls) for name, function in functions.items()}
    best = {name: per_call for name, (_, per_call) in batches.items()}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds - 1):
            for name, function in functions.items():
                calls = batches[name][0]
                start = time.perf_counter()
                for _ in range(calls):
                    function()
                best[name] = min(best[name], (time.perf_counter() - start) / calls)
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


def measure(function, **options) -> float:
    return measure_all({"only": function}, **options)["only"]


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def versions() -> dict:
    found = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("jax", "torch", "sympy", "opt_einsum", "tensorgrad"):
        if have(name):
            try:
                found[name] = __import__(name).__version__
            except AttributeError:
                found[name] = "installed"
    return found


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores, load {load:.1f} at start"


def enable_jax_x64():
    """All frameworks compute in float64 here, as NumPy does."""
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def to_numpy(array) -> np.ndarray:
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def block(result):
    """Wait for asynchronous (JAX) results so their time is counted."""
    if hasattr(result, "block_until_ready"):
        result.block_until_ready()
    return result


def ms(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"
