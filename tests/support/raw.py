"""A raw socket to the daemon for tests that must send bytes no well-behaved client would.

Also a healthy client in a process of its own (``Pinger``), so that what it measures is the
daemon and not the garbage collector of a test process holding thousands of answers:

    python -m tests.support.raw ping SOCKET INTERVAL_S   # until stdin closes; JSON out
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
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

    def answers(self, count: int) -> list[Any]:
        """The next ``count`` answers (single ones or batches), skipping stream notifications."""
        found: list[Any] = []
        while len(found) < count:
            message = self.read()
            if not (isinstance(message, dict) and "method" in message):
                found.append(message)
        return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


class Pinger:
    """``daemon.status`` every ``interval_s`` from another process; ``stop()`` gives the result.

    The result: ``{"latencies_ms": [...], "errors": [...]}``; an error is any answer that is
    not the expected result (wrong id, an error, a closed connection).
    """

    def __init__(self, path: Path, interval_s: float = 0.005) -> None:
        root = Path(__file__).resolve().parents[2]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.raw", "ping", str(path), str(interval_s)],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def stop(self) -> dict[str, Any]:
        out, _ = self.process.communicate(timeout=60)
        result: dict[str, Any] = json.loads(out)
        return result


def _ping(path: str, interval_s: float) -> None:
    latencies: list[float] = []
    errors: list[str] = []
    with Raw(Path(path), timeout=10) as conn:
        for i in range(10**9):
            if select.select([sys.stdin], [], [], 0)[0]:
                break  # stdin closed (or written to): stop
            started = time.perf_counter()
            try:
                answer = conn.call("daemon.status", rid=i)
            except (OSError, EOFError) as exc:
                errors.append(repr(exc))
                break
            latencies.append((time.perf_counter() - started) * 1000)
            if answer.get("id") != i or "result" not in answer:
                errors.append(repr(answer)[:200])
            time.sleep(interval_s)
    print(json.dumps({"latencies_ms": latencies, "errors": errors}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["ping"]:
        _ping(sys.argv[2], float(sys.argv[3]))
