"""What the serving core needs from the services below it, as Protocols.

The daemon passes the real model manager, catalogue and router; unit tests pass
small fakes. Nothing here imports a door.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Protocol

from localforge.models.catalogue.registry import BrokenModel
from localforge.models.catalogue.spec import ModelSpec
from localforge.models.catalogue.store import MeasuredScore
from localforge.models.runtime.fim import ContextChunk
from localforge.models.runtime.manager import Completion
from localforge.routing.router import Decision

OnToken = Callable[[str], None]
OnProgress = Callable[[float], None]


class Catalogue(Protocol):
    """The registered models, the files that are broken, and what was measured of each."""

    def get(self, name: str) -> ModelSpec: ...

    def specs(self) -> list[ModelSpec]: ...

    def find(self, name: str) -> ModelSpec | BrokenModel | None: ...

    def broken(self) -> list[BrokenModel]: ...

    @property
    def pending(self) -> list[Path]: ...

    def measured(self, name: str) -> dict[str, MeasuredScore]: ...

    async def add(self, path: Path | str, name: str | None = None) -> ModelSpec: ...

    async def remove(self, name: str) -> dict[str, Any]: ...


class Runner(Protocol):
    """Runs requests on models: loads them, generates, and defers bookkeeping."""

    async def chat(
        self,
        spec: ModelSpec,
        messages: Sequence[dict[str, str]],
        *,
        on_token: OnToken | None = None,
        on_progress: OnProgress | None = None,
        max_tokens: int = 512,
        temperature: float = 0.7,
        stop: Sequence[str] = (),
    ) -> Completion: ...

    async def complete_code(
        self,
        spec: ModelSpec,
        prefix: str,
        suffix: str = "",
        *,
        on_token: OnToken | None = None,
        on_progress: OnProgress | None = None,
        max_tokens: int = 128,
        temperature: float = 0.2,
        stop: Sequence[str] = (),
        extra: Sequence[ContextChunk] = (),
        language: str | None = None,
        path: str | None = None,
        stop_pattern: str | None = None,
    ) -> Completion: ...

    async def prefill_code(
        self,
        spec: ModelSpec,
        prefix: str,
        suffix: str = "",
        *,
        extra: Sequence[ContextChunk] = (),
        language: str | None = None,
        path: str | None = None,
        max_tokens: int = 128,
    ) -> dict[str, Any]: ...

    async def load(self, name: str, on_progress: OnProgress | None = None) -> dict[str, Any]: ...

    def resident(self) -> list[str]: ...

    def runtime_facts(self, spec: ModelSpec) -> dict[str, Any]:
        """``{"safe_mode": {"on", "reason"}, "health": {...}}`` for one model."""
        ...

    async def unload(self, name: str) -> bool: ...

    def pin(self, name: str, on: bool) -> dict[str, Any]: ...

    def defer(self, coro: Coroutine[Any, Any, Any]) -> None: ...


class Routes(Protocol):
    """Decides which model answers, and hears how the request went."""

    async def route(
        self,
        text: str,
        *,
        model: str | None = None,
        kind: str = "chat",
        record: bool = True,
        among: Sequence[str] | None = None,
    ) -> Decision: ...

    async def record_result(
        self, request_id: str, *, model: str, latency_ms: float, ok: bool, error: str | None = None
    ) -> None: ...

    async def prepare(self, text: str) -> dict[str, Any]:
        """Embed and classify a text ahead of routing it."""
        ...


class Outcomes(Protocol):
    """Where a user's verdict on an answer goes (the memory)."""

    async def record_outcome(
        self, request_id: str, kind: str, value: float | None
    ) -> dict[str, Any]: ...


StoreReport = Callable[[Any], Awaitable[int]]
