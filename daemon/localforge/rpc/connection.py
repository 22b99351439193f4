"""One client connection: framing in, requests dispatched as tasks, responses out.

Each connection is independent. Broken framing closes only this connection;
a client that stops reading stops being read (transport flow control), and a
client that floods requests is paused once it has ``MAX_IN_FLIGHT`` of them
running (further frames wait, undecoded, in a backlog that is only drained as
requests finish), so no client can grow the daemon's memory or starve the others.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import struct
from collections import deque
from typing import TYPE_CHECKING, Any

from localforge.errors import (
    InternalError,
    InvalidRequest,
    LocalForgeError,
    ParseError,
    RequestCancelled,
    Unavailable,
)
from localforge.rpc import messages
from localforge.rpc.dispatch import CallContext
from localforge.rpc.framing import FrameDecoder, FrameTooLarge, FramingError, encode

if TYPE_CHECKING:
    from localforge.rpc.server import RpcServer

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 64
CANCEL_METHOD = "$/cancelRequest"
STREAM_METHOD = "$/stream"


def peer_uid(sock: Any) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


class Connection(asyncio.Protocol):
    def __init__(self, server: RpcServer) -> None:
        self.server = server
        self.decoder = FrameDecoder(server.max_frame_bytes)
        self.transport: asyncio.Transport | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.by_id: dict[messages.RequestId, asyncio.Task[Any]] = {}
        self.backlog: deque[bytes] = deque()
        self._write_paused = False
        self._read_paused = False
        self._eof = False
        self._stall: asyncio.TimerHandle | None = None

    # --- asyncio.Protocol -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        uid = peer_uid(transport.get_extra_info("socket"))
        if uid != os.getuid():
            log.warning(
                "refused a connection from uid %d (daemon runs as uid %d)", uid, os.getuid()
            )
            refusal = InvalidRequest(
                f"connection refused: peer uid {uid} is not the daemon's owner "
                f"(uid {os.getuid()}); each user runs their own lfd"
            )
            self.send(messages.error_response(None, refusal))
            transport.close()
            return
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self._cancel_stall()
        for task in list(self.tasks):
            task.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            bodies = self.decoder.feed(data)
        except FramingError as exc:
            error_type = InvalidRequest if isinstance(exc, FrameTooLarge) else ParseError
            self.fail(error_type(str(exc)))
            return
        self.backlog.extend(bodies)
        self._drain()
        self._arm_stall()

    def eof_received(self) -> bool:
        self._eof = True
        if self.decoder.pending:
            self.fail(ParseError("connection closed in the middle of a message (truncated body)"))
        else:
            self._close_if_done()
        return True  # keep the write side open until in-flight requests answer

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._drain()

    # --- messages ---------------------------------------------------------

    def handle_body(self, body: bytes) -> None:
        try:
            payload = messages.decode_body(body)
        except ParseError as exc:
            self.send(messages.error_response(None, exc))
            return
        parsed = messages.parse(payload)
        if isinstance(parsed, list):
            self._start(self._batch(parsed), ids=[])
        elif isinstance(parsed, messages.Invalid):
            self.send(messages.error_response(parsed.id, parsed.error))
        elif parsed.method == CANCEL_METHOD:
            self._cancel(parsed.params)
        else:
            self._start(self._single(parsed), ids=[] if parsed.is_notification else [parsed.id])

    async def _single(self, request: messages.Request) -> None:
        reply = await self._run(request)
        if reply is not None:
            self.send(reply, request.method)

    async def _batch(self, items: list[messages.Message]) -> None:
        """Run every call of a batch concurrently; each can be cancelled by its own id."""
        loop = asyncio.get_running_loop()
        replies: list[Any] = []
        children: list[asyncio.Task[dict[str, Any] | None]] = []
        for item in items:
            if isinstance(item, messages.Invalid):
                replies.append(messages.error_response(item.id, item.error))
            elif item.method == CANCEL_METHOD:
                self._cancel(item.params)
            else:
                child = loop.create_task(self._run(item))
                if not item.is_notification:
                    self.by_id[item.id] = child
                    child.add_done_callback(functools.partial(self._forget, item.id))
                children.append(child)
                replies.append(child)
        if children:
            await asyncio.gather(*children)
        answered = [r.result() if isinstance(r, asyncio.Task) else r for r in replies]
        answered = [reply for reply in answered if reply is not None]
        if answered:
            self.send(answered, "a batch")

    async def _run(self, request: messages.Request) -> dict[str, Any] | None:
        ctx = CallContext(self.server.services, request.id, self._streamer(request))
        try:
            result = await self.server.methods.call(ctx, request.method, request.params)
        except asyncio.CancelledError:
            if self.transport is None or self.transport.is_closing():
                raise  # the client is gone: nobody to answer
            if self.server.closing:
                error: LocalForgeError = Unavailable(
                    f"lfd is shutting down and stopped {request.method} after the "
                    f"{self.server.grace_s:g}s grace period (daemon.shutdown_grace_s); "
                    "send it again once lfd is back"
                )
            else:
                error = RequestCancelled(f"request {request.id!r} was cancelled")
        except LocalForgeError as exc:
            error = exc
        except Exception:
            log.exception("internal error in %s", request.method)
            error = InternalError(
                f"internal error in {request.method}; the daemon log "
                f"({self.server.services.log_file}) has the details"
            )
        else:
            return None if request.is_notification else messages.response(request.id, result)
        return None if request.is_notification else messages.error_response(request.id, error)

    def _streamer(self, request: messages.Request) -> Any:
        def stream(data: Any) -> None:
            if request.is_notification:
                return
            # Encoded here so that data JSON cannot carry fails the handler (-32603).
            frame = encode(messages.notification(STREAM_METHOD, {"id": request.id, "data": data}))
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(frame)

        return stream

    def _cancel(self, params: Any) -> None:
        target = params.get("id") if isinstance(params, dict) else None
        task = self.by_id.get(target)
        if task is not None:
            task.cancel()

    # --- plumbing ---------------------------------------------------------

    def send(self, message: Any, what: str = "a message") -> None:
        if self.transport is None or self.transport.is_closing():
            return
        try:
            data = encode(message)
        except (TypeError, ValueError):
            # A handler returned something JSON cannot carry: answer every id with -32603.
            log.exception("cannot encode the answer to %s", what)
            error = InternalError(
                f"internal error: the answer to {what} could not be encoded; "
                f"the daemon log ({self.server.services.log_file}) has the details"
            )
            replies = message if isinstance(message, list) else [message]
            failed = [
                messages.error_response(r.get("id"), error)
                for r in replies
                if isinstance(r, dict) and "id" in r
            ]
            if not failed:
                return
            data = encode(failed if isinstance(message, list) else failed[0])
        self.transport.write(data)

    def fail(self, error: LocalForgeError) -> None:
        """Answer a framing error with id null, then close only this connection."""
        log.info("closing a connection: %s", error.message)
        self.send(messages.error_response(None, error))
        self.backlog.clear()
        if self.transport is not None:
            self.transport.close()

    def _drain(self) -> None:
        """Handle queued frames while this client has room for more requests in flight."""
        while self.backlog and not self._write_paused and len(self.tasks) < MAX_IN_FLIGHT:
            if self.transport is None or self.transport.is_closing():
                self.backlog.clear()
                return
            self.handle_body(self.backlog.popleft())
        self._update_reading()
        self._close_if_done()

    def _close_if_done(self) -> None:
        if self._eof and not self.tasks and not self.backlog and self.transport is not None:
            self.transport.close()

    def _start(self, coro: Any, ids: list[messages.RequestId]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        for rid in ids:
            self.by_id[rid] = task
        task.add_done_callback(lambda done: self._finished(done, ids))

    def _finished(self, task: asyncio.Task[Any], ids: list[messages.RequestId]) -> None:
        self.tasks.discard(task)
        for rid in ids:
            self._forget(rid, task)
        self._drain()

    def _forget(self, rid: messages.RequestId, task: asyncio.Task[Any]) -> None:
        if self.by_id.get(rid) is task:
            del self.by_id[rid]

    def _update_reading(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        should_pause = self._write_paused or len(self.tasks) >= MAX_IN_FLIGHT or bool(self.backlog)
        if should_pause and not self._read_paused:
            self.transport.pause_reading()
        elif not should_pause and self._read_paused:
            self.transport.resume_reading()
        self._read_paused = should_pause

    def _arm_stall(self) -> None:
        self._cancel_stall()
        if self.decoder.pending:
            loop = asyncio.get_running_loop()
            timeout = self.server.idle_frame_timeout_s
            self._stall = loop.call_later(
                timeout,
                self.fail,
                ParseError(
                    f"incomplete message: no bytes for {timeout:g}s in the middle of a frame"
                ),
            )

    def _cancel_stall(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
