"""A raw socket to the daemon for tests that must send bytes no well-behaved client would."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from types import TracebackType
from typing import Any

from localforge.rpc import messages
from localforge.rpc.framing import FrameDecoder


def frame(body: bytes | str | Any) -> bytes:
    """Frame raw bytes, a string, or any JSON value."""
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


class Raw:
    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self._decoder = FrameDecoder(1 << 30)
        self._pending: list[Any] = []

    def __enter__(self) -> Raw:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str, params: Any = None, rid: int | str = 1) -> None:
        self.send(frame(messages.request(rid, method, params)))

    def read(self) -> Any:
        """The next message; raises EOFError if the daemon closed the connection."""
        while not self._pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed by the daemon")
            self._pending.extend(json.loads(body) for body in self._decoder.feed(chunk))
        return self._pending.pop(0)

    def expect_closed(self) -> None:
        """Assert the daemon closed the connection (after any messages already sent)."""
        try:
            extra = self.read()
        except (EOFError, ConnectionResetError):
            return
        raise AssertionError(f"expected the daemon to close the connection, got {extra!r}")

    def call(self, method: str, params: Any = None, rid: int | str = 1) -> Any:
        self.request(method, params, rid)
        return self.read()
