"""The vector index behind the memory: one interface, two real Qdrant backends.

The index is derived data. SQLite holds every interaction (with its vector);
a store only answers "which past queries look like this one" quickly, and can
always be rebuilt from SQLite. Point ids are the interactions' request ids
(UUIDs), so points from several daemons never collide in a shared server.

Both backends are synchronous; the memory service calls them on its own
worker thread, never on the event loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from localforge.errors import InvalidParams, LocalForgeError, Unavailable


class IndexCorrupt(LocalForgeError):
    """The on-disk index cannot be opened; the memory service rebuilds it from SQLite."""

    code = Unavailable.code


class IndexLocked(Unavailable):
    """Another process holds the index open."""


@dataclass(frozen=True)
class MemoryPoint:
    """One interaction as the index stores it."""

    id: str  # request id (UUID)
    vector: np.ndarray
    model: str
    task_type: str
    outcome: float | None
    timestamp: float  # unix seconds of the request
    latency_ms: float | None

    def payload(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "task_type": self.task_type,
            "outcome": self.outcome,
            "ts": self.timestamp,
            "latency_ms": self.latency_ms,
        }


@dataclass(frozen=True)
class Neighbour:
    """A past query found near the current one."""

    id: str
    similarity: float
    model: str
    task_type: str
    outcome: float
    timestamp: float
    latency_ms: float | None

    @classmethod
    def from_payload(cls, point_id: Any, score: float, payload: dict[str, Any]) -> Neighbour:
        return cls(
            id=str(point_id),
            similarity=float(score),
            model=str(payload.get("model", "")),
            task_type=str(payload.get("task_type", "")),
            outcome=float(payload.get("outcome") or 0.0),
            timestamp=float(payload.get("ts") or 0.0),
            latency_ms=_optional_float(payload.get("latency_ms")),
        )


class VectorStore(Protocol):
    backend: str
    dim: int
    location: str
    # True when ``search`` may run on any thread while the store thread writes, so that a
    # route decision searches on its embedding thread instead of hopping to the store thread.
    concurrent_search: bool

    def open(self) -> None:
        """Open or create; raise IndexCorrupt when unreadable, IndexLocked when held elsewhere."""

    def close(self) -> None: ...

    def upsert(self, points: Sequence[MemoryPoint]) -> None: ...

    def set_outcome(self, point_id: str, outcome: float | None) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def reset(self) -> None:
        """Drop every point (the next rebuild fills it again)."""

    def search(self, vector: np.ndarray, limit: int, models: Sequence[str]) -> list[Neighbour]:
        """Nearest points that have an outcome and belong to one of ``models``."""
        ...

    def count(self) -> int: ...

    def scan(self, batch: int = 2048) -> Iterator[list[tuple[str, float | None]]]:
        """Every point's id and outcome, in batches (used to reconcile with SQLite)."""
        ...

    def optimize(self) -> bool: ...

    def disk_bytes(self) -> int: ...


def check_vector(vector: np.ndarray, dim: int) -> list[float]:
    """Reject NaN/inf and wrong-dimension vectors before they reach a store."""
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or array.shape[0] != dim:
        raise InvalidParams(
            f"vector has shape {tuple(array.shape)}, the index expects ({dim},); "
            "was it made with another embedding model? run 'lfctl memory rebuild'"
        )
    if not np.isfinite(array).all():
        raise InvalidParams("vector contains NaN or infinity; it was not stored")
    values: list[float] = array.tolist()
    return values


def scroll_outcomes(
    page: Callable[[Any], tuple[Sequence[Any], Any]],
) -> Iterator[list[tuple[str, float | None]]]:
    """Follow a Qdrant scroll from the first page to the last, yielding each point's id and outcome.

    ``page(offset)`` returns one page of records and the offset of the next (None after the last).
    """
    offset: Any = None
    while True:
        records, offset = page(offset)
        if records:
            yield [(str(r.id), (r.payload or {}).get("outcome")) for r in records]
        if offset is None:
            return


def disk_usage(path: Path | None) -> int:
    """Bytes the files under ``path`` occupy on disk (0 when there is no such directory)."""
    if path is None or not path.exists():
        return 0
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())


def _optional_float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number
