"""The model catalogue: every model the daemon can serve, kept live as files and config change.

Sources, in order of precedence when names collide: ``[[models]]`` in the
config, models added with ``lfctl models add PATH`` (kept in SQLite), ``.gguf``
files found under ``model_dirs`` / ``LOCALFORGE_MODEL_DIRS``, and — only while
nothing else is registered — the bundled Gemma 3 270M.

A file that cannot be used (missing, not GGUF, truncated, corrupt) never stops
the registry: it is listed as broken with the reason and the fix. Subscribers
hear "added", "removed" and "changed" with the spec concerned; the model
manager unloads a removed model once its in-flight work is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localforge.errors import InvalidParams, LocalForgeError, ModelError, NotFound
from localforge.models.catalogue import store
from localforge.models.catalogue.benchmarks import MEASURED_AS, measured_benchmarks
from localforge.models.catalogue.bundled import bundled_gguf
from localforge.models.catalogue.spec import ModelSpec
from localforge.models.catalogue.spec_build import spec_from_file, spec_from_url
from localforge.models.catalogue.watcher import Watcher, file_is_settled, is_candidate_file
from localforge.models.gguf.info import SPLIT_PART
from localforge.settings import ModelEntry, Settings, resolve_config_path
from localforge.storage.database import Database

log = logging.getLogger(__name__)

BUNDLED_NAME = "gemma3-270m"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$")

Listener = Callable[[str, ModelSpec], None]


@dataclass(frozen=True)
class BrokenModel:
    name: str
    path: Path | None
    source: str
    reason: str

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path) if self.path else None,
            "source": self.source,
            "broken": True,
            "reason": self.reason,
        }


@dataclass
class _Scan:
    specs: dict[str, ModelSpec] = field(default_factory=dict)
    broken: dict[str, BrokenModel] = field(default_factory=dict)
    pending: list[Path] = field(default_factory=list)
    recheck_in: float | None = None
    measured: dict[str, dict[str, store.MeasuredScore]] = field(default_factory=dict)


class ModelRegistry:
    name = "registry"

    def __init__(
        self,
        settings: Callable[[], Settings],
        storage: Database | None = None,
        *,
        config_file: Callable[[], Path | None] | None = None,
        bundled: Callable[[], Path] | None = bundled_gguf,
        settle_s: float = 1.0,
        watch: bool = True,
    ) -> None:
        self._settings = settings
        self._storage = storage
        self._config_file = config_file or (lambda: None)
        self._bundled = bundled
        self._bundled_path: Path | None = None
        self._bundled_error: str | None = None
        self.settle_s = settle_s
        self._watch = watch
        self._specs: dict[str, ModelSpec] = {}
        self._broken: dict[str, BrokenModel] = {}
        self._pending: list[Path] = []
        self._added: dict[str, Path] = {}
        self._measured: dict[str, dict[str, store.MeasuredScore]] = {}
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()
        self._watcher: Watcher | None = None
        self._recheck: asyncio.TimerHandle | None = None
        self._refresh_task: asyncio.Task[None] | None = None
        self._started = False
        self._stopping = False

    # --- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        if self._storage is not None:
            self._added = await self._storage.run(store.load_added)
            self._measured = await self._storage.run(store.load_measured)
        await self.refresh()
        if self._watch:
            loop = asyncio.get_running_loop()
            self._watcher = Watcher(loop, self._schedule_refresh, lambda: None)
            self._rewatch()
        self._started = True

    async def stop(self) -> None:
        self._stopping = True
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self._recheck is not None:
            self._recheck.cancel()
        task = self._refresh_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._started = False

    def status(self) -> dict[str, Any]:
        state = "ready" if self._started else "stopped"
        by_source: dict[str, int] = {}
        for spec in self._specs.values():
            by_source[spec.source] = by_source.get(spec.source, 0) + 1
        counts = ", ".join(f"{n} {source}" for source, n in sorted(by_source.items()))
        parts = [f"{len(self._specs)} model(s)" + (f" ({counts})" if counts else "")]
        if self._broken:
            parts.append(f"{len(self._broken)} broken")
            state = "degraded" if self._started and not self._specs else state
        if self._pending:
            parts.append(f"{len(self._pending)} file(s) still being written")
        if not self._specs and self._bundled_error:
            parts.append(self._bundled_error)
        if self._watcher is not None:
            watching = self._watcher.watching
            parts.append(
                f"watching {len(watching['dirs'])} model dir(s)"
                + (" and the config file" if watching["config"] else "")
            )
        return {
            "state": state,
            "detail": ", ".join(parts),
            "models": sorted(self._specs),
            "broken": sorted(self._broken),
            "watching": self._watcher.watching if self._watcher else None,
        }

    # --- queries -------------------------------------------------------------

    def get(self, name: str) -> ModelSpec:
        spec = self._specs.get(name)
        if spec is not None:
            return spec
        broken = self._broken.get(name)
        if broken is not None:
            raise ModelError(f"model '{name}' is broken: {broken.reason}")
        known = ", ".join(sorted(self._specs)) or "none"
        raise NotFound(f"no model named '{name}'; known models: {known} (lfctl models list)")

    def specs(self) -> list[ModelSpec]:
        return [self._specs[name] for name in sorted(self._specs)]

    def broken(self) -> list[BrokenModel]:
        return [self._broken[name] for name in sorted(self._broken)]

    def find(self, name: str) -> ModelSpec | BrokenModel | None:
        return self._specs.get(name) or self._broken.get(name)

    @property
    def pending(self) -> list[Path]:
        return list(self._pending)

    def measured(self, name: str) -> dict[str, store.MeasuredScore]:
        return dict(self._measured.get(name, {}))

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event, spec)`` on every change; returns a function that unsubscribes."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    # --- changes ---------------------------------------------------------------

    async def add(self, path: Path | str, name: str | None = None) -> ModelSpec:
        """Register a GGUF file by path (kept across restarts); the file must be readable now."""
        path = Path(path).expanduser().resolve()
        name = name or _name_for_file(path)
        if not NAME_PATTERN.match(name):
            raise InvalidParams(
                f"model name {name!r} is not allowed: use letters, digits and . _ : + - "
                "(pass --name to choose one)"
            )
        existing = self.find(name)
        if existing is not None and name not in self._added:
            where = existing.source
            raise InvalidParams(
                f"a model named '{name}' already exists (from {where}): "
                "pass --name to choose another"
            )
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: spec_from_file(name, path, source="added"))
        self._added[name] = path
        if self._storage is not None:
            await self._storage.run(lambda conn: store.save_added(conn, name, path))
        await self.refresh()
        return self.get(name)

    async def remove(self, name: str) -> dict[str, Any]:
        """Forget a model added by path; other sources say how to remove them."""
        if name in self._added:
            del self._added[name]
            if self._storage is not None:
                await self._storage.run(lambda conn: store.delete_added(conn, name))
            await self.refresh()
            return {"removed": name}
        found = self.find(name)
        if found is None:
            self.get(name)  # raises NotFound with the known names
        assert found is not None
        if found.source == "config":
            raise InvalidParams(
                f"model '{name}' comes from the config file: delete its [[models]] entry "
                "(the daemon reloads the file on save)"
            )
        if found.source == "dir":
            raise InvalidParams(
                f"model '{name}' was found in a model directory: move {found.path} out of it "
                "and it is unregistered"
            )
        raise InvalidParams(
            f"'{name}' is the bundled model, used while no other model is registered: "
            "add or configure a model and it steps aside"
        )

    async def set_measured(self, name: str, scores: dict[str, store.MeasuredScore]) -> None:
        """New eval scores for ``name``: its spec is rebuilt and subscribers hear "changed"."""
        self._measured[name] = dict(scores)
        await self.refresh()

    async def refresh(self) -> None:
        """Re-read every source and tell subscribers what changed."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            settings = self._settings()
            added, measured = dict(self._added), dict(self._measured)
            scan = await loop.run_in_executor(None, self._scan, settings, added, measured)
            old = self._specs
            self._specs, self._broken, self._pending = scan.specs, scan.broken, scan.pending
            self._notify_changes(old, scan.specs)
            if scan.recheck_in is not None:
                self._schedule_recheck(scan.recheck_in)
        if self._watcher is not None:
            self._rewatch()

    def _notify_changes(self, old: dict[str, ModelSpec], new: dict[str, ModelSpec]) -> None:
        for name in sorted(old.keys() - new.keys()):
            log.info("model %s unregistered", name)
            self._emit("removed", old[name])
        for name in sorted(new.keys() - old.keys()):
            log.info("model %s registered (%s)", name, new[name].source)
            self._emit("added", new[name])
        for name in sorted(new.keys() & old.keys()):
            if new[name] != old[name]:
                log.info("model %s changed", name)
                self._emit("changed", new[name])

    def _emit(self, event: str, spec: ModelSpec) -> None:
        for listener in list(self._listeners):
            try:
                listener(event, spec)
            except Exception:
                log.exception("registry listener failed on %s %s", event, spec.name)

    # --- scanning (runs in a worker thread) -------------------------------------

    def _scan(
        self,
        settings: Settings,
        added: dict[str, Path],
        measured: dict[str, dict[str, store.MeasuredScore]],
    ) -> _Scan:
        scan = _Scan(measured=measured)
        base = self._config_dir()
        for entry in settings.models:
            self._scan_entry(scan, entry, base)
        for name, path in added.items():
            if name in scan.specs or name in scan.broken:
                log.warning("added model %s is shadowed by a config entry of the same name", name)
                continue
            self._scan_file(scan, name, path, "added")
        for directory in settings.model_dirs:
            self._scan_dir(scan, resolve_config_path(directory, base))
        if not scan.specs and self._bundled is not None:
            self._scan_bundled(scan)
        return scan

    def _scan_entry(self, scan: _Scan, entry: ModelEntry, base: Path | None) -> None:
        if entry.url is not None:
            measured, source = self._measured_for(scan, entry.name)
            scan.specs[entry.name] = spec_from_url(entry, measured=measured, measured_source=source)
            return
        assert entry.path is not None
        self._scan_file(scan, entry.name, resolve_config_path(entry.path, base), "config", entry)

    def _scan_file(
        self, scan: _Scan, name: str, path: Path, source: str, entry: ModelEntry | None = None
    ) -> None:
        measured, msource = self._measured_for(scan, name)
        try:
            scan.specs[name] = spec_from_file(
                name, path, source=source, entry=entry, measured=measured, measured_source=msource
            )
        except LocalForgeError as exc:
            log.warning("model %s (%s) is unusable: %s", name, path, exc.message)
            scan.broken[name] = BrokenModel(name, path, source, exc.message)

    def _scan_dir(self, scan: _Scan, directory: Path) -> None:
        if not directory.is_dir():
            log.warning("model directory %s does not exist: create it or fix model_dirs", directory)
            return
        try:
            files = sorted(p for p in directory.rglob("*") if p.is_file() and is_candidate_file(p))
        except OSError as exc:
            log.warning("cannot list model directory %s: %s", directory, exc)
            return
        for path in files:
            shard = SPLIT_PART.search(path.name)
            if (shard and shard.group(1) != "00001") or "mmproj" in path.name.lower():
                continue  # later shards load with the first; projectors are not chat models
            settled, wait = file_is_settled(path, self.settle_s)
            if not settled:
                scan.pending.append(path)
                scan.recheck_in = min(scan.recheck_in or wait, wait) + 0.05
                continue
            name = _name_for_file(path)
            if name in scan.specs or name in scan.broken:
                taken = scan.specs.get(name) or scan.broken[name]
                if taken.path != path:
                    log.warning(
                        "%s: the name %s is taken by %s; rename the file", path, name, taken.path
                    )
                continue
            self._scan_file(scan, name, path, "dir")

    def _scan_bundled(self, scan: _Scan) -> None:
        assert self._bundled is not None
        if self._bundled_path is None:
            try:
                self._bundled_path = self._bundled()
                self._bundled_error = None
            except LocalForgeError as exc:
                self._bundled_error = exc.message
                log.warning("%s", exc.message)
                return
            except Exception as exc:
                self._bundled_error = f"the bundled model could not be assembled: {exc}"
                log.warning("%s", self._bundled_error)
                return
        self._scan_file(scan, BUNDLED_NAME, self._bundled_path, "bundled")

    def _measured_for(
        self, scan: _Scan, name: str
    ) -> tuple[dict[str, float] | None, dict[str, str]]:
        rows = scan.measured.get(name)
        if not rows:
            return None, {}
        values = measured_benchmarks({c: row.score for c, row in rows.items()})
        sources = {}
        for category, row in rows.items():
            key = MEASURED_AS.get(category)
            if key is not None:
                date = datetime.fromtimestamp(row.measured_at, UTC).strftime("%Y-%m-%d")
                sources[key] = (
                    f"lfctl models eval {date}: {category} {row.passed}/{row.total} tasks"
                )
        return values, sources

    def _config_dir(self) -> Path | None:
        path = self._config_file()
        return path.parent if path is not None else None

    # --- watching ----------------------------------------------------------------

    def _rewatch(self) -> None:
        assert self._watcher is not None
        base = self._config_dir()
        dirs = [resolve_config_path(d, base) for d in self._settings().model_dirs]
        try:
            self._watcher.watch(dirs, None)  # the config file is the daemon's to watch
        except OSError as exc:
            log.warning("cannot watch model directories: %s", exc)

    def _schedule_refresh(self) -> None:
        if self._stopping:
            return
        if self._refresh_task is not None and not self._refresh_task.done():
            # One refresh is running; it reads the tree afresh, but a change may have
            # landed after its scan, so queue one more.
            self._refresh_task.add_done_callback(lambda _: self._schedule_refresh())
            return
        self._refresh_task = asyncio.get_running_loop().create_task(self._refresh_logged())

    async def _refresh_logged(self) -> None:
        try:
            await self.refresh()
        except Exception:
            log.exception("model registry refresh failed")

    def _schedule_recheck(self, delay: float) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
        self._recheck = asyncio.get_running_loop().call_later(delay, self._schedule_refresh)

    # --- settings ----------------------------------------------------------------

    restart_keys: tuple[str, ...] = ()  # model_dirs and [[models]] apply at once

    def settings_changed(self, changed: Sequence[str]) -> None:
        """The settings changed: re-read the sources (model_dirs, [[models]]) and re-watch."""
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to refresh yet
            self._schedule_refresh()


def _name_for_file(path: Path) -> str:
    stem = path.name[: -len(".gguf")] if path.name.lower().endswith(".gguf") else path.name
    stem = SPLIT_PART.sub("", path.name) if SPLIT_PART.search(path.name) else stem
    stem = re.sub(r"[^A-Za-z0-9._:+-]+", "-", stem).strip("-.") or "model"
    return stem.lower()[:128]
