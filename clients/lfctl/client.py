"""A small synchronous JSON-RPC client for the daemon's Unix socket.

with Client.connect(path) as client:
    client.call("daemon.status")
    client.call("chat.complete", {...}, on_stream=print)   # $/stream notifications
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from localforge.rpc.framing import FrameDecoder, encode
from localforge.rpc.messages import ErrorAnswer, decode_body, request

DEFAULT_MAX_FRAME = 256 * 1024 * 1024
OnStream = Callable[[Any], None]


class RpcError(ErrorAnswer):
    """An error answer from the daemon; ``message`` is meant for a person."""


class ConnectionClosed(Exception):
    """The daemon closed the connection before answering."""


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._decoder = FrameDecoder(DEFAULT_MAX_FRAME)
        self._pending: list[Any] = []
        self._ids = itertools.count(1)

    @classmethod
    def connect(cls, path: Path | str, timeout: float | None = None) -> Client:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except OSError:
            sock.close()
            raise
        return cls(sock)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._send(encode(message))

    def send_request(self, method: str, params: Any = None) -> int:
        rid = next(self._ids)
        self._send(encode(request(rid, method, params)))
        return rid

    def _send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            # The daemon hung up; it may have said why first (e.g. a refused peer).
            try:
                while True:
                    message = self.receive()
                    if isinstance(message, dict) and message.get("id") is None:
                        error = message.get("error")
                        if isinstance(error, dict):
                            raise RpcError.from_rpc(error) from None
            except (ConnectionClosed, OSError):
                pass
            raise

    def cancel(self, rid: int) -> None:
        self.notify("$/cancelRequest", {"id": rid})

    def call(self, method: str, params: Any = None, on_stream: OnStream | None = None) -> Any:
        """Send a request and wait for its answer, passing stream notifications to ``on_stream``."""
        rid = self.send_request(method, params)
        return self.wait(rid, on_stream)

    def wait(self, rid: int, on_stream: OnStream | None = None) -> Any:
        while True:
            message = self.receive()
            if not isinstance(message, dict):
                continue
            if message.get("method") == "$/stream":
                params = message.get("params") or {}
                if params.get("id") == rid and on_stream is not None:
                    on_stream(params.get("data"))
                continue
            if message.get("id") is None and "error" in message:
                # Not about one request but about this connection (refused, unreadable).
                raise RpcError.from_rpc(message["error"])
            if message.get("id") != rid:
                continue
            if "error" in message:
                raise RpcError.from_rpc(message["error"])
            return message.get("result")

    def receive(self) -> Any:
        while not self._pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionClosed("the daemon closed the connection")
            self._pending.extend(decode_body(body) for body in self._decoder.feed(chunk))
        return self._pending.pop(0)
