"""``matdiff serve``: the web page and its JSON API.

This module owns HTTP: routes, input validation and limits, caching, security
headers. It computes nothing itself: every job goes to a pool of worker processes
(:mod:`matdiff.web.pool`) that can be killed when a request overruns, so a hostile
or unlucky input costs at most ``timeout`` seconds of one worker.

Safety, in one place:
- other web sites cannot drive the server: foreign Host names, cross-site Origins
  and non-JSON POSTs are refused before routing (:mod:`matdiff.web.guard`);
- bodies over ``MAX_BODY_BYTES`` are refused while being read, expressions over
  ``MAX_EXPRESSION_CHARS`` before any parsing; every field is checked by its parser
  (:mod:`matdiff.web.fields`), so a bad request is a 400, never a 500;
- slow clients are dropped: headers, body and each part of a reply have
  ``stall_timeout`` seconds (Hypercorn enforces the header deadline, see :func:`serve`);
- a job stops (its worker is killed) when its client goes away, and cheap requests
  have a lane of their own while expensive ones run (:mod:`matdiff.web.pool`);
- nothing is ever ``eval``-ed; the engine parses the language with its own grammar;
- static files come from a fixed list read at start-up, so no path reaches the disk;
- errors are JSON ``{"error", "position"}``, never a traceback;
- the page builds its DOM with ``textContent`` and admits MathML only after the
  server has checked latex2mathml's output (see :func:`matdiff.web.mathml.mathml`),
  and a strict Content-Security-Policy forbids inline scripts and other origins.

The CLI imports this module only for ``matdiff serve``, so starlette and hypercorn
cost nothing to the other commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
from collections import OrderedDict
from importlib import resources

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import matdiff
from matdiff.engine.lowering import FUNCTION_NAMES
from matdiff.web.fields import (
    DERIVATIVE, LAYOUTS, MAX_BODY_BYTES, MAX_EXPRESSION_CHARS, PAGE_SECTIONS, TARGETS, BadRequest, decode, parse,
)
from matdiff.web.guard import Guard
from matdiff.web.jobs import feature, has_code
from matdiff.web.openapi import openapi
from matdiff.web.pool import WorkerPool
from matdiff.web.reference import reference

__all__ = ["MAX_BODY_BYTES", "MAX_EXPRESSION_CHARS", "create_app", "features", "serve"]

STATIC = {  # the only files ever served
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "answers.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "diagram.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "examples.js": "text/javascript; charset=utf-8",
    "sections.js": "text/javascript; charset=utf-8",
    "variables.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
NO_CACHE = {"cache-control": "no-cache"}  # revalidate: a new version of the page shows at once
ENDPOINTS = {  # POST path: (job, the request fields it takes, the engine feature it needs)
    "/api/variables": ("variables", ("expression", "shapes", "assume"), None),
    "/api/diff": ("diff", (*DERIVATIVE, "include", "index"), None),
    "/api/gradients": ("gradients", ("expression", "inputs", "shapes", "assume"), None),
    "/api/evaluate": ("evaluate", ("expression", "values", "shapes", "assume"), None),
    "/api/explain": ("explain", (*DERIVATIVE, "verbose"), "explain"),
    "/api/check": ("check", (*DERIVATIVE, "claim"), "check"),
    "/api/entries": ("entries", DERIVATIVE, "entries"),
    "/api/codegen": ("codegen", (*DERIVATIVE, "target", "check"), "codegen"),
}
CHEAP = {  # a request within all these limits is predicted cheap: it runs in the quick lane (pool.py)
    "chars": 300,  # of the expression
    "statements": 8,
    "order": 1,  # derivatives of higher order multiply the work
    "number": 1000,  # the largest number written in the expression: ones(3000) is not cheap
    "elements": 10_000,  # of any one concrete shape or value
}
NEVER_CHEAP = {"entries"}  # componentwise entries go through SymPy


def features() -> dict:
    """What this version of the engine offers, looked up per request: the page adapts to it."""
    return {
        "explain": feature("explain") is not None,
        "check": feature("check") is not None,
        "entries": feature("entries") is not None,
        "codegen": has_code(),
    }


def predicted_cheap(kind: str, payload: dict) -> bool:
    """Whether a job looks quick enough for the quick lane; a wrong guess costs that lane
    ``quick_budget`` seconds at most (see :class:`matdiff.web.pool.WorkerPool`)."""
    expression = payload.get("expression", "") + payload.get("claim", "")
    if kind in NEVER_CHEAP or payload.get("name") in NEVER_CHEAP or NEVER_CHEAP & set(payload.get("include", ())):
        return False
    numbers = re.findall(r"[0-9]+", expression)
    sizes = [math.prod(d for d in shape if isinstance(d, int)) for shape in payload.get("shapes", {}).values()]
    for value in payload.get("values", {}).values():
        rows = value if isinstance(value, list) else [value]
        sizes.append(sum(len(row) if isinstance(row, list) else 1 for row in rows))
    return (len(expression) <= CHEAP["chars"]
            and len(re.findall(r"[;\n]", expression.strip())) < CHEAP["statements"]
            and len(payload.get("wrt", ())) <= CHEAP["order"]
            and all(len(n) <= 6 and int(n) <= CHEAP["number"] for n in numbers)
            and all(size <= CHEAP["elements"] for size in sizes))


# ----- the app ------------------------------------------------------------------------------------


def create_app(
    *,
    workers: int | None = None,
    reserve: int = 1,
    per_client: int | None = None,
    timeout: float = 10.0,
    quick_budget: float = 1.0,
    queue_timeout: float = 10.0,
    stall_timeout: float = 5.0,
    host: str = "127.0.0.1",
    cache_bytes: int = 32 << 20,
    worker_command: list[str] | None = None,
) -> Starlette:
    """The web app. ``timeout``: seconds one request may compute before its worker is killed;
    ``stall_timeout``: seconds a client may take to send its body or to take one part of a reply;
    ``host``: the address served on, the one name besides loopback ones that requests may use;
    the others: see :class:`matdiff.web.pool.WorkerPool`."""
    pool = WorkerPool(
        size=workers or max(2, min(4, os.cpu_count() or 2)),
        reserve=reserve,
        per_client=per_client,
        timeout=timeout,
        quick_budget=quick_budget,
        queue_timeout=queue_timeout,
        command=worker_command,
    )
    cache = ReplyCache(cache_bytes)
    files = {name: (resources.files("matdiff.web") / "static" / name).read_bytes() for name in STATIC}

    async def answer(request: Request, kind: str, payload: dict) -> Response:
        """A job's reply, from the cache when the same request was answered before; the job
        stops (its worker is killed) as soon as the client goes away."""
        key = kind + json.dumps(payload, sort_keys=True)
        cached = cache.get(key)
        if cached:
            return Response(cached[1], status_code=cached[0], media_type="application/json")
        client = request.client.host if request.client else ""
        job = asyncio.ensure_future(pool.run(kind, payload, client=client, quick=predicted_cheap(kind, payload)))
        gone = asyncio.ensure_future(until_disconnected(request))
        try:
            await asyncio.wait({job, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            job.cancel()  # nothing if it is done; else the client is gone: stop the work
            await asyncio.gather(job, gone, return_exceptions=True)
        if job.cancelled():
            return Response(status_code=499)  # nginx's "client closed request"; no one reads it
        status, body = job.result()
        if status >= 400:
            body = {"position": None, **body}  # every error says where it applies, if anywhere
        response = JSONResponse(body, status_code=status, headers={"retry-after": "1"} if status == 503 else None)
        if status in (200, 400):  # deterministic answers only; not timeouts or crashes
            assert isinstance(response.body, bytes)  # JSONResponse renders bytes (Response allows memoryview)
            cache.put(key, status, response.body)
        return response

    def endpoint(kind: str, fields: tuple[str, ...], needs: str | None):
        async def post(request: Request) -> Response:
            if needs is not None and not features()[needs]:
                return JSONResponse({"error": f"'{needs}' is not available in this version of matdiff",
                                     "position": None}, status_code=501)
            body = await read_json(request, stall_timeout)
            return await answer(request, kind, parse(body, fields))
        return post

    async def diff_section(request: Request) -> Response:
        name = request.path_params["section"]
        if name not in PAGE_SECTIONS:
            raise HTTPException(404, f"no section {name[:40]!r}; the sections are {', '.join(PAGE_SECTIONS)}")
        body = await read_json(request, stall_timeout)
        return await answer(request, "section", {**parse(body, DERIVATIVE), "name": name})

    async def page(request: Request) -> Response:
        return Response(files["index.html"], media_type=STATIC["index.html"], headers=NO_CACHE)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            raise HTTPException(404, "no such file")
        return Response(files[name], media_type=STATIC[name], headers=NO_CACHE)

    async def capabilities(request: Request) -> JSONResponse:
        return JSONResponse({
            **features(),
            "version": matdiff.__version__,
            "layouts": list(LAYOUTS),
            "functions": sorted(FUNCTION_NAMES),
            "targets": list(TARGETS),
            "sections": list(PAGE_SECTIONS),
            "reference": reference(FUNCTION_NAMES),
            "limits": {"body_bytes": MAX_BODY_BYTES, "expression_chars": MAX_EXPRESSION_CHARS,
                       "timeout_s": timeout, "workers": pool.size},
        })

    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(openapi())

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await pool.start()
        try:
            yield
        finally:
            await pool.close()

    routes = [
        Route("/", page),
        Route("/static/{name}", static),
        Route("/openapi.json", openapi_json),
        Route("/api/capabilities", capabilities),
        *(Route(path, endpoint(*spec), methods=["POST"]) for path, spec in ENDPOINTS.items()),
        Route("/api/diff/{section}", diff_section, methods=["POST"]),
    ]
    errors = {  # every error is JSON, never a traceback
        BadRequest: lambda request, error: JSONResponse(
            {"error": error.message, "position": error.position}, status_code=error.status),
        HTTPException: lambda request, error: JSONResponse(
            {"error": error.detail, "position": None}, status_code=error.status_code, headers=error.headers),
        Exception: lambda request, error: JSONResponse(
            {"error": "internal server error", "position": None}, status_code=500),
    }
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=errors,
                    middleware=[Middleware(Guard, host=host, send_timeout=stall_timeout)])
    app.state.pool = pool
    return app


async def until_disconnected(request: Request) -> None:
    """Returns when the client has gone (after the body was read, the next ASGI message says so)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class ReplyCache:
    """Replies already computed, by request: least recently used out first, bounded in bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict[str, tuple[int, bytes]] = OrderedDict()

    def get(self, key: str) -> tuple[int, bytes] | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def put(self, key: str, status: int, body: bytes) -> None:
        if key in self.entries or len(body) > self.max_bytes // 16:  # one huge reply must not flush the rest
            return
        self.entries[key] = (status, body)
        self.size += len(body)
        while self.size > self.max_bytes:
            _, (_, evicted) = self.entries.popitem(last=False)
            self.size -= len(evicted)


# ----- reading a request --------------------------------------------------------------------------


async def read_json(request: Request, seconds: float) -> dict:
    """The body as a JSON object; refused as soon as it grows past ``MAX_BODY_BYTES`` or takes
    longer than ``seconds`` to arrive (a client trickling its body must not hold the server)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes", status=413)

    async def read() -> bytes:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes", status=413)
        return bytes(body)

    try:
        return decode(await asyncio.wait_for(read(), seconds))
    except asyncio.TimeoutError:
        raise BadRequest(f"the request body took longer than {seconds:g} s to arrive", status=408) from None


# ----- serving ------------------------------------------------------------------------------------


def serve(host: str = "127.0.0.1", port: int = 8000, **options) -> None:
    """Run the web app until interrupted (``matdiff serve``); ``options`` go to :func:`create_app`.

    On Hypercorn rather than uvicorn: Hypercorn closes a connection whose request
    headers are not complete ``keep_alive_timeout`` seconds after it opened, however
    slowly they trickle in, and keeps no cap on connections; uvicorn times out only
    idle keep-alive connections, so a client sending a header byte now and then holds
    its connection forever, and its ``limit_concurrency`` answers 503 to everyone once
    that many connections are open (the slowloris attack; see the README).
    """
    from hypercorn.asyncio import serve as serve_asgi
    from hypercorn.config import Config

    stall_timeout = options.setdefault("stall_timeout", 5.0)
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.keep_alive_timeout = stall_timeout  # also the deadline for a request's headers
    config.backlog = 2048
    config.accesslog = None
    config.loglevel = "WARNING"  # errors still go to stderr
    _raise_open_file_limit()
    print(f"matdiff: serving on http://{host}:{port}/  (Ctrl+C to stop)", flush=True)
    asyncio.run(serve_asgi(create_app(host=host, **options), config))  # type: ignore[arg-type]


def _raise_open_file_limit() -> None:
    """Let this process hold as many connections as the system allows it (each is a file)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = 1 << 16 if hard == resource.RLIM_INFINITY else min(hard, 1 << 16)
        if soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ImportError, OSError, ValueError):
        pass
