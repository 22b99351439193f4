"""The HTTP door's listener: uvicorn inside the daemon's event loop, no second process.

``start`` checks the listen address (loopback, or remote with a token), binds the
socket itself (so a port in use is a plain StartupError, not uvicorn's exit), and
runs uvicorn's ``startup`` and tick loop as a task; ``close`` stops accepting,
gives in-flight requests the grace period, then cancels what is left. uvicorn
installs no signal handlers and leaves logging alone: the daemon owns both.

Connections get ``http.header_timeout_s`` to send each request head, so clients
that trickle headers (slow loris) are closed instead of held open.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from localforge.errors import StartupError
from localforge.http.app import build_app
from localforge.http.security import check_listen
from localforge.serving.context import Services
from localforge.settings import HttpSettings

log = logging.getLogger(__name__)

KEEP_ALIVE_S = 5


class HttpServer:
    name = "http"

    def __init__(self, services: Services, settings: Callable[[], HttpSettings]) -> None:
        self.services = services
        self.settings = settings
        self.url: str | None = None
        self._server: uvicorn.Server | None = None
        self._sock: socket.socket | None = None
        self._ticks: asyncio.Task[None] | None = None

    def check(self) -> tuple[str, int]:
        """Refuse an unsafe listen address before anything else starts."""
        return check_listen(self.settings())

    async def start(self) -> None:
        settings = self.settings()
        host, port = self.check()
        self._sock = _bind(host, port, settings.listen or "")
        bound = self._sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self.services, self.settings, host),
            http=_head_deadline(settings.header_timeout_s),
            ws="none",
            lifespan="off",
            interface="asgi3",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            limit_concurrency=settings.max_connections,
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[self._sock])
        self._server = server
        self._ticks = asyncio.get_running_loop().create_task(server.main_loop())
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{bound}"
        log.info("HTTP door listening on %s", self.url)

    async def close(self, grace_s: float) -> None:
        server = self._server
        if server is None:
            return
        server.should_exit = True
        if self._ticks is not None:
            await asyncio.gather(self._ticks, return_exceptions=True)
        server.config.timeout_graceful_shutdown = max(int(grace_s), 1)
        await server.shutdown(sockets=[self._sock] if self._sock else None)
        self._server = None
        log.info("HTTP door closed")

    def status(self) -> dict[str, Any]:
        if self._server is None:
            return {"state": "stopped", "detail": "not listening"}
        connections = len(self._server.server_state.connections)
        return {
            "state": "ready",
            "detail": f"OpenAI, Ollama and llama-server APIs on {self.url}; "
            f"{connections} connection(s)",
            "url": self.url,
        }


def _bind(host: str, port: int, listen: str) -> socket.socket:
    address = "127.0.0.1" if host == "localhost" else host
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    # IPPROTO_TCP named, so asyncio sets TCP_NODELAY on each connection: without it a
    # response's small writes wait out the client's delayed ACK (40 ms a request).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((address, port))
        sock.listen(256)
    except OSError as exc:
        sock.close()
        raise StartupError(
            f"cannot listen on {listen}: {exc.strerror}; choose another port with "
            "--http HOST:PORT (http.listen), or stop what uses it"
        ) from exc
    sock.setblocking(False)
    return sock


def _head_deadline(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection that does not finish a request head."""

    class HeadDeadline(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                log.info(
                    "closed an HTTP connection that sent no complete request in %gs "
                    "(http.header_timeout_s)",
                    timeout_s,
                )
                self.transport.close()

    return HeadDeadline
