"""What the serving core needs from the services below it, as Protocols.

The daemon passes the real model manager, catalogue and router; unit tests pass
small fakes. Nothing here imports a door.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, Unpack

from localforge.memory.embedder import Embedded
from localforge.models.catalogue.registry import BrokenModel
from localforge.models.catalogue.spec import ModelSpec
from localforge.models.catalogue.store import MeasuredScore
from localforge.models.runtime.calls import ChatOptions, CodeContext, CodeOptions, Completion
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
        self, spec: ModelSpec, messages: Sequence[dict[str, str]], **options: Unpack[ChatOptions]
    ) -> Completion: ...

    async def complete_code(
        self, spec: ModelSpec, prefix: str, suffix: str = "", **options: Unpack[CodeOptions]
    ) -> Completion: ...

    async def prefill_code(
        self, spec: ModelSpec, prefix: str, suffix: str = "", **options: Unpack[CodeContext]
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


class Embeds(Protocol):
    """The daemon's embedding model (the memory's), for doors that serve embeddings."""

    async def embed_texts(self, texts: Sequence[str]) -> Embedded: ...


class Observer(Protocol):
    """Hears what the serving core decides and how each answer went (the metrics)."""

    def routed(self, kind: str, model: str, trace: Mapping[str, Any]) -> None: ...

    def answered(self, kind: str, model: str, result: Mapping[str, Any]) -> None: ...

    def failed(self, kind: str, model: str | None, error: str) -> None: ...

    def feedback(self, kind: str) -> None: ...


class NoObserver:
    def routed(self, kind: str, model: str, trace: Mapping[str, Any]) -> None:
        pass

    def answered(self, kind: str, model: str, result: Mapping[str, Any]) -> None:
        pass

    def failed(self, kind: str, model: str | None, error: str) -> None:
        pass

    def feedback(self, kind: str) -> None:
        pass


StoreReport = Callable[[Any], Awaitable[int]]
