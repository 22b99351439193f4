"""An asyncio client of the daemon's socket, for the language server.

One connection per editor window, opened on first use; when no daemon runs it
starts ``lfd serve`` in the background (like ``lfctl``), detached and with its
output in the state dir, never on this process's stdout (the LSP channel).
Cancelling a ``call`` sends ``$/cancelRequest``, so the daemon stops the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localforge.paths import Paths
from localforge.rpc.framing import FrameDecoder, encode
from localforge.rpc.messages import ErrorAnswer, decode_body, notification, request
from localforge.runtime import lock_is_held, spawn_daemon

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
MAX_FRAME = 256 * 1024 * 1024
OnStream = Callable[[Any], None]


class DaemonError(ErrorAnswer):
    """An error answer from the daemon (``message`` is meant for a person)."""


class DaemonUnavailable(Exception):
    """No daemon could be reached or started; the message says why and what to do."""


class DaemonClient:
    def __init__(
        self, paths: Paths, *, autostart: bool = True, socket_path: Path | None = None
    ) -> None:
        self.paths = paths
        self.socket_path = socket_path or paths.socket
        self.autostart = autostart
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._streams: dict[int, OnStream] = {}
        self._ids = itertools.count(1)
        self._connecting: asyncio.Lock | None = None
        self.started_daemon = False

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self) -> None:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self.connected:
                return
            try:
                reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                if not self.autostart or self.socket_path != self.paths.socket:
                    raise DaemonUnavailable(
                        f"lfd is not running (no daemon on {self.socket_path}); "
                        "start it with 'lfd serve'"
                    ) from exc
                reader, writer = await self._start_daemon()
            self._reader, self._writer = reader, writer
            self._read_task = asyncio.get_running_loop().create_task(self._read_loop(reader))
            # The dashboard labels this connection's requests as the editors' (door "lsp").
            self._send(notification("daemon.hello", {"client": "lfd lsp", "door": "lsp"}))

    async def call(self, method: str, params: Any = None, on_stream: OnStream | None = None) -> Any:
        await self.connect()
        rid = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        if on_stream is not None:
            self._streams[rid] = on_stream
        try:
            self._send(request(rid, method, params))
            return await future
        except asyncio.CancelledError:
            if future.cancelled() or not future.done():  # awaiting it cancelled it too
                with contextlib.suppress(OSError, RuntimeError):
                    self._send(notification("$/cancelRequest", {"id": rid}))
            raise
        finally:
            self._pending.pop(rid, None)
            self._streams.pop(rid, None)

    async def notify(self, method: str, params: Any = None) -> None:
        await self.connect()
        self._send(notification(method, params))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()
        if self._read_task is not None:
            self._read_task.cancel()
            await asyncio.gather(self._read_task, return_exceptions=True)
        self._writer = None

    def _send(self, message: Any) -> None:
        if self._writer is None or self._writer.is_closing():
            raise DaemonUnavailable("the connection to lfd is closed; the next request reconnects")
        self._writer.write(encode(message))

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        decoder = FrameDecoder(MAX_FRAME)
        reason = "lfd closed the connection (stopped or restarted); the next request reconnects"
        try:
            while chunk := await reader.read(65536):
                for body in decoder.feed(chunk):
                    self._dispatch(decode_body(body))
        except (OSError, ValueError) as exc:
            reason = f"the connection to lfd broke ({exc}); the next request reconnects"
        except Exception:
            log.exception("reading from lfd failed")
        finally:
            if self._writer is not None:
                self._writer.close()
            self._writer = None
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(DaemonUnavailable(reason))

    def _dispatch(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        if message.get("method") == "$/stream":
            params = message.get("params") or {}
            sid = params.get("id")
            on_stream = self._streams.get(sid) if isinstance(sid, int) else None
            if on_stream is not None:
                try:
                    on_stream(params.get("data"))
                except Exception:
                    log.exception("a stream handler failed")
            return
        rid = message.get("id")
        future = self._pending.get(rid) if isinstance(rid, int) else None
        if future is None or future.done():
            if message.get("id") is None and "error" in message:
                log.warning("lfd: %s", (message["error"] or {}).get("message"))
            return
        if "error" in message:
            error = message["error"] or {}
            future.set_exception(DaemonError.from_rpc(error))
        else:
            future.set_result(message.get("result"))

    async def _start_daemon(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Start ``lfd serve`` detached and wait until its socket answers."""
        self.paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        out_path = self.paths.state_dir / "lfd.out"
        log.info("no daemon on %s: starting lfd serve", self.socket_path)
        process = spawn_daemon(out_path)
        self.started_daemon = True
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                return await asyncio.open_unix_connection(str(self.socket_path))
            except (FileNotFoundError, ConnectionRefusedError):
                pass
            if process.poll() is not None and not lock_is_held(self.paths.lock):
                try:  # another editor's daemon may have won the race and be up now
                    return await asyncio.open_unix_connection(str(self.socket_path))
                except (FileNotFoundError, ConnectionRefusedError):
                    raise DaemonUnavailable(
                        f"lfd exited with status {process.returncode} while starting; "
                        f"see {out_path}"
                    ) from None
            await asyncio.sleep(0.05)
        raise DaemonUnavailable(
            f"lfd did not open {self.socket_path} within {START_TIMEOUT_S:g}s; see {out_path}"
        )
