"""One client connection: framing in, calls run within the connection's budget, answers out.

Each connection is independent: broken framing closes only this connection, and what one
client can make the daemon hold is bounded by its ``Budget`` (``rpc/budget.py``): a cap on
calls in flight that every call of a batch counts against, a cap on the size of any answer,
and an output budget for a client that stops reading.

Every call, single or inside a batch, is a ``Call``. It is answered exactly once, from the
outcome of its task (result, typed error, internal error, cancellation), or without ever
running when it is cancelled while it waits for a slot. Frames are decoded in order, so a
``$/cancelRequest`` sees every call sent before it, except the calls of a batch that have not
been reached yet (a batch is parsed one element at a time, as slots free).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import socket
import struct
from collections import deque
from typing import Any, Protocol

from localforge.errors import (
    InternalError,
    InvalidRequest,
    LocalForgeError,
    ParseError,
    RequestCancelled,
    Unavailable,
)
from localforge.rpc import messages
from localforge.rpc.budget import Budget
from localforge.rpc.calls import Batch, Call
from localforge.rpc.dispatch import CallContext, MethodTable
from localforge.rpc.framing import (
    FrameDecoder,
    FrameTooLarge,
    FramingError,
    encode_body,
    frame,
)
from localforge.rpc.messages import CANCEL_METHOD, STREAM_METHOD
from localforge.serving.context import Services
from localforge.serving.decisions import ORIGIN, Origin


class Host(Protocol):
    """What a connection needs of the server that accepted it."""

    services: Services
    methods: MethodTable
    connections: set[Connection]
    max_frame_bytes: int
    idle_frame_timeout_s: float
    closing: bool
    grace_s: float


log = logging.getLogger(__name__)


def peer_uid(sock: Any) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


class Connection(asyncio.Protocol):
    def __init__(self, server: Host) -> None:
        self.server = server
        self.budget = Budget(answer_cap=server.max_frame_bytes)
        self.decoder = FrameDecoder(server.max_frame_bytes)
        self.transport: asyncio.Transport | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.by_id: dict[int | str, Call] = {}
        self.backlog: deque[bytes] = deque()  # frames read, not decoded yet
        self.ready: deque[Call | Batch] = deque()  # calls decoded, waiting for a slot
        self._write_paused = False
        self._read_paused = False
        self._eof = False
        self._broken = False  # a framing error was answered: nothing more is read
        self._stall: asyncio.TimerHandle | None = None
        self._drain_soon: asyncio.Handle | None = None
        self.origin = Origin("socket")  # a language server names itself with daemon.hello
        self._context = contextvars.copy_context()  # what this connection's calls run in
        self._context.run(ORIGIN.set, self.origin)

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
        if self._drain_soon is not None:
            self._drain_soon.cancel()
        self.backlog.clear()
        self.ready.clear()
        for task in list(self.tasks):
            task.cancel()

    def data_received(self, data: bytes) -> None:
        if self._broken:
            return
        try:
            bodies = self.decoder.feed(data)
        except FramingError as exc:
            self.backlog.extend(exc.bodies)  # whole messages before the break are answered
            self._drain()
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
        """Decode one frame: answer what is invalid now, queue its calls for a slot."""
        try:
            payload = messages.decode_body(body)
        except ParseError as exc:
            self.send(messages.error_response(None, exc))
            return
        if isinstance(payload, list) and payload:
            self.ready.append(Batch(payload))
            return
        parsed = messages.parse(payload)
        assert not isinstance(parsed, list)
        if isinstance(parsed, messages.Invalid):
            self.send(messages.error_response(parsed.id, parsed.error))
        elif parsed.method == CANCEL_METHOD:
            reply = self._cancel(parsed)
            if reply is not None:
                self.send(reply)
        else:
            self.ready.append(self._register(Call(parsed)))

    def _batch_item(self, batch: Batch) -> None:
        """Take a batch's next element: answer it at once, or start it as a call."""
        parsed = messages.parse_one(batch.take())
        if isinstance(parsed, messages.Invalid):
            self._fill(batch, batch.reserve(), messages.error_response(parsed.id, parsed.error))
        elif parsed.method == CANCEL_METHOD:
            reply = self._cancel(parsed)
            if reply is not None:
                self._fill(batch, batch.reserve(), reply)
        elif parsed.is_notification:
            self._start(Call(parsed, batch))
        elif batch.full:  # not run: its answer could not be sent
            error = self.budget.batch_full(parsed.method)
            self._fill(batch, batch.reserve(), messages.error_response(parsed.id, error))
        else:
            self._start(self._register(Call(parsed, batch, batch.reserve())))
        self._send_if_complete(batch)

    def _register(self, call: Call) -> Call:
        rid = call.request.id
        if not call.request.is_notification and rid is not None:
            self.by_id[rid] = call
        return call

    def _cancel(self, request: messages.Request) -> dict[str, Any] | None:
        """Cancel the call a ``$/cancelRequest`` names; the answer when it was sent with an id."""
        try:
            target = messages.cancel_target(request.params)
        except LocalForgeError as exc:
            log.debug("ignored a %s: %s", CANCEL_METHOD, exc.message)
            return None if request.is_notification else messages.error_response(request.id, exc)
        call = self.by_id.get(target)
        if call is not None and not call.answered:
            if call.task is None:  # still waiting for a slot: answered now, never run
                self._answer(call, messages.error_response(target, self._cancelled(call)))
            else:
                call.task.cancel()  # answered from its outcome, even if it never started
        return None if request.is_notification else messages.response(request.id, None)

    # --- calls --------------------------------------------------------------

    def _start(self, call: Call) -> None:
        request = call.request
        if self.server.closing:  # a call that waited for a slot until shutdown: not started
            self._answer(call, messages.error_response(request.id, self._cancelled(call)))
            return
        ctx = CallContext(
            self.server.services, request.id, self._streamer(request), origin=self.origin
        )
        coro = self.server.methods.call(ctx, request.method, request.params)
        task = asyncio.get_running_loop().create_task(coro, context=self._context.copy())
        call.task = task
        self.tasks.add(task)
        task.add_done_callback(functools.partial(self._finished, call))

    def _finished(self, call: Call, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        reply = self._outcome(call, task)
        if not call.answered:
            self._answer(call, reply)
        self._drain()

    def _outcome(self, call: Call, task: asyncio.Task[Any]) -> dict[str, Any]:
        request = call.request
        if task.cancelled():
            return messages.error_response(request.id, self._cancelled(call))
        exc = task.exception()
        if exc is None:
            return messages.response(request.id, task.result())
        if isinstance(exc, LocalForgeError):
            return messages.error_response(request.id, exc)
        log.error("internal error in %s", request.method, exc_info=exc)
        return messages.error_response(
            request.id,
            InternalError(
                f"internal error in {request.method}; the daemon log "
                f"({self.server.services.log_file}) has the details"
            ),
        )

    def _cancelled(self, call: Call) -> LocalForgeError:
        request = call.request
        if self.server.closing:
            if call.task is None:
                return Unavailable(
                    f"lfd is shutting down and did not start {request.method}; "
                    "send it again once lfd is back"
                )
            return Unavailable(
                f"lfd is shutting down and stopped {request.method} after the "
                f"{self.server.grace_s:g}s grace period (daemon.shutdown_grace_s); "
                "send it again once lfd is back"
            )
        return RequestCancelled(f"request {request.id!r} was cancelled")

    def _answer(self, call: Call, reply: dict[str, Any]) -> None:
        """Send a call's one answer, or put it in its batch's (none for a notification)."""
        call.answered = True
        rid = call.request.id
        if rid is not None and self.by_id.get(rid) is call:
            del self.by_id[rid]
        if call.request.is_notification or not self._open():
            return
        if call.batch is None:
            self.send(reply, call.request.method)
        else:
            self._fill(call.batch, call.slot, reply, call.request.method)
            self._send_if_complete(call.batch)

    def _streamer(self, request: messages.Request) -> Any:
        def stream(data: Any) -> None:
            if request.is_notification:
                return
            # Encoded here so that data JSON cannot carry fails the handler (-32603).
            body = encode_body(
                messages.notification(STREAM_METHOD, {"id": request.id, "data": data})
            )
            if len(body) > self.budget.answer_cap:
                raise self.budget.answer_too_large(
                    len(body), f"a {STREAM_METHOD} of {request.method}"
                )
            self._write(frame(body))

        return stream

    # --- answers out ----------------------------------------------------------

    def send(self, message: dict[str, Any], what: str = "a message") -> None:
        """Send one answer, or an error naming the cap in its place when it is too large."""
        if not self._open():
            return
        body = self._encode(message, what)
        if len(body) > self.budget.answer_cap:
            error = self.budget.answer_too_large(len(body), what)
            log.info("refused an answer: %s", error.message)
            body = encode_body(messages.error_response(message.get("id"), error))
        self._write(frame(body))

    def _fill(self, batch: Batch, slot: int, reply: dict[str, Any], what: str = "a call") -> None:
        """Put one answer in its batch's; a result that no longer fits becomes an error.

        Errors always go in (each is small, about the size of the id the client sent), so a
        batch's answer can pass the cap only by errors that name it.
        """
        body = self._encode(reply, what)
        if len(body) + 1 > self.budget.answer_cap - batch.size:
            if not batch.full:
                log.info("refused answers in a batch over the cap (%s)", what)
            batch.full = True
            if "result" in reply:
                error = self.budget.batch_too_large(what)
                body = encode_body(messages.error_response(reply.get("id"), error))
        batch.fill(slot, body)

    def _send_if_complete(self, batch: Batch) -> None:
        if batch.complete and self._open():
            body = batch.body()
            batch.parts.clear()
            if body is not None:
                self._write(frame(body))

    def _encode(self, reply: dict[str, Any], what: str) -> bytes:
        """The bytes of one answer, or of -32603 when a handler returned what JSON cannot carry."""
        try:
            return encode_body(reply)
        except (TypeError, ValueError):
            # A daemon bug, not client input (any string can be encoded): logged with detail.
            log.exception("cannot encode the answer to %s", what)
            error = InternalError(
                f"internal error: the answer to {what} could not be encoded; "
                f"the daemon log ({self.server.services.log_file}) has the details"
            )
            return encode_body(messages.error_response(reply.get("id"), error))

    def _write(self, data: bytes) -> None:
        """Write to the client, closing it instead once it leaves too much unread."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        reason = self.budget.unread(transport.get_write_buffer_size())
        if reason is not None:
            log.warning("closing a connection that stopped reading: %s", reason)
            self.backlog.clear()
            self.ready.clear()
            transport.abort()
            return
        transport.write(data)

    def fail(self, error: LocalForgeError) -> None:
        """Answer a framing error with id null, read nothing more, and close only this
        connection, once the calls that arrived whole before the break are answered."""
        if self._broken:
            return
        self._broken = True
        self._eof = True
        self._cancel_stall()
        log.info("closing a connection: %s", error.message)
        self.send(messages.error_response(None, error))
        self._update_reading()
        self._close_if_done()

    # --- plumbing ---------------------------------------------------------

    def _open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def _drain(self) -> None:
        """Start waiting calls while there are slots; decode frames while few calls wait.

        At most ``steps_per_turn`` frames or batch elements are handled before the event loop
        gets to the other connections: thousands of invalid elements are answered without
        taking a slot, and would otherwise be answered all in one go.
        """
        self._drain_soon = None
        for _ in range(self.budget.steps_per_turn):
            if not self._open() or self._write_paused:
                break
            if self.ready and self.budget.has_room(len(self.tasks)):
                self._start_next()
            elif self.backlog and len(self.ready) < self.budget.max_queued:
                self.handle_body(self.backlog.popleft())
            else:
                break
        else:
            if self._drain_soon is None:
                self._drain_soon = asyncio.get_running_loop().call_soon(self._drain)
        if not self._open():
            self.backlog.clear()
            self.ready.clear()
        self._update_reading()
        self._close_if_done()

    def _start_next(self) -> None:
        head = self.ready[0]
        if isinstance(head, Batch):
            self._batch_item(head)
            if head.exhausted:
                self.ready.popleft()
        else:
            self.ready.popleft()
            if not head.answered:  # not cancelled while it waited
                self._start(head)

    def _close_if_done(self) -> None:
        if self._eof and not self.tasks and not self.backlog and not self.ready and self._open():
            assert self.transport is not None
            self.transport.close()

    def _update_reading(self) -> None:
        if not self._open():
            return
        assert self.transport is not None
        should_pause = (
            self._broken
            or self._write_paused
            or bool(self.backlog)
            or len(self.ready) >= self.budget.max_queued
        )
        if should_pause and not self._read_paused:
            self.transport.pause_reading()
        elif not should_pause and self._read_paused:
            self.transport.resume_reading()
        self._read_paused = should_pause

    def _arm_stall(self) -> None:
        self._cancel_stall()
        if self.decoder.pending and self._open():
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
