"""``matdiff serve``: the web page and its JSON API (SPEC §4).

This module owns HTTP: routes, input validation and limits, caching, security
headers. It computes nothing itself: every job goes to a pool of worker processes
(:mod:`matdiff.web.pool`) that can be killed when a request overruns, so a hostile
or unlucky input costs at most ``timeout`` seconds of one worker.

Safety, in one place:
- bodies over ``MAX_BODY_BYTES`` are refused while being read, expressions over
  ``MAX_EXPRESSION_CHARS`` before any parsing; shapes and values are type-checked;
- nothing is ever ``eval``-ed; the engine parses the language with its own grammar;
- static files come from a fixed list read at start-up, so no path reaches the disk;
- errors are JSON ``{"error", "position"}``, never a traceback;
- the page builds its DOM with ``textContent`` and admits MathML only after the
  server has checked latex2mathml's output (see :func:`matdiff.web.jobs.mathml`),
  and a strict Content-Security-Policy forbids inline scripts and other origins.

The CLI imports this module only for ``matdiff serve``, so starlette and uvicorn
cost nothing to the other commands.
"""

from __future__ import annotations

import contextlib
import json
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
from matdiff.web.jobs import feature, has_code
from matdiff.web.openapi import openapi
from matdiff.web.pool import WorkerPool

MAX_BODY_BYTES = 20_000
MAX_EXPRESSION_CHARS = 4_000
MAX_NAMES = 64  # shapes or values given in one request
MAX_ORDER = 3  # entries of wrt
MAX_DIMENSION = 1_000_000
LAYOUTS = ("numerator", "denominator", "gradient", "jacobian", "vec")
SECTIONS = ("check", "vec", "explain", "entries", "code")  # the optional parts of a /api/diff reply
TARGETS = ("numpy", "jax", "torch")
STATIC = {  # the only files ever served
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
SECURITY_HEADERS = [
    (b"content-security-policy", (b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                  b"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
NO_CACHE = {"cache-control": "no-cache"}  # revalidate: a new version of the page shows at once
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class BadRequest(Exception):
    """A request the server refuses before any engine work: HTTP ``status`` with a JSON error."""

    def __init__(self, message: str, *, status: int = 400, position: int | None = None):
        super().__init__(message)
        self.message, self.status, self.position = message, status, position


def features() -> dict:
    """What this version of the engine offers, looked up per request: the page adapts to it."""
    return {
        "explain": feature("explain") is not None,
        "check": feature("check") is not None,
        "entries": feature("entries") is not None,
        "codegen": has_code(),
    }


# ----- the app ------------------------------------------------------------------------------------


def create_app(
    *,
    workers: int | None = None,
    timeout: float = 10.0,
    queue_timeout: float = 10.0,
    cache_bytes: int = 32 << 20,
    worker_command: list[str] | None = None,
) -> Starlette:
    """The web app. ``timeout``: seconds one request may compute before its worker is killed."""
    pool = WorkerPool(
        size=workers or max(2, min(4, os.cpu_count() or 2)),
        timeout=timeout,
        queue_timeout=queue_timeout,
        command=worker_command,
    )
    cache = ReplyCache(cache_bytes)
    files = {name: (resources.files("matdiff.web") / "static" / name).read_bytes() for name in STATIC}

    async def run(kind: str, payload: dict) -> Response:
        """A job's reply, from the cache when the same request was answered before."""
        key = kind + json.dumps(payload, sort_keys=True)
        cached = cache.get(key)
        if cached:
            return Response(cached[1], status_code=cached[0], media_type="application/json")
        status, body = await pool.run(kind, payload)
        response = JSONResponse(body, status_code=status, headers={"retry-after": "1"} if status == 503 else None)
        if status in (200, 400):  # deterministic answers only; not timeouts or crashes
            assert isinstance(response.body, bytes)  # JSONResponse renders bytes (Response allows memoryview)
            cache.put(key, status, response.body)
        return response

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
            "targets": list(TARGETS),
            "limits": {"body_bytes": MAX_BODY_BYTES, "expression_chars": MAX_EXPRESSION_CHARS,
                       "timeout_s": timeout, "workers": pool.size},
        })

    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(openapi(LAYOUTS, SECTIONS, TARGETS, MAX_BODY_BYTES, MAX_EXPRESSION_CHARS))

    async def api_variables(request: Request) -> Response:
        body = await read_json(request)
        return await run("variables", {"expression": expression_of(body), "shapes": shapes_of(body)})

    async def api_diff(request: Request) -> Response:
        body = await read_json(request)
        return await run("diff", {**derivative_request(body), "include": include_of(body)})

    async def api_evaluate(request: Request) -> Response:
        body = await read_json(request)
        return await run("evaluate", {
            "expression": expression_of(body), "values": values_of(body), "shapes": shapes_of(body),
        })

    def optional(kind: str, extra):
        """An endpoint for a feature the engine may not have yet: 501 until it does."""
        async def endpoint(request: Request) -> Response:
            if not features()[kind]:
                return JSONResponse({"error": f"'{kind}' is not available in this version of matdiff"},
                                    status_code=501)
            body = await read_json(request)
            return await run(kind, {**derivative_request(body), **extra(body)})
        return endpoint

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
        Route("/api/variables", api_variables, methods=["POST"]),
        Route("/api/diff", api_diff, methods=["POST"]),
        Route("/api/evaluate", api_evaluate, methods=["POST"]),
        Route("/api/explain", optional("explain", lambda body: {}), methods=["POST"]),
        Route("/api/check", optional("check", lambda body: {"claim": claim_of(body)}), methods=["POST"]),
        Route("/api/entries", optional("entries", lambda body: {}), methods=["POST"]),
        Route("/api/codegen", optional("codegen", lambda body: {"target": target_of(body)}), methods=["POST"]),
    ]
    errors = {  # every error is JSON, never a traceback
        BadRequest: lambda request, error: JSONResponse(
            {"error": error.message, "position": error.position}, status_code=error.status),
        HTTPException: lambda request, error: JSONResponse(
            {"error": error.detail}, status_code=error.status_code, headers=error.headers),
        Exception: lambda request, error: JSONResponse({"error": "internal server error"}, status_code=500),
    }
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(SecurityHeaders)],
                    exception_handlers=errors)
    app.state.pool = pool
    return app


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


class SecurityHeaders:
    """Adds the security headers to every response (plain ASGI: no per-request overhead to speak of)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def serve(host: str = "127.0.0.1", port: int = 8000, **options) -> None:
    """Run the web app until interrupted (``matdiff serve``); ``options`` go to :func:`create_app`."""
    import uvicorn

    print(f"matdiff: serving on http://{host}:{port}/  (Ctrl+C to stop)", flush=True)
    uvicorn.run(create_app(**options), host=host, port=port, log_level="warning",
                limit_concurrency=1000, timeout_keep_alive=5)


# ----- request validation -------------------------------------------------------------------------


async def read_json(request: Request) -> dict:
    """The body as a JSON object, refusing it as soon as it grows past ``MAX_BODY_BYTES``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes", status=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes", status=413)
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def derivative_request(body: dict) -> dict:
    return {"expression": expression_of(body), "wrt": wrt_of(body), "shapes": shapes_of(body),
            "layout": layout_of(body)}


def expression_of(body: dict, field: str = "expression") -> str:
    text = body.get(field)
    if not isinstance(text, str) or not text.strip():
        raise BadRequest(f"'{field}' must be a non-empty string")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise BadRequest(f"'{field}' is {len(text)} characters long; the limit is {MAX_EXPRESSION_CHARS}",
                         position=MAX_EXPRESSION_CHARS)
    return text


def claim_of(body: dict) -> str:
    return expression_of(body, "claim")


def wrt_of(body: dict) -> list[str]:
    """'W1', 'x, y' or ["x", "y"]: the variable(s), in order (two or three for higher derivatives)."""
    wrt = body.get("wrt")
    if isinstance(wrt, str):
        wrt = [w for w in re.split(r"[\s,]+", wrt) if w]
    if not isinstance(wrt, list) or not 1 <= len(wrt) <= MAX_ORDER:
        raise BadRequest(f"'wrt' must name one to {MAX_ORDER} variables, e.g. \"W1\" or [\"x\", \"y\"]")
    for name in wrt:
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise BadRequest(f"'wrt' holds {json.dumps(name)[:40]}, which is not a variable name")
    return wrt


def layout_of(body: dict) -> str:
    layout = body.get("layout", "numerator")
    if layout not in LAYOUTS:
        raise BadRequest(f"'layout' must be one of {', '.join(LAYOUTS)}")
    return layout


def include_of(body: dict) -> list[str]:
    include = body.get("include", ["check"])
    if not isinstance(include, list) or not all(part in SECTIONS for part in include):
        raise BadRequest(f"'include' must be a list of sections among {', '.join(SECTIONS)}")
    return include


def target_of(body: dict) -> str:
    target = body.get("target", "numpy")
    if target not in TARGETS:
        raise BadRequest(f"'target' must be one of {', '.join(TARGETS)}")
    return target


def shapes_of(body: dict) -> dict:
    """{"A": [3, 4], "x": [4], "s": [], "B": "m x n"}: each shape as a list of ints and names."""
    shapes = body.get("shapes") or {}
    if not isinstance(shapes, dict) or len(shapes) > MAX_NAMES:
        raise BadRequest(f"'shapes' must be an object of at most {MAX_NAMES} names, e.g. {{\"A\": [3, 4]}}")
    return {_name(name, "shapes"): shape_of(name, shape) for name, shape in shapes.items()}


def shape_of(name: str, shape) -> list:
    if isinstance(shape, str):  # the page's and the CLI's spelling: "3x4", "n", "scalar"
        text = shape.strip().lower()
        shape = [] if text in ("", "scalar", "()") else [d.strip() for d in re.split(r"[x×*,]", shape)]
    elif isinstance(shape, int) and not isinstance(shape, bool):
        shape = [shape]
    if not isinstance(shape, list) or len(shape) > 2:
        raise BadRequest(f"the shape of {name} must be like [3, 4], [4], [] or \"3x4\"")
    dims = []
    for d in shape:
        if isinstance(d, str) and d.isdigit():
            d = int(d)
        number = isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_DIMENSION
        if number or (isinstance(d, str) and NAME.fullmatch(d) and len(d) <= 32):
            dims.append(d)
        else:
            raise BadRequest(f"the shape of {name} has {json.dumps(d)[:20]}: a dimension is a positive "
                             f"integer up to {MAX_DIMENSION} or a name")
    return dims


def values_of(body: dict) -> dict:
    """{"A": [[1, 2], [3, 4]], "x": [1, 2], "s": 3}: numbers, vectors and matrices only."""
    values = body.get("values") or {}
    if not isinstance(values, dict) or len(values) > MAX_NAMES:
        raise BadRequest(f"'values' must be an object of at most {MAX_NAMES} names")
    for name, value in values.items():
        _name(name, "values")
        rows = value if isinstance(value, list) else [value]
        cells = [c for row in rows for c in (row if isinstance(row, list) else [row])]
        if not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in cells):
            raise BadRequest(f"the value of {name} must be a number, a list of numbers or a list of rows")
    return values


def _name(name: str, field: str) -> str:
    if not NAME.fullmatch(name):
        raise BadRequest(f"'{field}' has {json.dumps(name)[:40]}, which is not a variable name")
    return name
