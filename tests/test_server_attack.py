"""The server under attack (issue 10): hostile input, other web sites, slow clients, clients that
leave, and floods of expensive work.

Input and the front door go through starlette's TestClient; slow and vanishing clients need a real
socket, so those tests start ``matdiff serve`` (Hypercorn) in a subprocess with a stand-in worker
(tests/stand_in.py) and shortened timeouts. No test measures speed: each checks what happens first.
"""

import asyncio
import json
import socket
import time
import warnings

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():  # starlette 1.x would rather have httpx2, which is not a dependency
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from matdiff.web.fields import PARSERS, parse, shape_of, wrt_of
from matdiff.web.openapi import openapi
from matdiff.web.guard import Guard
from matdiff.web.pool import WorkerPool
from matdiff.web.server import ENDPOINTS, create_app, predicted_cheap
from stand_in import STAND_IN_COMMAND, process_alive, running_server

JSON = {"content-type": "application/json"}
LONG_PROGRAM = "; ".join(f"z{i} = sin(x)" for i in range(40)) + "; slow"  # predicted expensive


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(workers=1), base_url="http://localhost") as client:
        yield client


# ----- every bad request is a 400 with {error, position} ------------------------------------------------


def assert_refused(reply, status=400):
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["error"] and "position" in body
    return body


@pytest.mark.parametrize("path, raw", [
    ("/api/diff", r'{"expression": "\ud800", "wrt": "x"}'),
    ("/api/diff", r'{"expression": "x+\udfff", "wrt": "x"}'),
    ("/api/variables", r'{"expression": "x\ud800y"}'),
    ("/api/evaluate", r'{"expression": "\ud800"}'),
    ("/api/check", r'{"expression": "x", "wrt": "x", "claim": "\ud800"}'),
    ("/api/diff", r'{"expression": "x", "wrt": "\ud800"}'),
    ("/api/diff", r'{"expression": "x", "wrt": ["x", "\udbff"]}'),
    ("/api/diff", r'{"expression": "x", "wrt": "x", "layout": "\ud800"}'),
    ("/api/diff", r'{"expression": "x", "wrt": "x", "shapes": {"\ud800": [2]}}'),
    ("/api/diff", r'{"expression": "x", "wrt": "x", "shapes": {"x": ["\ud800"]}}'),
    ("/api/evaluate", r'{"expression": "x", "values": {"x\ud800": 1}}'),
    ("/api/diff", r'{"expression": "x", "wrt": "x", "unknown": {"deep": ["\ud800"]}}'),
])
def test_unpaired_surrogates_are_refused_in_every_string(client, path, raw):
    body = assert_refused(client.post(path, content=raw.encode(), headers=JSON))
    assert "surrogate" in body["error"]


def test_a_surrogate_in_the_expression_has_its_position(client):
    reply = client.post("/api/diff", content=rb'{"expression": "x+\ud800", "wrt": "x"}', headers=JSON)
    assert assert_refused(reply)["position"] == 2


@pytest.mark.parametrize("shape", [["²"], "²", "3x²", ["٣"], ["1" * 5000], "1" * 5000, ["１"], [2.5], [[2]], ["0"], ["01"], {"n": 2},
                                   [10**400], "3 x 4 x 5"])
def test_shapes_that_are_not_shapes_are_400(client, shape):
    assert_refused(client.post("/api/diff", json={"expression": "x'*x", "wrt": "x", "shapes": {"x": shape}}))


@pytest.mark.parametrize("shape, dims", [("scalar", []), ("", []), ("()", []), (" 3 x 4 ", [3, 4]), ("3*n", [3, "n"]),
                                         ("m,n", ["m", "n"]), ([3.0], [3]), (5, [5]), (["7", "k"], [7, "k"])])
def test_every_spelling_of_a_shape_the_description_allows_is_accepted(shape, dims):
    assert shape_of("A", shape) == dims


def schema_pattern(*path):
    node = openapi()["components"]["schemas"]
    for key in path:
        node = node[key]
    return node["pattern"]


@settings(max_examples=200)
@given(st.data())
def test_strings_the_openapi_patterns_allow_pass_the_field_parsers(data):
    """The description is what fuzzers and clients trust: what it allows, the server takes."""
    shape_text = data.draw(st.from_regex(schema_pattern(
        "DerivativeRequest", "properties", "shapes", "additionalProperties", "oneOf", 2), fullmatch=True))
    wrt_text = data.draw(st.from_regex(schema_pattern("DerivativeRequest", "properties", "wrt", "oneOf", 0),
                                       fullmatch=True))
    shape_of("A", shape_text)
    assert 1 <= len(wrt_of({"wrt": wrt_text})) <= 3


@pytest.mark.parametrize("raw_value", ["1" * 400, "-" + "9" * 400, "1e400", "-1e999", "[1, 2e308]",
                                       "[[1, 2], [3, 1e309]]"])
def test_numbers_past_a_float_are_400(client, raw_value):
    raw = f'{{"expression": "sum(x)", "values": {{"x": {raw_value}}}}}'
    body = assert_refused(client.post("/api/evaluate", content=raw.encode(), headers=JSON))
    assert "too large" in body["error"]


WRONG = [None, True, 0, -1, 1.5, "", "nonsense", [], [None], [[1]], {}, {"a": None}, "x" * 5000]


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_every_field_of_every_endpoint_takes_any_json_without_a_crash(client, path):
    fields = ENDPOINTS[path][1]
    valid = {"expression": "x'*x", "wrt": "x", "shapes": {"x": [2]}, "layout": "numerator", "include": [],
             "index": True, "target": "numpy", "check": False, "claim": "2*x", "values": {"x": [1, 2]},
             "assume": {}, "inputs": ["x"], "verbose": False}
    for field in fields:
        for wrong in WRONG:
            body = {**{f: valid[f] for f in fields}, field: wrong}
            reply = client.post(path, json=body)
            assert reply.status_code < 500, (field, wrong, reply.text)
            if reply.status_code == 400:
                assert {"error", "position"} <= set(reply.json())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(PARSERS)), json_values)
def test_field_parsers_refuse_with_bad_request_or_accept(field, value):
    """The parsers are the only gate before the engine: anything else they raise would be a 500."""
    from matdiff.web.fields import BadRequest

    try:
        parse({field: value}, [field])
    except BadRequest as refusal:
        assert refusal.status == 400 and refusal.message


# ----- the front door: other web sites cannot drive the local server -------------------------------------


def scope(method="POST", host="localhost:8000", **headers):
    pairs = [*([("host", host)] if host else []), *((k.replace("_", "-"), v) for k, v in headers.items())]
    return {"type": "http", "method": method, "scheme": "http",
            "headers": [(k.encode(), v.encode()) for k, v in pairs]}


GUARD = Guard(None, host="127.0.0.1")


@pytest.mark.parametrize("request_scope, status", [
    (scope(content_type="application/json"), None),
    (scope(content_type="application/json; charset=utf-8"), None),
    (scope(content_type="Application/JSON", origin="http://localhost:8000"), None),
    (scope(host="127.0.0.1:8000", content_type="application/json", origin="http://127.0.0.1:8000"), None),
    (scope(host="[::1]:8000", content_type="application/json"), None),
    (scope(host="app.localhost:8000", content_type="application/json"), None),
    (scope(host=None, content_type="application/json"), None),  # HTTP/1.0 sends none; no browser does that
    (scope(content_type="text/plain"), 415),
    (scope(content_type="application/x-www-form-urlencoded"), 415),
    (scope(content_type="multipart/form-data; boundary=x"), 415),
    (scope(), 415),
    (scope(content_type="application/json; charset=latin-1"), 415),
    (scope(content_type="application/json", origin="https://evil.example"), 403),
    (scope(content_type="application/json", origin="null"), 403),
    (scope(content_type="application/json", origin="http://localhost:8001"), 403),
    (scope(content_type="application/json", origin="http://localhost.evil.example:8000"), 403),
    (scope(host="evil.example:8000", content_type="application/json", origin="http://evil.example:8000"), 403),
    (scope("GET", host="evil.example:8000"), 403),  # DNS rebinding: the page itself is refused too
    (scope("GET", host="127.0.0.2"), None),
    (scope("GET", host="localhost.evil.example"), 403),
    (scope("GET", origin="https://evil.example"), None),  # reading is the browser's to forbid (CORS)
])
def test_the_guard_admits_only_local_json_posts(request_scope, status):
    refusal = GUARD.refusal(request_scope)
    assert (refusal and refusal[0]) == status


def test_the_host_served_on_is_admitted_besides_loopback():
    assert Guard(None, host="192.168.1.5").refusal(scope(host="192.168.1.5:8000", content_type="application/json")) is None
    assert Guard(None, host="::1").refusal(scope(host="[::1]:80", content_type="application/json")) is None
    assert Guard(None, host="127.0.0.1").refusal(scope("GET", host="192.168.1.5:8000"))[0] == 403


@pytest.mark.parametrize("host, admitted", [
    ("192.168.1.5:8000", True), ("[fe80::1]:8000", True), ("localhost:8000", True),
    (f"{socket.gethostname()}:8000", True),
    ("evil.example:8000", False), ("rebind.127.0.0.1.nip.io", False),
])
def test_on_every_interface_only_addresses_and_this_machines_names_are_admitted(host, admitted):
    """0.0.0.0 opens the server to the network, not to DNS rebinding: names must be this machine's."""
    for wildcard in ("0.0.0.0", "::"):
        refusal = Guard(None, host=wildcard).refusal(scope("GET", host=host))
        assert (refusal is None) == admitted, (wildcard, host, refusal)


def test_a_client_that_stops_reading_its_reply_is_dropped():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * 1000})

    async def never_taken(message):
        if message["type"] == "http.response.body":
            await asyncio.Event().wait()  # the client's window stays shut

    async def scenario():
        await asyncio.wait_for(Guard(app, send_timeout=0.1)(scope("GET"), None, never_taken), 10)

    asyncio.run(scenario())  # returns: the connection is given up, no exception reaches the server


def test_refusals_reach_the_client_as_json_errors(client):
    text = client.post("/api/diff", content=b'{"expression": "x", "wrt": "x"}', headers={"content-type": "text/plain"})
    assert_refused(text, 415)
    cross_site = client.post("/api/diff", json={"expression": "x", "wrt": "x"}, headers={"origin": "https://evil.example"})
    assert_refused(cross_site, 403)
    rebound = client.get("/", headers={"host": "evil.example"})
    assert_refused(rebound, 403)
    assert rebound.headers["x-frame-options"] == "DENY"
    assert client.request("TRACE", "/api/diff").status_code == 405  # not 415: no body is expected
    same_site = client.post("/api/variables", json={"expression": "A*x"}, headers={"origin": "http://localhost"})
    assert same_site.status_code == 200


# ----- the quick lane: cheap work is answered while long work runs ----------------------------------------


def test_the_issues_cheap_request_is_predicted_cheap_and_long_work_is_not():
    def payload(path, **body):
        return parse({"wrt": "x", **body}, ENDPOINTS[path][1])

    assert predicted_cheap("diff", payload("/api/diff", expression="x'*A*x"))
    assert predicted_cheap("diff", payload("/api/diff", expression="W2*W1*h", shapes={"W1": [2, 2]}))
    assert not predicted_cheap("diff", payload("/api/diff", expression=LONG_PROGRAM))
    assert not predicted_cheap("diff", payload("/api/diff", expression="x'*A*x", wrt=["x", "x"]))
    assert not predicted_cheap("evaluate", payload("/api/evaluate", expression="sum(ones(3000)*ones(3000)')"))
    assert not predicted_cheap("diff", payload("/api/diff", expression="x'*A*x", shapes={"A": [1000, 1000]}))
    assert not predicted_cheap("entries", payload("/api/entries", expression="x'*A*x"))
    assert not predicted_cheap("diff", payload("/api/diff", expression="x'*x", include=["entries"]))


def stand_in_pool(**options) -> WorkerPool:
    return WorkerPool(command=STAND_IN_COMMAND, **{"size": 2, "reserve": 1, "timeout": 30.0, **options})


def started(log) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.exists() else []


async def wait_for_starts(log, count: int) -> list[int]:
    for _ in range(300):
        if len(started(log)) >= count:
            return started(log)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} slow jobs never started: {started(log)}")


async def stop(*tasks) -> None:
    """Cancel requests still running, as a client that leaves would: their workers are killed."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def log(tmp_path, monkeypatch):
    path = tmp_path / "started"
    monkeypatch.setenv("STAND_IN_LOG", str(path))
    return path


def test_a_cheap_request_is_answered_while_a_flood_of_long_ones_runs(log):
    async def scenario():
        pool = stand_in_pool(queue_timeout=20.0)
        await pool.start()
        try:
            flood = [asyncio.ensure_future(pool.run("diff", {"expression": "slow"}, client=f"flood{i}"))
                     for i in range(8)]
            await wait_for_starts(log, 2)  # both long slots are taken; six more wait
            cheap = await pool.run("diff", {"expression": "x'*A*x"}, client="reader", quick=True)
            still_running = [not task.done() for task in flood]
            await stop(*flood)
            return cheap, still_running
        finally:
            await pool.close()

    cheap, still_running = asyncio.run(scenario())
    assert cheap[0] == 200
    assert all(still_running)


def test_one_client_holds_at_most_its_share_of_long_work(log):
    async def scenario():
        pool = stand_in_pool(per_client=1, queue_timeout=1.0)
        await pool.start()
        try:
            first = asyncio.ensure_future(pool.run("diff", {"expression": "slow"}, client="greedy"))
            await wait_for_starts(log, 1)
            other = asyncio.ensure_future(pool.run("diff", {"expression": "slow"}, client="other"))
            second = await pool.run("diff", {"expression": "slow"}, client="greedy")
            starts = len(started(log))
            running = not first.done() and not other.done()
            await stop(first, other)
            return second, starts, running
        finally:
            await pool.close()

    second, starts, running = asyncio.run(scenario())
    assert second[0] == 503  # waited for greedy's one slot, in vain
    assert starts == 2 and running  # the other client got the second slot meanwhile


def test_one_client_cannot_fill_the_waiting_room(log):
    async def scenario():
        pool = stand_in_pool(size=1, per_client=1, max_waiting=8, queue_timeout=20.0)
        await pool.start()
        try:
            greedy = [asyncio.ensure_future(pool.run("diff", {"expression": "slow"}, client="greedy"))
                      for _ in range(3)]
            await wait_for_starts(log, 1)
            refused = await pool.run("diff", {"expression": "slow"}, client="greedy")
            other = await pool.run("diff", {"expression": "fast"}, client="other", quick=True)
            await stop(*greedy)
            return refused, other
        finally:
            await pool.close()

    refused, other = asyncio.run(scenario())
    assert refused[0] == 429  # greedy has two requests in already: a quarter of the room
    assert other[0] == 200


def test_a_quick_job_that_runs_long_keeps_its_worker_when_a_long_slot_is_free(log):
    async def scenario():
        pool = stand_in_pool(timeout=1.5, quick_budget=0.3)
        await pool.start()
        try:
            return await pool.run("diff", {"expression": "slow"}, client="c", quick=True)
        finally:
            await pool.close()

    status, body = asyncio.run(scenario())
    assert status == 408 and "1.5 s" in body["error"]
    assert len(started(log)) == 1  # computed once, not started over


def test_a_quick_job_that_runs_long_while_long_work_is_full_is_moved_to_the_long_lane(log):
    async def scenario():
        pool = stand_in_pool(size=1, quick_budget=0.3, queue_timeout=20.0)
        await pool.start()
        try:
            long_job = asyncio.ensure_future(pool.run("diff", {"expression": "slow"}, client="a"))
            await wait_for_starts(log, 1)
            mispredicted = asyncio.ensure_future(pool.run("diff", {"expression": "slow"}, client="b", quick=True))
            await wait_for_starts(log, 2)
            quick_pid = started(log)[1]
            for _ in range(100):  # past its budget, with the one long slot taken: stopped, and queued as long
                if not process_alive(quick_pid):
                    break
                await asyncio.sleep(0.05)
            stopped = not process_alive(quick_pid)
            waiting = not mispredicted.done()
            cheap = await pool.run("diff", {"expression": "fast"}, client="c", quick=True)
            long_job.cancel()
            await wait_for_starts(log, 3)  # it got the slot the long job left
            await stop(long_job, mispredicted)
            return stopped, waiting, cheap
        finally:
            await pool.close()

    stopped, waiting, cheap = asyncio.run(scenario())
    assert stopped and waiting
    assert cheap[0] == 200  # the quick lane is free again


def test_the_quick_budget_is_cpu_time_so_a_job_that_waits_is_not_taken_for_an_expensive_one(log):
    async def scenario():
        pool = stand_in_pool(size=1, reserve=2, quick_budget=0.2, quick_wall=60.0, queue_timeout=20.0)
        await pool.start()
        try:
            long_job = asyncio.ensure_future(pool.run("diff", {"expression": "slow"}, client="a"))
            await wait_for_starts(log, 1)
            waiting = asyncio.ensure_future(pool.run("diff", {"expression": "slow"}, client="b", quick=True))
            waiting_pid = (await wait_for_starts(log, 2))[1]
            computing = asyncio.ensure_future(pool.run("diff", {"expression": "spin"}, client="c", quick=True))
            computing_pid = (await wait_for_starts(log, 3))[2]
            for _ in range(200):  # the one that computes uses its 0.2 s of CPU: stopped, queued as long work
                if not process_alive(computing_pid):
                    break
                await asyncio.sleep(0.05)
            verdict = not process_alive(computing_pid), process_alive(waiting_pid)
            await stop(long_job, waiting, computing)
            return verdict
        finally:
            await pool.close()

    computing_stopped, waiting_runs_on = asyncio.run(scenario())
    assert computing_stopped and waiting_runs_on


def test_a_cancelled_job_has_its_worker_killed(log):
    async def scenario():
        pool = stand_in_pool(size=1, reserve=0)
        await pool.start()
        try:
            task = asyncio.ensure_future(pool.run("diff", {"expression": "slow"}))
            (pid,) = await wait_for_starts(log, 1)
            await stop(task)
            for _ in range(100):
                if not process_alive(pid):
                    return True
                await asyncio.sleep(0.05)
            return False
        finally:
            await pool.close()

    assert asyncio.run(scenario())


# ----- a real server: stalled clients, clients that leave, a flood over HTTP -------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "started"
    options = dict(workers=2, reserve=1, per_client=1, timeout=20.0, quick_budget=0.5, queue_timeout=5.0,
                   stall_timeout=1.0, worker_command=STAND_IN_COMMAND)
    with running_server(log=log, **options) as url:
        yield url, log


def connect(url) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def closed_by_server(connection: socket.socket) -> bool:
    connection.setblocking(False)
    try:
        return connection.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        connection.setblocking(True)


def test_slow_header_clients_are_dropped_while_others_are_served(server):
    url, _ = server
    stalled = [connect(url) for _ in range(40)]
    for connection in stalled:
        connection.sendall(b"POST /api/diff HTTP/1.1\r\nHost: localhost\r\n")
    reply = httpx.post(url + "/api/variables", json={"expression": "x"}, timeout=10)
    assert reply.status_code == 200  # not 503, with 40 stalled connections open
    open_ = set(stalled)
    for _ in range(40):  # a header line every 0.2 s: each keeps the connection busy, none completes it
        for connection in list(open_):
            try:
                connection.sendall(b"X-Slow: 1\r\n")
            except OSError:
                open_.discard(connection)
                continue
            if closed_by_server(connection):
                open_.discard(connection)
        if not open_:
            break
        time.sleep(0.2)
    for connection in stalled:
        connection.close()
    assert not open_, f"{len(open_)} stalled connections still open after 8 s (stall timeout 1 s)"


def test_a_body_that_trickles_in_is_refused_with_408(server):
    url, _ = server
    with connect(url) as connection:
        connection.sendall(b"POST /api/diff HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 1000\r\n\r\n{")
        reply = b""
        for _ in range(40):
            try:
                connection.sendall(b" ")
            except OSError:
                break
            connection.settimeout(0.2)
            try:
                reply += connection.recv(4096)
            except TimeoutError:
                continue
            if b"\r\n\r\n" in reply:
                break
    assert reply.startswith(b"HTTP/1.1 408"), reply[:100]


def test_a_client_that_leaves_has_its_work_stopped(server):
    url, log = server
    before = len(started(log))
    body = json.dumps({"expression": LONG_PROGRAM, "wrt": "x"}).encode()
    with connect(url) as connection:
        connection.sendall(b"POST /api/diff HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        pid = asyncio.run(wait_for_starts(log, before + 1))[-1]
    for _ in range(100):  # the job's timeout is 20 s; only the disconnect can stop it this soon
        if not process_alive(pid):
            break
        time.sleep(0.05)
    assert not process_alive(pid)


def test_a_cheap_request_is_answered_during_a_flood_over_http(server):
    url, log = server
    before = len(started(log))

    async def scenario():
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            flood = [asyncio.ensure_future(client.post("/api/diff", json={"expression": LONG_PROGRAM, "wrt": "x"}))
                     for _ in range(8)]
            await wait_for_starts(log, before + 1)
            cheap = await client.post("/api/diff", json={"expression": "x'*A*x", "wrt": "x"})
            pending = [not task.done() for task in flood]
            await stop(*flood)  # their connections close: the server stops their work
            return cheap, pending

    cheap, pending = asyncio.run(scenario())
    assert cheap.status_code == 200 and "pid" in cheap.json()
    assert all(pending)
