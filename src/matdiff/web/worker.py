"""The loop inside one engine worker process: a JSON job per line in, a JSON reply per line out.

The server runs the engine in child processes rather than threads because a thread
cannot be stopped and a process can be killed (see :mod:`matdiff.web.pool`). The
protocol is deliberately dull: stdin carries ``{"kind": ..., "payload": ...}`` lines;
the reply channel carries ``{"status": http_status, "body": {...}}`` lines, after a
first ``{"ready": true}`` once the engine is imported.

The reply channel is the original stdout, moved to a private descriptor, and fd 1 is
pointed at stderr: a stray ``print`` in the engine then lands in the server log
instead of corrupting a reply. The worker exits when stdin closes, so workers never
outlive the server.
"""

from __future__ import annotations

import json
import os
import sys


def _limit_memory(budget: int) -> None:
    """Cap the address space at its current size plus ``budget`` bytes.

    A request such as ``sum(ones(99999)*ones(99999)')`` then fails inside numpy with
    MemoryError (reported to the user) instead of swapping the machine to death.
    """
    try:
        import resource

        with open("/proc/self/statm") as statm:
            current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (current + budget, current + budget))
    except (ImportError, OSError, ValueError):
        pass  # not Linux: the time limit still applies


def _send(channel, message: dict) -> None:
    channel.write(json.dumps(message, allow_nan=False, separators=(",", ":")) + "\n")
    channel.flush()


def main() -> int:
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        from matdiff.web import jobs
        from matdiff.notation.saturation import warm

        warm()  # egglog imported and the identities registered now, not in a user's first request
    except Exception as error:  # noqa: BLE001 - the server reports it and retries
        _send(channel, {"ready": False, "error": f"{type(error).__name__}: {error}"})
        return 1
    _limit_memory(int(os.environ.get("MATDIFF_WORKER_MEMORY", str(1 << 30))))
    _send(channel, {"ready": True})
    while line := sys.stdin.readline():
        try:
            job = json.loads(line)
            status, body = jobs.run(job["kind"], job["payload"])
            _send(channel, {"status": status, "body": body})
        except Exception as error:  # noqa: BLE001 - a reply that cannot be encoded, a malformed job
            print(f"matdiff worker: {type(error).__name__}: {error}", file=sys.stderr)
            _send(channel, {"status": 500, "body": {"error": "internal error in the web worker"}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
