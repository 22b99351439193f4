"""Embedded vector index: one Qdrant Edge shard in the data dir (``qdrant-edge-py``, pinned).

Qdrant Edge writes every update to its write-ahead log before applying it, so
an update that returned survives ``kill -9``. It takes an exclusive lock on the
WAL; a second process opening the shard gets ``IndexLocked`` naming the path.
Index optimisation (HNSW building, segment merging) holds the GIL for its whole
run, so it never runs in the daemon: ``optimize_offline`` copies the flushed
shard, optimises the copy in a child process (``localforge.memory.edge_optimize``)
while the live shard keeps serving, then swaps the copy in after replaying the
writes it missed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from localforge.errors import Unavailable
from localforge.memory.store import (
    IndexCorrupt,
    IndexLocked,
    MemoryPoint,
    Neighbour,
    check_vector,
    disk_usage,
    scroll_outcomes,
)

log = logging.getLogger(__name__)

UPSERT_BATCH = 1024
WARM_BATCH = 4096
HNSW_M = 16
HNSW_EF_CONSTRUCT = 64


def _edge() -> Any:
    try:
        import qdrant_edge
    except ImportError as exc:
        raise Unavailable(
            "qdrant-edge-py is not installed; run 'make setup' (it installs the 'full' extra)"
        ) from exc
    return qdrant_edge


class EdgeStore:
    """One Qdrant Edge shard. Calls come from the memory service's store thread, except
    ``search``, which may come from any thread (the shard serves reads during writes): the
    shard is closed and reopened (optimisation swap, reset, close) only under ``_open_lock``,
    which ``search`` takes too."""

    backend = "qdrant-edge"
    concurrent_search = True

    def __init__(self, path: Path, dim: int, *, search_threads: int = 1) -> None:
        self.path = path
        self.dim = dim
        self.location = str(path)
        self.search_threads = search_threads
        self._shard: Any = None
        self._journal: list[Callable[[], None]] | None = None
        self._open_lock = threading.RLock()

    # --- lifecycle --------------------------------------------------------

    def open(self) -> None:
        with self._open_lock:
            self._open()
        self.warm()

    def warm(self) -> int:
        """Read every point's payload once; return how many.

        A freshly opened shard reads payloads cold: its first hundred searches took 3-4 ms at
        p50 and up to 30 ms at p99 at 100k points, against 1 ms once warm (a search returns
        its neighbours' payloads). One pass over them (0.6 s at 100k points) warms it. It
        runs outside the open lock, so searches go on meanwhile.
        """
        qe = _edge()
        seen, offset = 0, None
        while True:
            shard = self._shard
            if shard is None:  # closed meanwhile
                return seen
            try:
                page, offset = shard.scroll(
                    qe.ScrollRequest(
                        offset=offset, limit=WARM_BATCH, with_payload=True, with_vector=False
                    )
                )
            except Exception:  # reopened meanwhile: warming is only an optimisation
                log.debug("warming %s stopped", self.path, exc_info=True)
                return seen
            seen += len(page)
            if offset is None:
                return seen

    def _open(self) -> None:
        qe = _edge()
        config = edge_config(self.dim, self.search_threads)
        fresh = not (self.path / "edge_config.json").exists()
        try:
            if fresh:
                if self.path.exists():
                    shutil.rmtree(self.path)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._shard = qe.EdgeShard.create(str(self.path), config)
                self._create_indexes()
            else:
                self._shard = qe.EdgeShard.load(str(self.path), config)
        except Exception as exc:  # qdrant-edge raises plain Exception with a message
            text = str(exc)
            if "WouldBlock" in text or "lock" in text.lower():
                raise IndexLocked(
                    f"the vector index {self.path} is locked by another process; stop the other "
                    "lfd (or program) using it, or point XDG_DATA_HOME elsewhere"
                ) from exc
            raise IndexCorrupt(f"cannot open the vector index {self.path}: {text}") from exc

    def _create_indexes(self) -> None:
        qe = _edge()
        self._shard.update(
            qe.UpdateOperation.create_field_index("model", qe.PayloadSchemaType.Keyword)
        )
        self._shard.update(
            qe.UpdateOperation.create_field_index("outcome", qe.PayloadSchemaType.Float)
        )

    def close(self) -> None:
        with self._open_lock:
            if self._shard is not None:
                try:
                    self._shard.flush()
                finally:
                    self._shard.close()
                    self._shard = None

    @property
    def shard(self) -> Any:
        if self._shard is None:
            raise Unavailable(f"the vector index {self.path} is not open")
        return self._shard

    # --- writes -----------------------------------------------------------

    def upsert(self, points: Sequence[MemoryPoint]) -> None:
        qe = _edge()
        self._remember(lambda: self.upsert(points))
        for start in range(0, len(points), UPSERT_BATCH):
            chunk = points[start : start + UPSERT_BATCH]
            batch = [qe.Point(p.id, check_vector(p.vector, self.dim), p.payload()) for p in chunk]
            self.shard.update(qe.UpdateOperation.upsert_points(batch))

    def set_outcome(self, point_id: str, outcome: float | None) -> None:
        qe = _edge()
        self._remember(lambda: self.set_outcome(point_id, outcome))
        self.shard.update(qe.UpdateOperation.set_payload([point_id], {"outcome": outcome}))

    def delete(self, ids: Sequence[str]) -> None:
        qe = _edge()
        self._remember(lambda: self.delete(ids))
        for start in range(0, len(ids), UPSERT_BATCH):
            self.shard.update(
                qe.UpdateOperation.delete_points(list(ids[start : start + UPSERT_BATCH]))
            )

    def reset(self) -> None:
        with self._open_lock:
            self._journal = None  # an optimisation in flight now works on stale data
            self.close()
            shutil.rmtree(self.path, ignore_errors=True)
            self.open()  # empty: nothing to warm

    # --- reads ------------------------------------------------------------

    def search(self, vector: np.ndarray, limit: int, models: Sequence[str]) -> list[Neighbour]:
        qe = _edge()
        must: list[Any] = [qe.FieldCondition(key="outcome", range=qe.RangeFloat(gte=0.0))]
        if models:
            must.append(qe.FieldCondition(key="model", match=qe.MatchAny(list(models))))
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(check_vector(vector, self.dim)),
            with_payload=True,
            filter=qe.Filter(must=must),
        )
        with self._open_lock:
            found = self.shard.query(request)
        return [Neighbour.from_payload(p.id, p.score, p.payload or {}) for p in found]

    def count(self) -> int:
        qe = _edge()
        return int(self.shard.count(qe.CountRequest(exact=True)))

    def scan(self, batch: int = 2048) -> Iterator[list[tuple[str, float | None]]]:
        qe = _edge()
        yield from scroll_outcomes(
            lambda offset: self.shard.scroll(
                qe.ScrollRequest(
                    offset=offset, limit=batch, with_payload=["outcome"], with_vector=False
                )
            )
        )

    def unindexed(self) -> int:
        info = self.shard.info()
        return max(int(info.points_count) - int(info.indexed_vectors_count), 0)

    def optimize(self) -> bool:
        """Optimise in place, in this process (holds the GIL: only for tools and tests)."""
        return bool(self.shard.optimize())

    # --- optimisation in a child process -----------------------------------

    @property
    def _copy_path(self) -> Path:
        return self.path.with_name(self.path.name + ".optimizing")

    @property
    def _old_path(self) -> Path:
        return self.path.with_name(self.path.name + ".old")

    def cleanup_leftovers(self) -> None:
        for leftover in (self._copy_path, self._old_path):
            shutil.rmtree(leftover, ignore_errors=True)

    def begin_offline_optimize(self) -> Path:
        """Flush, copy the shard aside and start journaling writes; return the copy's path."""
        self.shard.flush()
        copy = self._copy_path
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(self.path, copy)
        self._journal = []
        return copy

    def abort_offline_optimize(self) -> None:
        self._journal = None
        shutil.rmtree(self._copy_path, ignore_errors=True)

    def finish_offline_optimize(self) -> int:
        """Swap the optimised copy in, replaying the writes made meanwhile; return how many."""
        with self._open_lock:
            replayed = self._swap_in_optimized()
        self.warm()
        return replayed

    def _swap_in_optimized(self) -> int:
        if self._journal is None:  # reset meanwhile: the copy is stale
            shutil.rmtree(self._copy_path, ignore_errors=True)
            return 0
        journal, self._journal = self._journal, None
        self.close()
        os.replace(self.path, self._old_path)
        os.replace(self._copy_path, self.path)
        try:
            self._open()
        except Exception:
            log.exception("optimised index did not open; keeping the previous one")
            shutil.rmtree(self.path, ignore_errors=True)
            os.replace(self._old_path, self.path)
            self._open()
            return 0
        for replay in journal:
            replay()
        shutil.rmtree(self._old_path, ignore_errors=True)
        return len(journal)

    def disk_bytes(self) -> int:
        return disk_usage(self.path)

    def _remember(self, replay: Callable[[], None]) -> None:
        if self._journal is not None:
            self._journal.append(replay)


def edge_config(dim: int, search_threads: int = 1) -> Any:
    qe = _edge()
    return qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine),
        hnsw_config=qe.HnswIndexConfig(
            m=HNSW_M,
            ef_construct=HNSW_EF_CONSTRUCT,
            full_scan_threshold=10_000,
            max_indexing_threads=1,
        ),
        max_search_threads=search_threads,
    )


def optimize_command(path: Path) -> list[str]:
    return [sys.executable, "-m", "localforge.memory.edge_optimize", str(path)]


def run_optimize_process(path: Path, timeout_s: float = 3600.0) -> None:
    """Optimise a (copied) shard in a child process at low priority; raise on failure."""
    result = subprocess.run(
        optimize_command(path),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        preexec_fn=lower_priority,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"optimising {path} failed: {result.stderr.strip()[-500:]}")


def lower_priority() -> None:
    """Run in the child before exec: optimisation yields the CPU to serving."""
    os.nice(10)


async def optimize_in_child(copy: Path) -> None:
    """Run the optimiser on ``copy`` in a child process; cancelling kills the child."""
    process = await asyncio.create_subprocess_exec(
        *optimize_command(copy),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=lower_priority,
    )
    try:
        _, stderr = await process.communicate()
    except BaseException:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        detail = stderr.decode(errors="replace").strip()[-500:]
        raise RuntimeError(f"optimising {copy} failed (exit {process.returncode}): {detail}")
