"""A model's place in the pool (its slot) and a request's place in the queue (its ticket)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from localforge.models.catalogue.spec import ModelSpec
from localforge.models.runtime.residency import ModelView
from localforge.models.runtime.worker import LoadInfo, OnProgress, WorkerProcess

OVERHEAD_BYTES = 64 * 1024 * 1024


def estimate_memory(spec: ModelSpec) -> int:
    """The spec's own figure, else the file size plus a fixed overhead."""
    if spec.memory_bytes:
        return int(spec.memory_bytes)
    try:
        size = spec.path.stat().st_size if spec.path else 0
    except OSError:
        size = 0
    return int(size * 1.1) + OVERHEAD_BYTES


@dataclass
class Slot:
    spec: ModelSpec
    device: str
    memory_bytes: int
    state: str = "absent"  # absent | loading | idle | busy | unloading
    worker: WorkerProcess | None = None
    last_used: float = 0.0
    loaded_at: float | None = None
    load_info: LoadInfo | None = None
    pinned: bool = False
    safe_reason: str | None = None  # why it loads in safe mode; None: normal mode
    retire: bool = False  # unload as soon as idle (file removed or changed)
    since: float = 0.0  # monotonic time it became resident
    load_s: float = 0.0  # expected load time, for the planner's turn length
    listeners: list[OnProgress] = field(default_factory=list)
    load_progress: float = 0.0  # of the load under way, for the dashboard

    def progress(self, value: float) -> None:
        """Tell everyone waiting for this model how far its load is (0..1)."""
        self.load_progress = value
        for listener in list(self.listeners):
            listener(value)

    def view(self, default_ttl_s: float | None = None) -> ModelView:
        ttl = self.spec.ttl_s if self.spec.ttl_s is not None else default_ttl_s
        return ModelView(
            self.spec.name,
            self.device,
            self.memory_bytes,
            self.state,
            self.pinned,
            self.last_used,
            ttl,
            self.since,
            self.load_s,
        )


@dataclass
class Ticket:
    seq: int
    model: str
    arrived: float
    future: asyncio.Future[WorkerProcess]


def load_key(spec: ModelSpec) -> tuple[object, ...]:
    """What a worker was loaded with; a spec that differs here needs a reload."""
    return (spec.path, spec.url, spec.n_ctx, spec.n_gpu_layers, spec.memory_bytes)
