"""The listening socket: bind safely, accept connections, drain them on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from localforge.rpc.connection import Connection
from localforge.rpc.dispatch import MethodTable
from localforge.serving.context import Services

log = logging.getLogger(__name__)


class RpcServer:
    def __init__(
        self,
        services: Services,
        methods: MethodTable,
        socket_path: Path,
        *,
        max_frame_bytes: int,
        idle_frame_timeout_s: float,
    ) -> None:
        self.services = services
        self.methods = methods
        self.socket_path = socket_path
        self.max_frame_bytes = max_frame_bytes
        self.idle_frame_timeout_s = idle_frame_timeout_s
        self.connections: set[Connection] = set()
        self.closing = False
        self.grace_s = 0.0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Bind the socket as 0600. The caller holds the instance lock, so a leftover is stale."""
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        old_umask = os.umask(0o177)
        try:
            loop = asyncio.get_running_loop()
            self._server = await loop.create_unix_server(
                lambda: Connection(self), path=str(self.socket_path), backlog=256
            )
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, 0o600)
        log.info("listening on %s", self.socket_path)

    async def close(self, grace_s: float) -> None:
        """Stop accepting, give in-flight requests ``grace_s`` to finish, then close."""
        self.grace_s = grace_s
        if self._server is not None:
            self._server.close()
        in_flight: list[asyncio.Task[Any]] = [t for c in self.connections for t in c.tasks]
        if in_flight:
            log.info("waiting up to %gs for %d in-flight requests", grace_s, len(in_flight))
            _done, pending = await asyncio.wait(in_flight, timeout=grace_s)
            self.closing = True
            if pending:
                log.warning("cancelling %d requests still running after %gs", len(pending), grace_s)
                for task in pending:
                    task.cancel()
                # Let them answer "shutting down" before their connections close.
                await asyncio.wait(pending, timeout=1.0)
        self.closing = True
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.close()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
