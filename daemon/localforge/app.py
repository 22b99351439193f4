"""Composition root: build the services, then startup → serve → shutdown.

Services are created here and nowhere else. Each one is started in order after
storage and stopped in reverse. Doors (the socket) get a typed ``Services`` of
what they may use, never the ``App``.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localforge import __version__
from localforge.config_watch import ConfigWatch
from localforge.errors import ConfigError
from localforge.memory.service import MemoryService
from localforge.models.catalogue.bundled import bundled_gguf
from localforge.models.catalogue.registry import ModelRegistry
from localforge.models.evaluation.runner import EvalReport, store_report
from localforge.models.runtime.manager import ModelManager
from localforge.paths import Paths
from localforge.routing.classifier import ClassifierService
from localforge.routing.query import Classifies
from localforge.routing.router import Router
from localforge.rpc.dispatch import MethodTable
from localforge.rpc.methods import all_methods
from localforge.rpc.server import RpcServer
from localforge.runtime import InstanceLock, ensure_private_dir
from localforge.service import Service
from localforge.serving.context import Services
from localforge.serving.dashboard import Dashboard
from localforge.serving.decisions import DecisionFeed
from localforge.serving.insights import Insights
from localforge.serving.metrics import Metrics, Sources
from localforge.serving.service import Serving
from localforge.settings import HTTP_RESTART_KEYS, LoadedSettings, Settings, load_settings
from localforge.storage.database import Database

if TYPE_CHECKING:
    from localforge.http.server import HttpServer

log = logging.getLogger(__name__)


class App:
    def __init__(
        self,
        paths: Paths,
        loaded: LoadedSettings,
        *,
        flags: Mapping[str, str] | None = None,
        config_file: Path | None = None,
        socket_lock: InstanceLock | None = None,
    ) -> None:
        self.paths = paths
        self.loaded = loaded
        self.flags = dict(flags or {})
        self.config_file = config_file
        self.started_at = time.time()
        self.storage = Database(paths.database, self.settings.storage)
        self.services: list[Service] = [self.storage]
        # The model catalogue; it starts before anything that serves or routes models.
        self.registry = ModelRegistry(
            lambda: self.settings,
            self.storage,
            config_file=lambda: self.loaded.config_file,
            bundled=functools.partial(bundled_gguf, paths.cache_dir),
        )
        self.services.append(self.registry)
        # Prometheus metrics: fed by the serving core and the doors, read by /metrics.
        self.metrics = Metrics(
            Sources(
                models_status=lambda: self.manager.status(),
                memory_points=lambda: self.memory.points(),
                in_flight=lambda: self.serving.in_flight,
            )
        )
        # Model workers and residency; the router's source of candidates.
        self.manager = ModelManager(
            lambda: self.settings,
            self.registry,
            self.storage,
            paths.state_dir,
            on_load=self.metrics.loaded,
        )
        self.services.append(self.manager)
        # The task classifier (artifact loaded at start); the router asks it for every query.
        self.classifier = ClassifierService(lambda: self.settings.classifier)
        self.services.append(self.classifier)
        # Interactions, embeddings and the vector index; then the router that uses them.
        self.memory = MemoryService(self.storage, paths.data_dir, lambda: self.settings)
        self.services.append(self.memory)
        self.router = Router(
            self.memory, self.manager, lambda: self.settings, self._task_classifier
        )
        self.services.append(self.router)
        # The one request path every door calls; it publishes each decision to the live feed.
        self.decisions = DecisionFeed()
        self.serving = Serving(
            self.registry,
            self.manager,
            lambda: self.settings,
            router=self.router,
            outcomes=self.memory,
            store_report=self._store_report,
            embedder=self.memory,
            observer=self.metrics,
            decisions=self.decisions,
        )
        insights = Insights(self.storage, self.memory.stats)
        self.dashboard = Dashboard(self.serving, self.decisions, insights, self.manager.status)
        self.doors = Services(
            daemon=self,
            serving=self.serving,
            routing=self.router,
            memory=self.memory,
            metrics=self.metrics,
            log_file=paths.log_file,
            dashboard=self.dashboard,
        )
        self.rpc = RpcServer(
            self.doors,
            MethodTable(all_methods()),
            paths.socket,
            max_frame_bytes=self.settings.daemon.max_frame_bytes,
            idle_frame_timeout_s=self.settings.daemon.idle_frame_timeout_s,
        )
        # The opt-in HTTP door (OpenAI, Ollama, llama-server, /metrics): same Services.
        self.http: HttpServer | None = None
        if self.settings.http.listen:
            from localforge.http.server import HttpServer

            self.http = HttpServer(self.doors, lambda: self.settings.http)
        self._socket_lock = socket_lock or InstanceLock(paths.lock, str(paths.socket))
        self._data_lock = InstanceLock(paths.data_dir / "lfd.lock", f"data dir {paths.data_dir}")
        self._stop = asyncio.Event()
        self.config_watch = ConfigWatch(lambda: self.loaded.config_file, self.reload_settings)
        self.changed_on_reload: list[str] = []
        self.restart_needed: list[str] = []  # changed since start, applied only by a restart
        self._at_start = _values(loaded)

    def _task_classifier(self) -> Classifies:
        classifier: Classifies = self.classifier.classifier
        return classifier

    async def _store_report(self, report: EvalReport) -> int:
        return await store_report(self.registry, self.storage, report)

    @property
    def settings(self) -> Settings:
        return self.loaded.settings

    # --- lifecycle --------------------------------------------------------

    async def serve(self) -> None:
        self._claim()
        try:
            if self.http is not None:
                self.http.check()  # an unsafe listen address is refused before anything starts
            await self._start_services()
            # Models, tokenizers and libraries loaded at start live as long as the daemon:
            # keep them out of the cyclic GC, whose full passes over them stall every client.
            gc.collect()
            gc.freeze()
            await self.rpc.start()
            await self._start_http()
            self.config_watch.start()
            self._install_signal_handlers()
            log.info("lfd %s ready (pid %d)", __version__, os.getpid())
            await self._stop.wait()
            log.info("shutting down")
            self.decisions.close()  # live feeds end, so they do not wait out the grace period
            self.config_watch.stop()
            if self.http is not None:
                await self.http.close(self.settings.daemon.shutdown_grace_s)
            await self.rpc.close(self.settings.daemon.shutdown_grace_s)
            await self._stop_services()
        finally:
            self._socket_lock.release()
            self._data_lock.release()
        log.info("stopped")

    async def _start_http(self) -> None:
        if self.http is None:
            return
        try:
            await self.http.start()
        except BaseException:
            await self.rpc.close(0)
            await self._stop_services()
            raise

    def _claim(self) -> None:
        """Private runtime dir, one daemon per socket and per data dir; then the other dirs."""
        ensure_private_dir(self.paths.runtime_dir)
        if not self._socket_lock.held:
            self._socket_lock.acquire()
        try:
            for directory in (self.paths.data_dir, self.paths.state_dir):
                directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._data_lock.acquire()
        except BaseException:
            self._socket_lock.release()
            raise

    async def _start_services(self) -> None:
        started: list[Service] = []
        for service in self.services:
            log.info("starting %s", service.name)
            try:
                await service.start()
            except BaseException:
                await self._stop_services(started)  # leave nothing half-open behind
                raise
            started.append(service)

    async def _stop_services(self, services: list[Service] | None = None) -> None:
        for service in reversed(self.services if services is None else services):
            try:
                await service.stop()
            except Exception:
                log.exception("error while stopping %s", service.name)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_shutdown)

    def request_shutdown(self) -> None:
        """Stop after the current event-loop turn, so the caller's answer is sent first."""
        asyncio.get_running_loop().call_soon(self._stop.set)

    # --- DaemonControl: what doors may ask of the daemon itself ----------------

    def reload(self) -> dict[str, Any]:
        loaded = self.reload_settings()
        return {
            "reloaded": True,
            "config_file": str(loaded.config_file),
            "file_found": loaded.config_file_found,
            "changed": self.changed_on_reload,
            "restart_needed": self.restart_needed,
        }

    def config_report(self) -> dict[str, Any]:
        return self.loaded.report()

    def reload_settings(self) -> LoadedSettings:
        """Re-read config; on any error keep the old settings and raise ConfigError."""
        try:
            loaded = load_settings(self.paths, flags=self.flags, config_file=self.config_file)
        except ConfigError as exc:
            raise ConfigError(
                f"config not reloaded, the previous one stays in force: {exc.message}"
            ) from exc
        before, now = _values(self.loaded), _values(loaded)
        self.loaded = loaded
        changed = sorted(key for key, value in now.items() if before.get(key) != value)
        self.changed_on_reload = changed
        # Each service applies what it reads per use and names what it only reads at start.
        for service in self.services:
            service.settings_changed(changed)
        self.restart_needed = [
            key
            for key, value in sorted(now.items())
            if self._at_start.get(key) != value
            and any(_covers(prefix, key) for prefix in self._restart_keys())
        ]
        logging.getLogger().setLevel(loaded.settings.daemon.log_level.upper())
        self.rpc.max_frame_bytes = loaded.settings.daemon.max_frame_bytes
        self.rpc.idle_frame_timeout_s = loaded.settings.daemon.idle_frame_timeout_s
        self.config_watch.error = None
        self.config_watch.rewatch()
        log.info(
            "configuration reloaded from %s; changed: %s",
            loaded.config_file,
            ", ".join(self.changed_on_reload) or "nothing",
        )
        if self.restart_needed:
            log.warning("these apply at the next start: %s", ", ".join(self.restart_needed))
        return loaded

    def _restart_keys(self) -> list[str]:
        return [*HTTP_RESTART_KEYS, *(key for s in self.services for key in s.restart_keys)]

    @functools.cached_property
    def _where(self) -> dict[str, Any]:
        """The parts of ``status`` that never change (status is a hot path for monitors)."""
        return {
            "socket": str(self.paths.socket),
            "dirs": {
                "config": str(self.paths.config_dir),
                "data": str(self.paths.data_dir),
                "state": str(self.paths.state_dir),
                "cache": str(self.paths.cache_dir),
                "runtime": str(self.paths.runtime_dir),
            },
            "log_file": str(self.paths.log_file),
        }

    def status(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_at, 3),
            **self._where,
            "config": {
                "file": str(self.loaded.config_file),
                "file_found": self.loaded.config_file_found,
                "env": self.loaded.env_keys,
                "flags": sorted(self.flags),
                "error": self.config_watch.error,
                "restart_needed": self.restart_needed,
            },
            "services": {
                **{service.name: service.status() for service in self.services},
                **({"http": self.http.status()} if self.http is not None else {}),
            },
        }


def _values(loaded: LoadedSettings) -> dict[str, Any]:
    return {row["key"]: row["value"] for row in loaded.describe()}


def _covers(prefix: str, key: str) -> bool:
    """``storage.`` covers every storage key; a full key covers itself and its sub-keys."""
    return (
        key.startswith(prefix)
        if prefix.endswith(".")
        else key == prefix or key.startswith(prefix + ".")
    )


def run_daemon(
    paths: Paths,
    loaded: LoadedSettings,
    flags: Mapping[str, str],
    config_file: Path | None,
    socket_lock: InstanceLock | None = None,
) -> int:
    """Run until shutdown; return the process exit code.

    A refusal to start (unsafe directory, already running, …) propagates as a
    ``LocalForgeError`` so that ``lfd`` prints it plainly and exits 1.
    """

    async def main() -> None:
        app = App(paths, loaded, flags=flags, config_file=config_file, socket_lock=socket_lock)
        await app.serve()

    asyncio.run(main())
    return 0
