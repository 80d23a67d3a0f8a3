"""4. CLI cold start: ``matdiff diff "x'*A*x" --wrt x`` as a user types it, in a fresh process.

Bytecode caching is on (as after ``pip install``), and one untimed run first writes the
caches (Python's .pyc files, lark's parser tables). Reports the best and the median wall
time of the console script, and the import time of ``matdiff.cli`` alone.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

COMMAND = ["diff", "x'*A*x", "--wrt", "x"]


def _environment() -> dict:
    environment = dict(os.environ)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def cold_start(runs: int = 10) -> dict:
    script = shutil.which("matdiff")
    command = [script, *COMMAND] if script else [sys.executable, "-m", "matdiff.cli", *COMMAND]
    environment = _environment()
    subprocess.run(command, env=environment, check=True, capture_output=True)  # writes the caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=environment, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    probe = ("import time; t = time.perf_counter(); import matdiff.cli; "
             "print(time.perf_counter() - t)")
    imports = min(float(subprocess.run([sys.executable, "-c", probe], env=environment, check=True,
                                       capture_output=True, text=True).stdout) for _ in range(5))
    bare = min(_time([sys.executable, "-c", "pass"], environment) for _ in range(5))
    return {"command": "matdiff " + " ".join(f'"{a}"' if "'" in a else a for a in COMMAND),
            "best": min(times), "median": statistics.median(times), "import": imports, "python": bare}


def _time(command, environment) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=environment, check=True, capture_output=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    print(cold_start())
