"""`lfctl top` against a real daemon: in a pseudo-terminal, through a pipe, and as JSON."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import select
import shlex
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lfctl.client import RpcError
from tests.support.daemon import DaemonProcess, Home, lfctl, run_daemon, temp_home
from tests.support.http import GEMMA_CONFIG, gemma_path

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-B]|[=>78])")
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def running() -> Iterator[DaemonProcess]:
    with temp_home() as home:
        home.write_config(GEMMA_CONFIG.format(gemma=gemma_path(), residency="", extra=""))
        with run_daemon(home) as daemon:
            yield daemon


def chat(daemon: DaemonProcess) -> dict[str, object]:
    params = {"messages": QUESTION, "max_tokens": 4, "stream": False}
    result: dict[str, object] = daemon.call("chat.complete", params)
    return result


def test_top_json_is_one_snapshot_of_models_budget_and_decisions(running: DaemonProcess) -> None:
    done = lfctl(running.home, "top", "--json")
    assert done.returncode == 0, done.stderr
    snapshot = json.loads(done.stdout)
    assert [m["name"] for m in snapshot["models"]] == ["gemma"]
    assert snapshot["budgets"] and snapshot["budgets"][0]["budget_bytes"] > 0
    assert {"requests_per_s", "queue_depth", "in_flight", "decisions"} <= set(snapshot)


def test_top_through_a_pipe_prints_one_snapshot_and_exits(running: DaemonProcess) -> None:
    answered = chat(running)
    done = lfctl(running.home, "top", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stdout  # no terminal: no colours, no cursor movement
    assert "req/s" in done.stdout and "gemma" in done.stdout
    assert "socket" in done.stdout and str(answered["task_type"]) in done.stdout
    assert str(answered["request_id"])[:8] in done.stdout


def readme_section() -> str:
    text = README.read_text()
    return text.split("\n## Watching the routing", 1)[1].split("\n## ", 1)[0]


def test_the_readme_lfctl_top_examples_run_as_written(running: DaemonProcess) -> None:
    [block, *_] = re.findall(r"```sh\n(.*?)```", readme_section(), flags=re.S)
    lines = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert lines == ["lfctl top --once", "lfctl top --json"]
    for line in lines:
        done = lfctl(running.home, *shlex.split(line)[1:])
        assert done.returncode == 0, (line, done.stderr)
        assert "gemma" in done.stdout
    json.loads(done.stdout)


def test_top_in_a_terminal_renders_updates_live_and_quits_on_q(running: DaemonProcess) -> None:
    with Terminal(running.home) as term:
        term.wait_for("q quits")
        term.wait_for("gemma")
        answered = chat(running)
        # The new decision is drawn without a key press: the view follows the feed.
        term.wait_for(str(answered["request_id"])[:8])
        term.send("q")
        assert term.wait_exit(10) == 0


class Terminal:
    """`lfctl top` on a pseudo-terminal of 120x40, read as it draws."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.output = ""

    def __enter__(self) -> Terminal:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {**self.home.env, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lfctl.main", "top", "--interval", "0.3"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)

    def read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            with contextlib.suppress(OSError):  # OSError: the child closed the terminal
                self.output += os.read(self.master, 65536).decode(errors="replace")

    def text(self) -> str:
        return ANSI.sub("", self.output)

    def wait_for(self, needle: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not drawn in {timeout}s:\n{self.text()[-3000:]}")
            if self.process.poll() is not None:
                raise AssertionError(f"lfctl top exited {self.process.returncode}:\n{self.text()}")
            self.read(0.2)

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self.read(0.1)
        return self.process.wait(timeout=1)


def test_route_decisions_streams_each_decision_until_cancelled(running: DaemonProcess) -> None:
    batches: list[dict[str, Any]] = []
    with running.client(timeout=60) as follower:
        rid = follower.send_request("route.decisions", {"backlog": 0})
        first = follower.receive()  # the backlog batch: the subscription is in place
        assert first["method"] == "$/stream" and first["params"]["id"] == rid
        answered = chat(running)
        while not any(
            e.get("type") == "result" and e["request_id"] == answered["request_id"]
            for b in batches
            for e in b["events"]
        ):
            message = follower.receive()
            if message.get("method") == "$/stream":
                batches.append(message["params"]["data"])
        events = [e for b in batches for e in b["events"]]
        decision = next(e for e in events if e["type"] == "decision")
        assert decision["request_id"] == answered["request_id"]
        assert decision["model"] == "gemma" and decision["door"] == "socket"
        assert {"benchmark", "memory", "latency", "feedback"} <= set(decision["signals"][0])
        follower.cancel(rid)
        with pytest.raises(RpcError, match="cancelled"):
            follower.wait(rid)
    snapshot = running.call("dashboard.snapshot", {"decisions": 0})
    assert snapshot["feed"]["subscribers"] == 0


def test_shutdown_ends_open_subscriptions_instead_of_waiting_out_the_grace() -> None:
    with temp_home() as home:
        home.write_config("[daemon]\nshutdown_grace_s = 30\n")
        daemon = DaemonProcess(home).start()
        try:
            with daemon.client(timeout=30) as follower:
                rid = follower.send_request("route.decisions", {})
                follower.receive()  # subscribed
                started = time.monotonic()
                daemon.call("daemon.shutdown")
                assert follower.wait(rid) == {"closed": True, "reason": "lfd is shutting down"}
            assert daemon.process is not None
            assert daemon.process.wait(20) == 0
            assert time.monotonic() - started < 10
        finally:
            daemon.stop()
