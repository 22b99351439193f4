"""Who may talk to the HTTP door: loopback by default, a token elsewhere, no foreign Host.

``check_listen`` refuses at start a listen address that is not loopback unless
``http.allow_remote`` is set, and then only with ``http.token``. ``Guard`` is the
outermost ASGI middleware; for every request it checks, in order:

1. the ``Host`` header names the listen address, localhost or an allowed host (a
   page on another name that resolves to 127.0.0.1 — DNS rebinding — gets 421);
2. an ``Origin`` header (sent by browsers) is an allowed CORS origin or this door
   itself (403 otherwise), so a web page cannot drive the models;
3. the bearer token, when one is set (401, compared in constant time);
   (except for the dashboard's static page and assets, ``PUBLIC_PAGES``: they hold no
   data, and the page sends the token with each of its data requests);
4. the body fits ``http.max_body_bytes`` (413 before reading it when
   ``Content-Length`` says so; a chunked body is read first, up to the cap).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from localforge.errors import StartupError
from localforge.http.errors import Refused, response
from localforge.settings import HttpSettings, split_listen

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
PUBLIC_PAGES = frozenset({"/", "/dashboard/app.js", "/dashboard/app.css"})


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def check_listen(settings: HttpSettings) -> tuple[str, int]:
    """The host and port to bind, or a StartupError that says how to make it safe."""
    assert settings.listen is not None
    host, port = split_listen(settings.listen)
    if is_loopback(host):
        return host, port
    if not settings.allow_remote:
        raise StartupError(
            f"http.listen = {settings.listen!r} is not a loopback address; the HTTP door "
            "serves this machine only (127.0.0.1, ::1, localhost) unless http.allow_remote = "
            "true, which also needs http.token (or LOCALFORGE_HTTP_TOKEN)"
        )
    if settings.token is None or not settings.token.get_secret_value():
        raise StartupError(
            f"http.listen = {settings.listen!r} with http.allow_remote needs a bearer token: "
            "set http.token or LOCALFORGE_HTTP_TOKEN (for example to the output of "
            "`openssl rand -hex 32`) so that other machines cannot use your models"
        )
    return host, port


class BodyTooLarge(Refused):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the request body is larger than http.max_body_bytes ({limit} bytes); "
            "send less (fewer or shorter messages), or raise http.max_body_bytes",
        )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _host_name(value: str) -> str:
    """``"[::1]:8010"`` -> ``"::1"``; ``"localhost:8010"`` -> ``"localhost"``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    def __init__(
        self, app: ASGIApp, settings: Callable[[], HttpSettings], listen_host: str
    ) -> None:
        self.app = app
        self.settings = settings
        self.listen_host = listen_host.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings()
        try:
            self._check(scope, settings)
        except Refused as refusal:
            await response(refusal, scope.get("path", ""))(scope, receive, send)
            return
        limit = settings.max_body_bytes
        length = _header(scope, b"content-length")
        try:
            if length is not None and length.isdigit():
                if int(length) > limit:
                    raise BodyTooLarge(limit)
            elif scope.get("method") in ("POST", "PUT", "PATCH"):
                receive = await _buffered(receive, limit)  # chunked: read it, within the cap
        except BodyTooLarge as refusal:
            await response(refusal, scope.get("path", ""))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope, settings: HttpSettings) -> None:
        host = _header(scope, b"host")
        allowed = {self.listen_host, *LOOPBACK_NAMES, *(h.lower() for h in settings.allowed_hosts)}
        if host is not None and _host_name(host) not in allowed:
            raise Refused(
                421,
                f"Host {host!r} is not this server's name; use http://{self.listen_host}:PORT "
                "or localhost (behind a proxy, add its public name to http.allowed_hosts)",
            )
        origin = _header(scope, b"origin")
        if origin is not None and origin not in settings.cors_origins:
            own = host is not None and origin.lower() in (f"http://{host.lower()}",)
            if not own:
                raise Refused(
                    403,
                    f"requests from the web page at {origin} are refused; add it to "
                    "http.cors_origins if you trust it",
                )
        if _is_preflight(scope):
            return  # the CORS middleware answers it; browsers send no credentials here
        token = settings.token.get_secret_value() if settings.token is not None else ""
        public = scope.get("method") in ("GET", "HEAD") and scope.get("path") in PUBLIC_PAGES
        if token and not public:
            sent = _header(scope, b"authorization") or ""
            scheme, _, value = sent.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                value.strip().encode(), token.encode()
            ):
                why = "no bearer token was sent" if not sent else "the bearer token is wrong"
                raise Refused(
                    401,
                    f"{why}: send 'Authorization: Bearer <http.token>' (for OpenAI clients, "
                    "the API key is that token)",
                    headers={"WWW-Authenticate": 'Bearer realm="localforge"'},
                )


def _is_preflight(scope: Scope) -> bool:
    return scope.get("method") == "OPTIONS" and (
        _header(scope, b"access-control-request-method") is not None
    )


async def _buffered(receive: Receive, limit: int) -> Receive:
    """Read a body of unknown length whole (refusing it past ``limit``), then replay it."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away: the app hears it on its next receive
        size += len(message.get("body", b""))
        if size > limit:
            raise BodyTooLarge(limit)
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": b"".join(parts), "more_body": False}

    return replay
