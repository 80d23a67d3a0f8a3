"""A small pool of engine worker processes, each killed and replaced when a job overruns.

Why not ``concurrent.futures.ProcessPoolExecutor``: it cannot cancel a job that is
already running, so one runaway request would hold a worker forever. Here each
worker is a plain child process (``python -m matdiff.web.worker``) spoken to over
pipes; a job that misses its deadline gets its worker killed, the caller an HTTP 408,
and a fresh worker takes the dead one's place in the background.

The invariant that keeps replies from ever reaching the wrong request: a worker goes
back to the idle queue only after its reply was read in full. Anything else (timeout,
crash, cancelled request, garbled reply) means kill and replace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections import Counter
from pathlib import Path

log = logging.getLogger("matdiff.web.server")

MAX_REPLY_BYTES = 32 << 20  # a derivative of a deep network prints long, but not this long
QUICK_WALL_FACTOR = 5  # a quick job may wait this many times its CPU budget for a CPU
QUICK_POLL_S = 0.05
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def cpu_seconds(pid: int) -> float | None:
    """CPU time a process has used (all its threads), from Linux's /proc; None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, ValueError, IndexError):
        return None


def busy() -> tuple[int, dict]:
    return 503, {"error": "the server is busy; try again in a moment"}


def worker_command() -> list[str]:
    return [sys.executable, "-m", "matdiff.web.worker"]


class WorkerPool:
    """Worker processes; :meth:`run` sends a job to an idle one, within time limits.

    Two lanes keep quick work quick while long work runs (a cheap request is
    answered within a second while expensive ones run):

    - *long* work holds one of ``size`` long slots, and one client at most
      ``per_client`` of them; it may compute for ``timeout`` seconds;
    - *quick* work (a request the server predicts cheap) needs no slot, only an idle
      process, of which there are ``size + reserve``: since long work holds at most
      ``size`` of them, ``reserve`` processes are always left to quick work. A quick
      job that has used ``quick_budget`` seconds of CPU is long work after all: it
      takes a long slot if one is free and goes on, or else is stopped and queued
      again as long work, so a wrong prediction costs the quick lane
      ``quick_budget`` seconds of CPU at most. CPU time, not wall time: on a busy
      machine a cheap job waits for a CPU, and must not be taken for an expensive
      one for that. Wall time counts too, ``quick_wall`` seconds (by default
      ``QUICK_WALL_FACTOR`` times the budget), all there is where CPU time cannot be read.

    ``queue_timeout``: seconds a request may wait for a slot and a process;
    ``max_waiting``: requests allowed to wait at all (more are refused at once with
    503), a quarter of them from one client (more are refused with 429); ``memory_limit``: bytes each worker may allocate beyond its footprint at
    start; ``command``: how to start a worker (tests pass a stand-in).
    """

    def __init__(
        self,
        *,
        size: int = 2,
        reserve: int = 1,
        per_client: int | None = None,
        timeout: float = 10.0,
        quick_budget: float = 1.0,
        quick_wall: float | None = None,
        queue_timeout: float = 10.0,
        max_waiting: int = 256,
        memory_limit: int = 1 << 30,
        command: list[str] | None = None,
        startup_timeout: float = 60.0,
    ):
        self.size = size
        self.reserve = reserve
        self.per_client = per_client or max(1, size // 2)
        self.timeout = timeout
        self.quick_budget = min(quick_budget, timeout)
        self.quick_wall = min(timeout, quick_wall or QUICK_WALL_FACTOR * quick_budget)
        self.queue_timeout = queue_timeout
        self.max_waiting = max_waiting
        self.memory_limit = memory_limit
        self.command = command or worker_command()
        self.startup_timeout = startup_timeout
        self._idle: asyncio.Queue | None = None
        self._long_slots = asyncio.Semaphore(size)
        self._client_slots: dict[str, asyncio.Semaphore] = {}
        self._client_users: Counter[str] = Counter()
        self._processes: set[asyncio.subprocess.Process] = set()
        self._replacements: set[asyncio.Task] = set()
        self._waiting = 0
        self._closing = False

    async def start(self) -> None:
        self._idle = asyncio.Queue()
        for process in await asyncio.gather(*(self._spawn() for _ in range(self.size + self.reserve))):
            self._idle.put_nowait(process)

    async def close(self) -> None:
        self._closing = True
        for task in list(self._replacements):
            task.cancel()
        await asyncio.gather(*self._replacements, return_exceptions=True)
        for process in list(self._processes):
            await self._kill(process)

    async def run(self, kind: str, payload: dict, *, client: str = "", quick: bool = False) -> tuple[int, dict]:
        """Run one job for ``client``; returns (HTTP status, JSON body), errors included.

        Cancelling the call (the client went away) kills the worker at once.
        """
        if self._idle is None or self._closing:
            return 503, {"error": "the server is not running"}
        if self._waiting >= self.max_waiting:
            return busy()
        if self._client_users[client] >= max(1, self.max_waiting // 4):
            return 429, {"error": "too many requests from this client at once; wait for the ones running"}
        if quick:
            reply = await self._attempt(kind, payload, client, quick=True)
            if reply is not None:
                return reply
        reply = await self._attempt(kind, payload, client, quick=False)
        assert reply is not None  # only a quick attempt gives way
        return reply

    async def _attempt(self, kind: str, payload: dict, client: str, *, quick: bool) -> tuple[int, dict] | None:
        """One try on one worker; None when a quick job outgrew its budget with no long slot free."""
        held = contextlib.AsyncExitStack()
        try:
            slots = (self._client_slot(client, held), self._long_slots)
            self._waiting += 1
            try:
                deadline = asyncio.get_running_loop().time() + self.queue_timeout
                if not quick and not await self._hold(slots, held, deadline):
                    return busy()
                process = await self._take_idle(deadline)
            finally:
                self._waiting -= 1
            if process is None:
                return busy()
            return await self._talk(process, kind, payload, (slots, held) if quick else None)
        finally:
            await held.aclose()

    async def _talk(self, process, kind: str, payload: dict, quick) -> tuple[int, dict] | None:
        """Send the job and wait for its reply; the worker is replaced unless its reply came in full.

        ``quick``: (slots, held) of a quick job, which must take those slots to run past
        its budget; None for long work, which holds them already.
        """
        assert self._idle is not None  # run() checked that the pool was started
        healthy = False
        reader: asyncio.Future | None = None
        try:
            assert process.stdin is not None and process.stdout is not None  # _spawn opens both pipes
            job = json.dumps({"kind": kind, "payload": payload}, separators=(",", ":"))
            process.stdin.write(job.encode() + b"\n")
            await process.stdin.drain()
            reader = asyncio.ensure_future(process.stdout.readline())
            spent = 0.0
            if quick is not None:
                spent = await self._quick_phase(process.pid, reader)
                if not reader.done() and not await self._hold_now(*quick):
                    return None
            await asyncio.wait({reader}, timeout=self.timeout - spent)
            if not reader.done():
                return 408, {"error": f"the computation took longer than {self.timeout:g} s and was stopped"}
            line = reader.result()
            if not line:
                return 500, {"error": "the engine stopped unexpectedly; please report this input"}
            reply = json.loads(line)
            healthy = True
            return reply["status"], reply["body"]
        except (ValueError, KeyError, ConnectionError):  # over-long line, bad JSON, broken pipe
            log.exception("engine worker gave no usable reply")
            return 500, {"error": "the engine gave no usable reply"}
        finally:
            if reader is not None:
                reader.cancel()
            if healthy:
                self._idle.put_nowait(process)
            else:
                self._replace(process)

    async def _quick_phase(self, pid: int, reader: asyncio.Future) -> float:
        """Wait for the reply until the job has used its quick budget; returns the seconds waited."""
        loop = asyncio.get_running_loop()
        started, cpu_at_start = loop.time(), cpu_seconds(pid)
        while not reader.done():
            await asyncio.wait({reader}, timeout=QUICK_POLL_S)
            waited = loop.time() - started
            cpu = cpu_seconds(pid)
            used = waited if cpu is None or cpu_at_start is None else cpu - cpu_at_start
            if used >= self.quick_budget or waited >= self.quick_wall:
                break
        return loop.time() - started

    @staticmethod
    async def _hold(slots, held: contextlib.AsyncExitStack, deadline: float) -> bool:
        """Wait until ``deadline`` for each of ``slots`` in turn; they are held until ``held`` closes."""
        for slot in slots:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                await asyncio.wait_for(slot.acquire(), max(remaining, 0.0))
            except asyncio.TimeoutError:
                return False
            held.callback(slot.release)
        return True

    @staticmethod
    async def _hold_now(slots, held: contextlib.AsyncExitStack) -> bool:
        """Take every one of ``slots`` if all are free now, without waiting; else none."""
        if any(slot.locked() for slot in slots):
            return False
        for slot in slots:
            await slot.acquire()  # free: returns at once, with no other task running in between
            held.callback(slot.release)
        return True

    def _client_slot(self, client: str, held: contextlib.AsyncExitStack) -> asyncio.Semaphore:
        """The client's semaphore; forgotten when no request of the client is left to use it."""
        self._client_users[client] += 1
        held.callback(self._forget_client, client)
        return self._client_slots.setdefault(client, asyncio.Semaphore(self.per_client))

    def _forget_client(self, client: str) -> None:
        self._client_users[client] -= 1
        if self._client_users[client] <= 0:
            del self._client_users[client]
            del self._client_slots[client]

    async def _take_idle(self, deadline: float) -> asyncio.subprocess.Process | None:
        """The next idle worker, or None at ``deadline``; never loses one to a cancel."""
        assert self._idle is not None  # run() checked that the pool was started
        getter = asyncio.ensure_future(self._idle.get())
        try:
            await asyncio.wait({getter}, timeout=max(deadline - asyncio.get_running_loop().time(), 0.0))
        except BaseException:
            getter.cancel()
            if getter.done() and not getter.cancelled():
                self._idle.put_nowait(getter.result())
            raise
        if not getter.done():
            getter.cancel()
            return None
        return getter.result()

    async def _spawn(self) -> asyncio.subprocess.Process:
        import matdiff

        package_root = str(Path(matdiff.__file__).resolve().parent.parent)
        # one BLAS thread per worker: workers are the parallelism, and one job's threads must not
        # take the CPUs a quick job needs
        env = {**ONE_THREAD, **os.environ, "MATDIFF_WORKER_MEMORY": str(self.memory_limit)}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        process = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            limit=MAX_REPLY_BYTES,
        )
        self._processes.add(process)
        assert process.stdout is not None  # opened with stdout=PIPE
        try:
            hello = json.loads(await asyncio.wait_for(process.stdout.readline(), self.startup_timeout) or "{}")
        except (asyncio.TimeoutError, ValueError):
            hello = {"error": "no greeting"}
        if not hello.get("ready"):
            await self._kill(process)
            raise RuntimeError(f"engine worker failed to start: {hello.get('error')}")
        return process

    def _replace(self, process: asyncio.subprocess.Process) -> None:
        task = asyncio.ensure_future(self._kill_and_respawn(process))
        self._replacements.add(task)
        task.add_done_callback(self._replacements.discard)

    async def _kill_and_respawn(self, process: asyncio.subprocess.Process) -> None:
        await self._kill(process)
        while not self._closing:
            try:
                fresh = await self._spawn()
            except Exception:
                log.exception("could not start an engine worker; retrying in 1 s")
                await asyncio.sleep(1.0)
                continue
            if self._closing:
                await self._kill(fresh)
            else:
                assert self._idle is not None  # start() made it before any worker could be replaced
                self._idle.put_nowait(fresh)
            return

    async def _kill(self, process: asyncio.subprocess.Process) -> None:
        """Kill and reap; the process stays listed until then, so close() finishes what a cancel cut short."""
        assert process.stdin is not None  # _spawn opens it with stdin=PIPE
        process.stdin.close()  # else its pipe outlives the process, and asyncio complains at exit
        if process.returncode is None:
            try:
                process.kill()
            except ProcessLookupError:
                pass
        await process.wait()
        await asyncio.sleep(0)  # let the pipes' close callbacks run before the loop may end
        self._processes.discard(process)
