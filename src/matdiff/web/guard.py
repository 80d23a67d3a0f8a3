"""The server's front door: what is refused before routing, and headers added to every reply.

matdiff serves on the user's own machine, where any web page the user visits can
make the browser send requests to it. Three checks keep such pages out:

- **Host** must be a loopback name or address, or the host the server was started
  on: a DNS-rebinding page reaches 127.0.0.1 under its own name (``evil.example``),
  and that name is what its requests carry (403).
- **Origin**, when a browser sends one with a POST, must be this server itself: a
  cross-site form or ``fetch`` carries the other site's origin (403).
- **Content-Type** of a POST must be ``application/json``: a cross-site form can send
  ``text/plain`` or form data without the browser asking the server first (415).

It also bounds how long sending one reply may take (a client that stops reading its
reply is dropped), and adds the security headers of :data:`SECURITY_HEADERS`.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import socket
from urllib.parse import urlsplit

SECURITY_HEADERS = [
    (b"content-security-policy", (b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                  b"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
SAFE_METHODS = ("GET", "HEAD")
DEFAULT_PORTS = {"http": 80, "https": 443}
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # served on every interface: see Guard.is_own_host


class SlowClient(Exception):
    """A client took longer than the send timeout to take part of its reply: it is dropped."""


class Guard:
    """ASGI middleware: refuses foreign hosts, cross-site POSTs and non-JSON POSTs; adds headers.

    ``host``: the address the server was started on (besides loopback, the one Host
    name accepted); ``send_timeout``: seconds one chunk of a reply may take to send.
    """

    def __init__(self, app, *, host: str = "127.0.0.1", send_timeout: float = 10.0):
        self.app = app
        self.host = _bare(host.lower())
        self.send_timeout = send_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def guarded_send(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            try:
                await asyncio.wait_for(send(message), self.send_timeout)
            except asyncio.TimeoutError:
                raise SlowClient from None

        refusal = self.refusal(scope)
        try:
            if refusal is None:
                await self.app(scope, receive, guarded_send)
            else:
                await refuse(*refusal, guarded_send)
        except SlowClient:
            pass  # returning without a full reply: the server closes the connection

    def refusal(self, scope) -> tuple[int, str] | None:
        """(status, reason) when the request must not reach the app, else None."""
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        host = headers.get("host")
        if host is not None and not self.is_own_host(_hostname(host)):
            return 403, "this server answers only requests addressed to it by a local name"
        if scope["method"] in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        scheme = scope.get("scheme", "http")
        if origin is not None and _origin(origin) != _origin(f"{scheme}://{host}"):
            return 403, "requests from other web sites are refused"
        if scope["method"] != "POST":  # the only method with a body here; others are 405
            return None
        media_type, _, parameters = headers.get("content-type", "").partition(";")
        charset = parameters.strip().lower().removeprefix("charset=").strip('"')
        if media_type.strip().lower() != "application/json" or charset not in ("", "utf-8"):
            return 415, "the request body must be JSON, sent as Content-Type: application/json"
        return None

    def is_own_host(self, name: str) -> bool:
        """Whether a Host header names this server.

        A page of another site can reach a local server only through a domain name it controls
        (DNS rebinding): an IP address in the Host header cannot be rebound. So on one address, that
        address and loopback names are admitted; on every interface (0.0.0.0), any IP address is,
        and of names only loopback ones and this machine's own name (``socket.gethostname()``).
        """
        if name == self.host or name == "localhost" or name.endswith(".localhost"):
            return True  # browsers resolve *.localhost to loopback only
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return self.host in WILDCARD_HOSTS and name in _machine_names()
        return address.is_loopback or self.host in WILDCARD_HOSTS


async def refuse(status: int, message: str, send) -> None:
    body = json.dumps({"error": message, "position": None}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@functools.cache
def _machine_names() -> frozenset[str]:
    """This machine's own names, lower case: what a user on the network types to reach it."""
    name = socket.gethostname().lower().rstrip(".")  # not getfqdn(): it may wait on DNS
    return frozenset({name, name.split(".")[0]} - {""})


def _bare(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _hostname(host: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rpartition(":")[0] if ":" in host else host


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, default ports made explicit; None if it is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.scheme, parts.hostname, port if port is not None else DEFAULT_PORTS[parts.scheme]
