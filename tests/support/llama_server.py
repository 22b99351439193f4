"""llama-cpp-python's own OpenAI-compatible server on loopback: a real remote backend.

Where normal mode crashes on this CPU it runs without llama.cpp's extra buffer types, as a
user of such a machine would have to run it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.support.cpu_kernels import normal_mode_crashes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def llama_server(
    model: Path, log: Path, *, n_ctx: int = 512, alias: str | None = None
) -> Iterator[str]:
    """Serve ``model`` on 127.0.0.1; yields the base URL once ``/v1/models`` answers."""
    port = free_port()
    server = "tests.support.safe_llama_server" if normal_mode_crashes(model) else "llama_cpp.server"
    args = [
        sys.executable, "-m", server,
        "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_gpu_layers", "0",
    ]  # fmt: skip
    if alias:
        args += ["--model_alias", alias]
    with log.open("ab") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"llama_cpp.server exited: {log.read_text(errors='replace')[-2000:]}"
                )
            try:
                with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as response:
                    json.load(response)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise TimeoutError("llama_cpp.server did not start within 120 s") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
