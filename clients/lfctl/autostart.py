"""Find the daemon, or start it in the background (like ``emacsclient -a ''``)."""

from __future__ import annotations

import time
from pathlib import Path

from lfctl.client import Client
from localforge.paths import Paths
from localforge.runtime import lock_is_held, spawn_daemon

START_TIMEOUT_S = 60.0


class DaemonUnavailable(Exception):
    pass


def connect(paths: Paths, *, start: bool, socket_path: Path | None = None) -> Client:
    path = socket_path or paths.socket
    try:
        return Client.connect(path)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        if not start:
            raise DaemonUnavailable(
                f"lfd is not running (no daemon on {path}); start it with 'lfd serve' "
                "or drop --no-start"
            ) from exc
        if path != paths.socket:
            raise DaemonUnavailable(
                f"no daemon on {path}; lfctl only starts lfd on its own socket {paths.socket}"
            ) from exc
    return start_daemon(paths, path)


def start_daemon(paths: Paths, socket_path: Path) -> Client:
    """Start ``lfd serve`` detached and wait until its socket answers."""
    paths.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    out_path = paths.state_dir / "lfd.out"
    process = spawn_daemon(out_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            return Client.connect(socket_path)
        except (FileNotFoundError, ConnectionRefusedError):
            pass
        if process.poll() is not None and not lock_is_held(paths.lock):
            # Ours gave up and nobody else is starting one (when another lfctl won the
            # race, its daemon holds the lock and is the one to wait for).
            try:
                return Client.connect(socket_path)
            except (FileNotFoundError, ConnectionRefusedError):
                raise DaemonUnavailable(
                    f"lfd exited with status {process.returncode} while starting:\n"
                    + _tail(out_path)
                ) from None
        time.sleep(0.05)
    raise DaemonUnavailable(
        f"lfd did not open {socket_path} within {START_TIMEOUT_S:g}s; see {out_path}"
    )


def _tail(path: Path, lines: int = 10) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
