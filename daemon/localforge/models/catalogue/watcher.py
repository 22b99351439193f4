"""Watch model directories and the config file with watchdog; report changes on the event loop.

watchdog calls back on its own thread; every event is handed to the event loop
with ``call_soon_threadsafe`` and debounced there, so a burst of writes (a copy
in progress, an editor's save-by-rename) becomes one callback after things go
quiet. Deciding whether a file is complete is the registry's job
(``file_is_settled``); this module only says "something changed here".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger(__name__)

# Suffixes of files still being written by downloaders and copy tools.
PARTIAL_SUFFIXES = (
    ".part",
    ".tmp",
    ".partial",
    ".crdownload",
    ".download",
    ".incomplete",
    ".aria2",
)


def is_candidate_file(path: Path) -> bool:
    """A finished-looking ``.gguf`` file (not hidden, not a download in progress)."""
    name = path.name.lower()
    if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES):
        return False
    return name.endswith(".gguf")


def file_is_settled(path: Path, settle_s: float, now: float | None = None) -> tuple[bool, float]:
    """(settled, seconds until it could be): unchanged for ``settle_s`` means the writer is done."""
    try:
        stat = path.stat()
    except OSError:
        return False, settle_s
    age = (time.time() if now is None else now) - stat.st_mtime
    if age >= settle_s:
        return True, 0.0
    return False, settle_s - age


class _Handler(FileSystemEventHandler):
    def __init__(self, notify: Callable[[str], None]) -> None:
        self._notify = notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if raw:
                self._notify(os.fsdecode(raw))


class Watcher:
    """Debounced change notifications for a set of directories and one config file."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_models_changed: Callable[[], None],
        on_config_changed: Callable[[], None],
        *,
        debounce_s: float = 0.3,
    ) -> None:
        self._loop = loop
        self._on_models = on_models_changed
        self._on_config = on_config_changed
        self._debounce_s = debounce_s
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._key: tuple[object, ...] | None = None
        self._dirs: tuple[Path, ...] = ()
        self._config: Path | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}

    @property
    def watching(self) -> dict[str, Any]:
        return {
            "dirs": [str(d) for d in self._dirs],
            "config": str(self._config) if self._config else None,
        }

    def watch(self, dirs: Iterable[Path], config_file: Path | None) -> None:
        """(Re)start watching; directories that do not exist are skipped (and logged)."""
        dirs = tuple(dict.fromkeys(dirs))
        exists = tuple(d.is_dir() for d in dirs)
        config_dir_exists = config_file is not None and config_file.parent.is_dir()
        # Directories that appear later are picked up at the next call.
        key = (dirs, exists, config_file, config_dir_exists)
        if self._observer is not None and key == self._key:
            return
        self.stop()
        observer = Observer()
        watched: list[Path] = []
        for directory, is_dir in zip(dirs, exists, strict=True):
            if not is_dir:
                log.warning("model directory %s does not exist; not watching it", directory)
                continue
            observer.schedule(_Handler(self._from_thread("models")), str(directory), recursive=True)
            watched.append(directory)
        if config_file is not None and config_dir_exists:
            target = str(config_file)
            observer.schedule(
                _Handler(self._from_thread("config", only=target)),
                str(config_file.parent),
                recursive=False,
            )
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._key = key
        self._dirs = tuple(watched)
        self._config = config_file if config_dir_exists else None
        log.info("watching %d model dir(s) and %s", len(watched), config_file or "no config file")

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    def _from_thread(self, kind: str, only: str | None = None) -> Callable[[str], None]:
        def notify(path: str) -> None:
            if only is not None and path != only:
                return
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                self._loop.call_soon_threadsafe(self._debounce, kind)

        return notify

    def _debounce(self, kind: str) -> None:
        timer = self._timers.pop(kind, None)
        if timer is not None:
            timer.cancel()
        self._timers[kind] = self._loop.call_later(self._debounce_s, self._fire, kind)

    def _fire(self, kind: str) -> None:
        self._timers.pop(kind, None)
        callback = self._on_models if kind == "models" else self._on_config
        try:
            callback()
        except Exception:
            log.exception("error handling a %s change", kind)
