"""Helpers for the server tests: a stand-in engine worker, and ``matdiff serve`` in a subprocess.

The stand-in speaks the worker protocol (:mod:`matdiff.web.worker`) in a few lines: a
job whose expression holds ``slow`` sleeps a minute, one that holds ``spin`` computes
for a minute, any other answers at once with the worker's pid. No engine input is
reliably slow on every machine, and a test must not depend on one being so. A slow or
spinning job writes its pid to ``$STAND_IN_LOG`` when it starts, so a test can watch
that process die.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

STAND_IN_WORKER = textwrap.dedent("""
    import json, os, sys, time
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        expression = job["payload"].get("expression", "")
        if "slow" in expression or "spin" in expression:
            if os.environ.get("STAND_IN_LOG"):
                with open(os.environ["STAND_IN_LOG"], "a") as log:
                    log.write(f"{os.getpid()}\\n")
            end = time.monotonic() + 60
            while "spin" in expression and time.monotonic() < end:
                pass
            time.sleep(max(0.0, end - time.monotonic()))
        print(json.dumps({"status": 200, "body": {"pid": os.getpid()}}), flush=True)
""")
STAND_IN_COMMAND = [sys.executable, "-c", STAND_IN_WORKER]
SOURCE = str(Path(__file__).resolve().parent.parent / "src")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(log: Path | None = None, errors: Path | None = None, **options):
    """``serve(**options)`` in a subprocess on a free loopback port; yields its base URL once it
    answers, and stops it after. ``log`` is the stand-in's ``$STAND_IN_LOG``; the server's error
    output goes to ``errors`` (a file, not a pipe: a full pipe would stall it), quoted when it
    does not start."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (SOURCE, os.environ.get("PYTHONPATH")) if p))
    if log is not None:
        env["STAND_IN_LOG"] = str(log)
    with contextlib.ExitStack() as stack:
        stderr = stack.enter_context(errors.open("w")) if errors is not None else None
        process = subprocess.Popen(
            [sys.executable, "-c", f"from matdiff.web.server import serve; serve(port={port}, **{options!r})"],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        stack.callback(_stop, process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/api/capabilities", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    said = errors.read_text(errors="replace")[-2000:] if errors is not None else "(not kept)"
                    raise AssertionError("the server did not start: " + said) from None
                time.sleep(0.1)
        yield url


def _stop(process: subprocess.Popen) -> None:
    """Terminate, and kill what does not exit within ten seconds."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, killed but not yet reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # gone before the open (FileNotFoundError) or between open and read (ESRCH)
        return False
