"""Run a real ``lfd serve`` in a subprocess on a short temporary XDG tree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lfctl.client import Client
from localforge.paths import Paths


@dataclass
class Home:
    """An isolated set of XDG directories (short, so socket paths stay under 108 bytes)."""

    root: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALFORGE_")}
        env.update(
            XDG_RUNTIME_DIR=str(self.root / "run"),
            XDG_CONFIG_HOME=str(self.root / "cfg"),
            XDG_DATA_HOME=str(self.root / "data"),
            XDG_STATE_HOME=str(self.root / "state"),
            PYTHONUNBUFFERED="1",
            LOCALFORGE_ROUTING_SEED="0",  # posterior draws repeat, so decisions do
        )
        env.update(self.extra_env)
        return env

    @property
    def paths(self) -> Paths:
        return Paths.from_env(self.env)

    def write_config(self, text: str) -> Path:
        path = self.paths.config_file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path


def two_models_config(gemma: Path, residency: str, extra: str = "") -> str:
    """One GGUF registered twice, as "writer" and "coder", under the given [residency] lines."""
    return f"""
[residency]
{residency}

[[models]]
name = "writer"
path = "{gemma}"
n_ctx = 512

[[models]]
name = "coder"
path = "{gemma}"
n_ctx = 512
{extra}
"""


@contextmanager
def temp_home(extra_env: Mapping[str, str] | None = None) -> Iterator[Home]:
    with tempfile.TemporaryDirectory(prefix="lf", dir="/tmp") as root:
        run = Path(root) / "run"
        run.mkdir(mode=0o700)
        yield Home(Path(root), dict(extra_env or {}))


class DaemonProcess:
    def __init__(self, home: Home, args: list[str] | None = None) -> None:
        self.home = home
        self.args = args or []
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True, timeout: float = 60.0) -> DaemonProcess:
        with (self.home.root / "daemon.out").open("ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [sys.executable, "-m", "localforge", "serve", *self.args],
                env=self.home.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"lfd exited with {self.process.returncode}:\n{self.output()}")
            try:
                with self.client() as client:
                    client.call("daemon.status")
                return
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.05)
        raise TimeoutError(f"lfd did not answer within {timeout}s:\n{self.output()}")

    def client(self, timeout: float | None = 30.0) -> Client:
        return Client.connect(self.home.paths.socket, timeout=timeout)

    def call(self, method: str, params: Any = None) -> Any:
        with self.client() as client:
            return client.call(method, params)

    def output(self) -> str:
        path = self.home.root / "daemon.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 30.0) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()


@contextmanager
def run_daemon(home: Home, args: list[str] | None = None) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(home, args).start()
    try:
        yield daemon
    finally:
        daemon.stop()


def lfctl(
    home: Home, *args: str, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lfctl.main", *args],
        env=home.env,
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
    )
