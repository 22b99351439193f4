"""The daemon's footing on disk: a private runtime directory and one instance per user.

The runtime directory must be a real directory owned by the user with no
group or world bits; otherwise another local user could race us to the socket.
A ``flock`` on a lock file decides which daemon owns the socket, so a socket left
behind by ``kill -9`` is replaced safely and ten daemons started at once leave
exactly one running.
"""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import time
from collections.abc import MutableMapping
from pathlib import Path

from localforge.errors import StartupError


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` as 0700, or refuse (naming the problem) if it is not safe."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StartupError(f"cannot create {path}: {exc.strerror}") from exc
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise StartupError(f"{path} is a symlink; remove it so lfd can create a private directory")
    if not stat.S_ISDIR(info.st_mode):
        raise StartupError(f"{path} is not a directory; remove it and start again")
    if info.st_uid != os.getuid():
        raise StartupError(
            f"{path} is owned by uid {info.st_uid}, not by you (uid {os.getuid()}); "
            "remove it or set XDG_RUNTIME_DIR to a directory you own"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise StartupError(
            f"{path} has mode {mode:04o}, open to other users; "
            f"run 'chmod 700 {path}' and start again"
        )


# Environment defaults that keep libraries from writing or sending anything of their own:
# onnxruntime (under fastembed and qdrant-client) otherwise keeps a telemetry device id in
# ~/.cache/Microsoft/DeveloperTools/ from the moment it is imported.
PRIVATE_ENV = {"ORT_DISABLE_TELEMETRY": "1"}


def keep_third_parties_private(env: MutableMapping[str, str] | None = None) -> None:
    """Set ``PRIVATE_ENV`` where the user has not chosen otherwise; call before any import."""
    env = os.environ if env is None else env
    for key, value in PRIVATE_ENV.items():
        env.setdefault(key, value)


class InstanceLock:
    """An exclusive ``flock`` held for the daemon's lifetime; the file holds the owner's pid."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = self.owner_pid()
            owner = f"pid {pid}" if pid else "pid unknown"
            raise StartupError(f"already running ({owner}) on {self.what}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def owner_pid(self, wait_s: float = 1.0) -> int | None:
        """The pid written by the holder; waits briefly for a holder that just won the lock."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                text = self.path.read_text().strip()
            except OSError:
                text = ""
            if text.isdigit():
                return int(text)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def release(self) -> None:
        if self._fd is None:
            return
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def lock_is_held(path: Path) -> bool:
    """True while some lfd holds the instance lock at ``path`` (it may still be starting).

    A missing or unreadable lock file means no holder, and so does a lock that a shared
    ``flock`` can take at once; only a lock refused as busy counts as held.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def spawn_daemon(out_path: Path) -> subprocess.Popen[bytes]:
    """Start ``lfd serve`` detached: its own session, no stdin, output appended to ``out_path``.

    The output file is the user's alone (0600, also when it existed): it can hold prompts.
    """
    fd = os.open(out_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "localforge", "serve"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
