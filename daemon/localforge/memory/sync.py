"""Keep the vector index in agreement with SQLite: open, rebuild, reconcile.

A manifest next to the index (``memory/index.json``) records which backend,
location, embedding model and dimension built it. At start the index is
rebuilt when it is unreadable, missing, or made with another model; otherwise
it is reconciled: points SQLite has and the index lacks are added, points the
index has and SQLite does not are removed, and after an unclean shutdown
outcomes are compared too. The index is scanned *before* SQLite is read, and
SQLite commits before the index is written, so a write racing the reconcile is
never mistaken for an extra point.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from localforge.memory import interactions as repo
from localforge.memory.edge_store import EdgeStore
from localforge.memory.embedder import Embedder
from localforge.memory.qdrant_store import QdrantClientStore
from localforge.memory.store import IndexCorrupt, MemoryPoint, VectorStore
from localforge.storage.database import Database

T = TypeVar("T")


class SyncHost(Protocol):
    """What keeping the index in step needs of the memory service that owns it."""

    data_dir: Path
    db: Database

    @property
    def embedder(self) -> Embedder: ...

    async def in_store(self, fn: Callable[[], T]) -> T: ...

    async def in_embed(self, fn: Callable[[], T]) -> T: ...


log = logging.getLogger(__name__)

BATCH = 1000
EMBED_BATCH = 64


@dataclass(frozen=True)
class Progress:
    phase: str  # "embedding" | "indexing"
    done: int
    total: int

    def as_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "done": self.done, "total": self.total}


class IndexSync:
    def __init__(self, service: SyncHost, store: VectorStore, embedding_model: str) -> None:
        self.service = service
        self.store = store
        self.embedding_model = embedding_model
        self.manifest_path = service.data_dir / "memory" / "index.json"
        self.progress: Progress | None = None

    # --- opening (runs on the store thread) ------------------------------------

    def expected_manifest(self) -> dict[str, Any]:
        return {
            "backend": self.store.backend,
            "location": self.store.location,
            "embedding_model": self.embedding_model,
            "dim": self.store.dim,
        }

    def open_store(self) -> str | None:
        """Open the index; return why it must be rebuilt from SQLite, or None."""
        store = self.store
        reason: str | None = None
        if isinstance(store, EdgeStore):
            store.cleanup_leftovers()
            if not (store.path / "edge_config.json").exists():
                reason = f"index directory {store.path} is missing"
        try:
            store.open()
        except IndexCorrupt as exc:
            log.warning(
                "vector index %s is unreadable (%s); rebuilding it from SQLite", store.location, exc
            )
            self._wipe()
            store.open()
            reason = f"index was unreadable: {exc.message}"
        manifest = self._read_manifest()
        expected = self.expected_manifest()
        if reason is None and manifest != expected:
            if manifest is None:
                reason = "index has no manifest"
            else:
                reason = (
                    f"index was built with {manifest.get('embedding_model')} "
                    f"({manifest.get('dim')}-dim) on {manifest.get('backend')}, "
                    f"now {self.embedding_model} ({store.dim}-dim) on {store.backend}"
                )
            store.reset()
        self._write_manifest(expected)
        return reason

    def _wipe(self) -> None:
        store = self.store
        if isinstance(store, EdgeStore | QdrantClientStore) and store.path is not None:
            store.close()
            shutil.rmtree(store.path, ignore_errors=True)

    def _read_manifest(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _write_manifest(self, data: dict[str, Any]) -> None:
        self.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, self.manifest_path)

    # --- rebuilding and reconciling (async, from the event loop) -----------------

    async def rebuild(
        self, *, reset: bool, progress: Callable[[Progress], None] | None = None
    ) -> dict[str, Any]:
        started = time.monotonic()
        service, model = self.service, self.embedding_model
        if reset:
            await service.in_store(self.store.reset)
        embedded = await self._embed_missing(progress)
        total = await service.db.run(lambda conn: repo.count(conn, model))
        done = 0
        cursor: tuple[float, str] = (-1.0, "")
        self._report(Progress("indexing", 0, total), progress)
        where = "embedding IS NOT NULL AND embedding_model = ?"
        while True:
            rows = await service.db.run(
                partial(repo.page, after=cursor, limit=BATCH, where=where, params=(model,))
            )
            if not rows:
                break
            points = [p for p in (r.point() for r in rows) if p is not None]
            await service.in_store(partial(self.store.upsert, points))
            done += len(rows)
            cursor = (rows[-1].created_at, rows[-1].request_id)
            self._report(Progress("indexing", done, total), progress)
        everything = await service.db.run(repo.count)
        seconds = time.monotonic() - started
        log.info(
            "vector index rebuilt from SQLite: %d points (%d re-embedded) in %.1fs",
            done,
            embedded,
            seconds,
        )
        return {
            "points": done,
            "embedded": embedded,
            "skipped_without_text": everything - done,
            "seconds": round(seconds, 3),
        }

    async def reconcile(self, *, check_outcomes: bool) -> dict[str, int]:
        service, model, store = self.service, self.embedding_model, self.store
        await self._embed_missing(None)
        expected = await service.db.run(lambda conn: repo.count(conn, model))
        held = await service.in_store(store.count)
        if not check_outcomes and expected == held:
            return {"added": 0, "removed": 0, "updated": 0}
        in_index: dict[str, float | None] = await service.in_store(
            lambda: {pid: outcome for batch in store.scan() for pid, outcome in batch}
        )
        in_sql = await service.db.run(lambda conn: repo.indexed_state(conn, model))
        missing = [rid for rid in in_sql if rid not in in_index]
        extra = [rid for rid in in_index if rid not in in_sql]
        changed = (
            [rid for rid, outcome in in_sql.items() if rid in in_index and in_index[rid] != outcome]
            if check_outcomes
            else []
        )
        todo = missing + changed
        for start in range(0, len(todo), BATCH):
            chunk = todo[start : start + BATCH]
            rows = await service.db.run(partial(repo.by_ids, ids=chunk))
            points: list[MemoryPoint] = [p for p in (r.point() for r in rows) if p is not None]
            await service.in_store(partial(store.upsert, points))
        if extra:
            await service.in_store(lambda: store.delete(extra))
        if todo or extra:
            log.warning(
                "vector index reconciled with SQLite: %d added, %d removed, %d outcomes updated",
                len(missing),
                len(extra),
                len(changed),
            )
        return {"added": len(missing), "removed": len(extra), "updated": len(changed)}

    async def _embed_missing(self, progress: Callable[[Progress], None] | None) -> int:
        """Embed rows whose vector is missing or from another model, when their text is kept."""
        service, model = self.service, self.embedding_model
        todo = await service.db.run(lambda conn: repo.to_embed(conn, model))
        if not todo:
            return 0
        embedder = service.embedder
        for start in range(0, len(todo), EMBED_BATCH):
            chunk = todo[start : start + EMBED_BATCH]
            vectors = await service.in_embed(partial(embedder.embed, [text for _, text in chunk]))
            pairs = [(rid, vectors[i]) for i, (rid, _) in enumerate(chunk)]
            await service.db.run(partial(repo.set_embeddings, rows=pairs, embedding_model=model))
            self._report(Progress("embedding", start + len(chunk), len(todo)), progress)
        return len(todo)

    def _report(self, state: Progress, progress: Callable[[Progress], None] | None) -> None:
        self.progress = state
        if progress is not None:
            progress(state)
