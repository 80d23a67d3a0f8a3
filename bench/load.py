"""Load test of ``matdiff serve`` on loopback: many /api/diff requests at once, latency percentiles.

    python bench/load.py                      # 2,000 requests, 50 at a time, own server
    python bench/load.py --url http://127.0.0.1:8000 --requests 500
    python bench/load.py --flood 8            # cheap-request latency while 8 clients send expensive work
    python bench/load.py --stalled 1000       # cheap-request latency with 1,000 stalled connections open

The last two measure the server under attack (issue 10): a probe sends a cheap request
(``x'*A*x`` by ``x``, a new size each time so that no reply comes from the cache) every
``--interval`` seconds for ``--seconds`` seconds, while either ``--flood`` clients each
send an expensive request (a 2,500×2,500 matrix to the 64th power, which runs into the
10 s limit) again as soon as the last one is answered, or ``--stalled`` connections
each send a header line per second and never finish their headers (slowloris), opening
anew whenever the server drops one.

Without ``--url`` it starts its own server (``matdiff serve``, in a subprocess, on a free
port) and stops it afterwards. The requests are the three motivating questions
(SPEC, shared/seeds) with sizes drawn at random from 2 to 9: a few hundred distinct
requests, each derived, printed and checked numerically on first sight, then
answered from the server's cache, as popular questions would be. The run stops by
itself at ``--deadline`` seconds; requests not finished by then count as errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import httpx


def request_body(rng: random.Random) -> dict:
    kind = rng.randrange(3)
    n, m, k = (rng.randint(2, 9) for _ in range(3))
    if kind == 0:  # y = W2 W1 h, by W1, numerator layout
        return {"expression": "W2*W1*h", "wrt": "W1", "layout": "numerator",
                "shapes": {"W2": [1, n], "W1": [n, m], "h": [m]}}
    if kind == 1:  # C = A B, by B: a 4-tensor, with its Kronecker vec form
        return {"expression": "A*B", "wrt": "B", "layout": "numerator", "include": ["check", "vec"],
                "shapes": {"A": [1, n], "B": [n, m]}}
    return {  # the sigmoid network's MSE loss, by the first weight matrix
        "expression": "z2 = W2*x; a2 = sigmoid(z2); z3 = W3*a2; a3 = sigmoid(z3); 0.5*sum((a3 - y).^2)",
        "wrt": "W2", "layout": "denominator", "shapes": {"x": [n], "W2": [m, n], "W3": [k, m], "y": [k]},
    }


def _bodies(requests: int) -> list[dict]:
    rng = random.Random(0)
    return [request_body(rng) for _ in range(requests)]


async def load(url: str, requests: int, concurrency: int, deadline: float) -> tuple[list[float], Counter]:
    bodies = _bodies(requests)
    latencies: list[float] = []
    outcomes: Counter = Counter()
    queue = iter(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:
        async def user():
            for body in queue:
                started = time.perf_counter()
                try:
                    reply = await client.post("/api/diff", json=body)
                    outcomes[reply.status_code] += 1
                except httpx.HTTPError as error:
                    outcomes[type(error).__name__] += 1
                    continue
                latencies.append(time.perf_counter() - started)

        users = [asyncio.ensure_future(user()) for _ in range(concurrency)]
        _, pending = await asyncio.wait(users, timeout=deadline)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    outcomes["unfinished at deadline"] = requests - sum(outcomes.values())
    return latencies, outcomes


EXPENSIVE = "sum((ones({n})*ones({n})' + eye({n}))^64)"  # runs into the time limit: 64th power, n×n


async def probe(url: str, seconds: float, interval: float) -> tuple[list[float], Counter]:
    """Cheap requests one after another, each a new size: their latencies and statuses."""
    latencies: list[float] = []
    outcomes: Counter = Counter()
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        stop = time.perf_counter() + seconds
        size = 2
        while time.perf_counter() < stop:
            size += 1
            started = time.perf_counter()
            try:
                reply = await client.post("/api/diff", json={"expression": "x'*A*x", "wrt": "x",
                                                             "shapes": {"A": [size, size]}})
                outcomes[reply.status_code] += 1
                latencies.append(time.perf_counter() - started)
            except httpx.HTTPError as error:
                outcomes[type(error).__name__] += 1
            await asyncio.sleep(interval)
    return latencies, outcomes


async def flood(url: str, clients: int, seconds: float, interval: float) -> dict:
    """The probe while ``clients`` each keep one expensive request running."""
    outcomes: Counter = Counter()
    counter = iter(range(2500, 10**6))

    async def attacker():
        async with httpx.AsyncClient(base_url=url, timeout=60.0) as client:
            while True:
                try:
                    reply = await client.post("/api/evaluate", json={"expression": EXPENSIVE.format(n=next(counter))})
                    outcomes[reply.status_code] += 1
                except httpx.HTTPError as error:
                    outcomes[type(error).__name__] += 1

    attackers = [asyncio.ensure_future(attacker()) for _ in range(clients)]
    await asyncio.sleep(1.0)  # let the flood take every long slot first
    try:
        latencies, probed = await probe(url, seconds, interval)
    finally:
        for task in attackers:
            task.cancel()
        await asyncio.gather(*attackers, return_exceptions=True)
    return {"latencies": latencies, "probe": probed, "attack": outcomes}


async def stalled(url: str, connections: int, seconds: float, interval: float) -> dict:
    """The probe while ``connections`` slowloris clients stay connected, reopening when dropped."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    lifetimes: list[float] = []
    failures: Counter = Counter()
    opened = asyncio.Event()
    open_now = 0

    async def slowloris():
        nonlocal open_now
        while True:
            try:
                reader, writer = await asyncio.open_connection(host, int(port))
            except OSError as error:
                failures[type(error).__name__] += 1
                await asyncio.sleep(1.0)
                continue
            since = time.perf_counter()
            open_now += 1
            if open_now >= connections:
                opened.set()
            try:
                writer.write(b"POST /api/diff HTTP/1.1\r\nHost: localhost\r\n")
                while not reader.at_eof():
                    await asyncio.sleep(1.0)
                    writer.write(b"X-Slow: 1\r\n")
                    await writer.drain()
            except OSError:
                pass
            finally:
                open_now -= 1
                lifetimes.append(time.perf_counter() - since)
                writer.close()

    attackers = [asyncio.ensure_future(slowloris()) for _ in range(connections)]
    try:
        await asyncio.wait_for(opened.wait(), 60.0)
        latencies, probed = await probe(url, seconds, interval)
    finally:
        for task in attackers:
            task.cancel()
        await asyncio.gather(*attackers, return_exceptions=True)
    return {"latencies": latencies, "probe": probed, "dropped": len(lifetimes),
            "longest_stall": max(lifetimes, default=0.0), "connect_failures": failures}


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = str(Path(__file__).resolve().parent.parent / "src")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p))
    process = subprocess.Popen([sys.executable, "-c", f"from matdiff.web.server import serve; serve(port={port})"],
                               env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(url + "/api/capabilities", timeout=1):
                return process, url
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    sys.exit("the server did not start")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server; default: start one")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--deadline", type=float, default=180.0, help="seconds before the run stops itself")
    parser.add_argument("--flood", type=int, metavar="CLIENTS", help="clients sending expensive requests")
    parser.add_argument("--stalled", type=int, metavar="CONNECTIONS", help="slowloris connections held open")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the probe runs (--flood, --stalled)")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between probes")
    arguments = parser.parse_args()

    process, url = (None, arguments.url) if arguments.url else start_server()
    try:
        with urllib.request.urlopen(url + "/api/capabilities", timeout=5) as reply:
            capabilities = json.load(reply)
        if arguments.flood or arguments.stalled:
            return under_attack(url, capabilities, arguments)
        started = time.perf_counter()
        latencies, outcomes = asyncio.run(load(url, arguments.requests, arguments.concurrency, arguments.deadline))
        elapsed = time.perf_counter() - started
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)

    errors = sum(count for outcome, count in outcomes.items() if outcome != 200)
    distinct = len({json.dumps(body, sort_keys=True) for body in _bodies(arguments.requests)})
    print(f"matdiff serve on {url}: {arguments.requests} POST /api/diff ({distinct} distinct), "
          f"{arguments.concurrency} concurrent, {os.cpu_count()} CPUs, {capabilities['limits']['workers']} engine "
          f"workers, timeout {capabilities['limits']['timeout_s']:g} s")
    if latencies:
        print(f"  {elapsed:.1f} s, {len(latencies) / elapsed:.0f} requests/s")
        print(f"  latency p50 {1000 * statistics.median(latencies):.0f} ms, "
              f"p99 {1000 * percentile(latencies, 0.99):.0f} ms, max {1000 * max(latencies):.0f} ms")
    print(f"  errors {errors}  ({', '.join(f'{k}: {v}' for k, v in outcomes.items() if v)})")
    return 0 if errors == 0 else 1


def under_attack(url: str, capabilities: dict, arguments) -> int:
    """Runs --flood or --stalled; prints the probe's latencies; fails if a probe was not answered."""
    limits = capabilities["limits"]
    if arguments.flood:
        result = asyncio.run(flood(url, arguments.flood, arguments.seconds, arguments.interval))
        attack = f"{arguments.flood} clients each sending an expensive request (outcomes: " + \
            ", ".join(f"{k}: {v}" for k, v in sorted(result["attack"].items(), key=str)) + ")"
    else:
        result = asyncio.run(stalled(url, arguments.stalled, arguments.seconds, arguments.interval))
        attack = (f"{arguments.stalled} stalled connections (dropped by the server and reopened "
                  f"{result['dropped']} times; longest held {result['longest_stall']:.1f} s; "
                  f"connect failures {dict(result['connect_failures']) or 'none'})")
    latencies, probed = result["latencies"], result["probe"]
    print(f"matdiff serve on {url}: {os.cpu_count()} CPUs, {limits['workers']} engine workers + quick lane, "
          f"timeout {limits['timeout_s']:g} s")
    print(f"  during: {attack}")
    if latencies:
        print(f"  cheap request (x'*A*x by x), {len(latencies)} probes: p50 {1000 * statistics.median(latencies):.0f} ms, "
              f"p90 {1000 * percentile(latencies, 0.9):.0f} ms, max {1000 * max(latencies):.0f} ms")
    print(f"  probe outcomes: {', '.join(f'{k}: {v}' for k, v in probed.items())}")
    return 0 if set(probed) == {200} else 1


if __name__ == "__main__":
    sys.exit(main())
