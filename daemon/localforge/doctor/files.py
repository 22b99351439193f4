"""This user's set-up: the config file, the socket directory, the embedding model."""

from __future__ import annotations

import fcntl
import os
import stat
import time
from pathlib import Path

from localforge.doctor.report import Check
from localforge.errors import LocalForgeError
from localforge.memory.embedder import (
    CACHE_DIR,
    DEFAULT_MODEL,
    DEFAULT_MODEL_DIR,
    MARKER,
    ONNX_PACKAGE,
    TOKENIZER_PACKAGE,
    Embedder,
    package_dir,
)
from localforge.paths import Paths
from localforge.settings import LoadedSettings, Settings, config_warnings

GROUP = "setup"


def config_checks(
    loaded: LoadedSettings | None, error: str | None, config_file: Path
) -> list[Check]:
    if loaded is None:
        return [
            Check(
                GROUP,
                "config",
                "fail",
                f"{config_file}: {error}",
                "fix the file ('lfctl config check FILE' says what is wrong); the checks below "
                "use the defaults",
            )
        ]
    where = str(loaded.config_file)
    source = "" if loaded.config_file_found else " (not found: defaults)"
    env = f"; environment: {', '.join(loaded.env_keys)}" if loaded.env_keys else ""
    checks = [Check(GROUP, "config", "ok", f"{where}{source}{env}: valid")]
    for warning in config_warnings(loaded.settings, loaded.config_file):
        checks.append(Check(GROUP, "config", "warn", warning))
    return checks


def socket_dir_check(paths: Paths, socket: Path | None = None) -> Check:
    """The socket's directory: a real directory, yours, 0700; and whether an lfd owns it."""
    socket = socket or paths.socket
    directory = socket.parent
    running = _daemon_pid(paths) if socket == paths.socket else None
    state = "lfd is not running" if running is None else f"lfd is running (pid {running or '?'})"
    data: dict[str, object] = {"path": str(directory), "running_pid": running}
    fallback = (
        "" if os.environ.get("XDG_RUNTIME_DIR") else " (XDG_RUNTIME_DIR unset: /tmp fallback)"
    )
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        return Check(
            GROUP,
            "socket dir",
            "ok",
            f"{directory} does not exist yet{fallback}: lfd creates it 0700 at start; {state}",
            data=data,
        )
    mode = stat.S_IMODE(info.st_mode)
    data.update(mode=f"{mode:04o}", uid=info.st_uid)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        what = "a symlink" if stat.S_ISLNK(info.st_mode) else "not a directory"
        return Check(
            GROUP, "socket dir", "fail", f"{directory} is {what}", f"remove {directory}", data
        )
    if info.st_uid != os.getuid():
        return Check(
            GROUP,
            "socket dir",
            "fail",
            f"{directory} is owned by uid {info.st_uid}, not by you (uid {os.getuid()})",
            "remove it, or set XDG_RUNTIME_DIR to a directory you own",
            data,
        )
    if mode & 0o077:
        return Check(
            GROUP,
            "socket dir",
            "fail",
            f"{directory} has mode {mode:04o}, open to other users: lfd refuses to start",
            f"chmod 700 {directory}",
            data,
        )
    detail = f"{directory}: {mode:04o}, yours{fallback}; {state}"
    try:
        sock = os.lstat(socket)
    except FileNotFoundError:
        return Check(GROUP, "socket dir", "ok", detail, data=data)
    sock_mode = stat.S_IMODE(sock.st_mode)
    data["socket_mode"] = f"{sock_mode:04o}"
    if not stat.S_ISSOCK(sock.st_mode) or sock_mode & 0o077 or sock.st_uid != os.getuid():
        return Check(
            GROUP,
            "socket dir",
            "warn",
            f"{detail}; but {socket} is not a private socket of yours (mode {sock_mode:04o})",
            f"stop lfd and remove {socket}; the next start makes a new one",
            data,
        )
    if running is None and socket == paths.socket:
        detail += f"; {socket.name} is left from an earlier run (the next start replaces it)"
    return Check(GROUP, "socket dir", "ok", detail, data=data)


def _daemon_pid(paths: Paths) -> int | None:
    """The pid of the lfd holding the instance lock (0: unknown), or None when none holds it."""
    try:
        fd = os.open(paths.lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = paths.lock.read_text().strip() if paths.lock.exists() else ""
        return int(text) if text.isdigit() else 0
    finally:
        os.close(fd)
    return None


def embedding_check(settings: Settings, paths: Paths) -> Check:
    """The embedding model's files, then one real embedding when they are there."""
    name = settings.embedding.model
    cache = paths.data_dir / CACHE_DIR
    if name != DEFAULT_MODEL:
        return Check(
            GROUP,
            "embedding",
            "ok",
            f"{name} (not the bundled default): fastembed fetches it into {cache} on first use, "
            "which needs a model hub; not loaded here",
        )
    model_dir = cache / DEFAULT_MODEL_DIR
    if not (model_dir / MARKER).is_file():
        try:
            sources = [package_dir(ONNX_PACKAGE), package_dir(TOKENIZER_PACKAGE)]
        except LocalForgeError as exc:
            return Check(GROUP, "embedding", "fail", exc.message, "run 'make setup'")
        return Check(
            GROUP,
            "embedding",
            "ok",
            f"{name}: not assembled yet; lfd assembles it into {model_dir} at start from "
            f"{', '.join(str(s) for s in sources)}",
        )
    try:
        embedder = Embedder.from_settings(settings.embedding, cache)
        started = time.perf_counter()
        embedder.embed_one("is the embedding model working?")
        ms = (time.perf_counter() - started) * 1000
    except LocalForgeError as exc:
        return Check(GROUP, "embedding", "fail", exc.message, "run 'make setup', then start lfd")
    except Exception as exc:  # onnxruntime and tokenizers raise their own types
        return Check(
            GROUP,
            "embedding",
            "fail",
            f"{name} in {model_dir} does not load: {exc}",
            f"remove {model_dir}; lfd assembles it again at start",
        )
    return Check(
        GROUP,
        "embedding",
        "ok",
        f"{name} ({embedder.dim}-dim, {embedder.graph} graph) in {model_dir}: {ms:.0f} ms "
        "for one query",
        data={
            "path": str(model_dir),
            "dim": embedder.dim,
            "graph": embedder.graph,
            "query_ms": round(ms, 1),
        },
    )
