"""What a door may use: a small typed object of Protocols, built by the composition root.

A door handler gets a ``Services`` and nothing else: no ``App``, no ``getattr``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from localforge.memory.sync import Progress
from localforge.routing.router import Decision
from localforge.serving.dashboard import Dashboard
from localforge.serving.service import Serving


class DaemonControl(Protocol):
    def status(self) -> dict[str, Any]: ...

    def reload(self) -> dict[str, Any]:
        """Re-read the config: ``{reloaded, config_file, file_found, changed, restart_needed}``."""
        ...

    def config_report(self) -> dict[str, Any]: ...

    def request_shutdown(self) -> None: ...


class RoutingView(Protocol):
    async def route(
        self, text: str, *, model: str | None = None, kind: str = "chat", record: bool = True
    ) -> Decision: ...

    async def classify(self, text: str) -> dict[str, Any]: ...

    async def replay(self, overrides: list[str], *, last: int, seed: int = 0) -> dict[str, Any]: ...

    async def tune(self, *, last: int, seed: int = 0) -> dict[str, Any]: ...


class MemoryView(Protocol):
    async def stats(self) -> dict[str, Any]: ...

    async def forget(
        self,
        *,
        older_than_days: float | None = None,
        model: str | None = None,
        everything: bool = False,
    ) -> dict[str, Any]: ...

    async def export(self, path: Path, *, vectors: bool = True) -> dict[str, Any]: ...

    async def import_(self, path: Path) -> dict[str, Any]: ...

    async def rebuild(
        self, progress: Callable[[Progress], None] | None = None
    ) -> dict[str, Any]: ...


class MetricsView(Protocol):
    def http_request(self, endpoint: str, method: str, status: int, seconds: float) -> None: ...

    async def render(self) -> bytes:
        """The Prometheus text format of every metric."""
        ...


@dataclass(frozen=True)
class Services:
    daemon: DaemonControl
    serving: Serving
    routing: RoutingView
    memory: MemoryView
    metrics: MetricsView
    log_file: Path  # named in internal errors, whose details only the log has
    dashboard: Dashboard | None = None  # the live view: decisions, models, learning
