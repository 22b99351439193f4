"""lfctl top: resident models and budget, the latest decisions, requests/s and queue depth.

On a terminal it redraws once a ``--interval`` (the decisions arrive as they happen
through a ``route.decisions`` subscription on a second connection) until ``q``;
anywhere else (a pipe, a file, ``--once``) it prints one snapshot, and ``--json``
prints ``dashboard.snapshot`` as JSON. It speaks only the Unix socket, so it works
with the HTTP door off, and over SSH.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import socket
import sys
import termios
import threading
import time
import tty
from collections.abc import Iterator
from typing import Any

from lfctl.autostart import connect
from lfctl.client import Client, ConnectionClosed, RpcError
from lfctl.context import Context

PIPE_WIDTH = 160
QUIT_KEYS = {"q", "Q", "\x03"}  # q, or Ctrl-C in cbreak mode


def top(ctx: Context) -> int:
    snapshot = ctx.call("dashboard.snapshot", {"decisions": ctx.args.rows})
    if ctx.json:
        ctx.emit_json(snapshot)
        return 0
    try:
        from rich.console import Console
    except ImportError:
        print(
            "lfctl: lfctl top needs the rich package: pip install 'localforge[full]'",
            file=sys.stderr,
        )
        return 1
    from lfctl.top_view import Decisions, render

    decisions = Decisions()
    decisions.apply(snapshot.get("decisions", ()))
    console = Console()
    if ctx.args.once or not (sys.stdin.isatty() and console.is_terminal):
        if not console.is_terminal and "COLUMNS" not in os.environ:
            console = Console(width=PIPE_WIDTH)  # a file or pipe: no terminal to fit
        console.print(render(snapshot, decisions, rows=ctx.args.rows))
        return 0
    return _live(ctx, console, snapshot, decisions)


def _live(ctx: Context, console: Any, snapshot: dict[str, Any], decisions: Any) -> int:
    from rich.live import Live

    from lfctl.top_view import render

    follower = Follower(lambda: connect(ctx.paths, start=False, socket_path=ctx.args.socket))
    follower.start()
    interval = max(0.1, ctx.args.interval)
    try:
        with _keys() as key, Live(console=console, screen=True, auto_refresh=False) as live:
            while True:
                with follower.lock:
                    decisions.apply(follower.take_events(), follower.take_skipped())
                rows = max(3, console.size.height - 12 - len(snapshot.get("models", ())))
                view = render(snapshot, decisions, rows=rows, connected=follower.connected)
                live.update(view, refresh=True)
                if key(interval) in QUIT_KEYS:
                    return 0
                snapshot = ctx.call("dashboard.snapshot", {"decisions": 0})
    finally:
        follower.stop()


@contextlib.contextmanager
def _keys() -> Iterator[Any]:
    """Keys from the terminal without waiting for Enter; ``key(timeout)`` is one or ""."""
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def key(timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                data = os.read(fd, 32).decode(errors="replace")
                if not data:
                    return "q"  # the terminal went away
                for char in data:
                    if char in QUIT_KEYS:
                        return char
        return ""

    try:
        yield key
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class Follower(threading.Thread):
    """Follows ``route.decisions`` on its own connection; reconnects when it drops."""

    def __init__(self, connect_: Any) -> None:
        super().__init__(name="lfctl-top-decisions", daemon=True)
        self.connect = connect_
        self.lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self.skipped = 0
        self.connected = False
        self._stopped = threading.Event()
        self._client: Client | None = None

    def run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._client = self.connect()
                self.connected = True
                self._client.call("route.decisions", {"backlog": 0}, on_stream=self._on_stream)
            except (ConnectionClosed, OSError, RpcError):
                pass
            finally:
                self.connected = False
            self._stopped.wait(1.0)

    def _on_stream(self, data: Any) -> None:
        with self.lock:
            self.events.extend(data.get("events") or ())
            self.skipped += int(data.get("skipped") or 0)
            del self.events[:-500]  # bounded while the view is not drawn

    def take_events(self) -> list[dict[str, Any]]:
        events, self.events = self.events, []
        return events

    def take_skipped(self) -> int:
        skipped, self.skipped = self.skipped, 0
        return skipped

    def stop(self) -> None:
        self._stopped.set()
        client = self._client
        if client is not None:
            with contextlib.suppress(OSError):
                client.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread's recv
            client.close()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("top", help="live view: resident models, budget, decisions, requests/s")
    p.add_argument("--json", action="store_true", help="print one snapshot as JSON")
    p.add_argument("--once", action="store_true", help="print one snapshot and exit")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between redraws")
    p.add_argument("--rows", type=int, default=10, help="decisions shown (one snapshot)")
    p.set_defaults(func=top)
