"""Service "memory": embeddings, the vector index, and interactions in SQLite.

SQLite is the truth. ``remember`` commits an interaction (with its vector)
before the caller acknowledges anything; the index is updated afterwards on the
store thread and is reconciled with SQLite at every start: rebuilt when it is
missing, unreadable or made with another embedding model, patched when a crash
left it behind. Embedding and index access run on their own threads, never on
the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from localforge.errors import InvalidParams, LocalForgeError, Unavailable
from localforge.memory import clean_close, transfer
from localforge.memory import interactions as repo
from localforge.memory.edge_store import EdgeStore, optimize_in_child
from localforge.memory.embedder import CACHE_DIR, Embedded, Embedder
from localforge.memory.interactions import Interaction
from localforge.memory.rated_share import RatedShares, newest_rated
from localforge.memory.store import IndexCorrupt, Neighbour, VectorStore
from localforge.memory.stores import make_store
from localforge.memory.sync import IndexSync, Progress
from localforge.memory.task_evidence import COUNT_KEYS, TaskEvidence, outcome_rows
from localforge.settings import Settings
from localforge.storage.database import Database

log = logging.getLogger(__name__)

T = TypeVar("T")
LATENCY_EWMA = 0.2
OPTIMIZE_MIN_UNINDEXED = 10_000


class MemoryService:
    name = "memory"
    restart_keys: tuple[str, ...] = (
        "embedding.model",
        "embedding.threads",
        "memory.url",
        "memory.api_key",
        "memory.collection",
    )  # the embedding model and the vector store open at start

    def __init__(
        self,
        db: Database,
        data_dir: Path,
        settings: Callable[[], Settings],
        *,
        embedder: Callable[[Settings, Path], Embedder] | None = None,
    ) -> None:
        self.db = db
        self._make_embedder = embedder or _default_embedder
        self.data_dir = data_dir
        self._settings = settings
        self._embed_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._store_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vector-store")
        self._last_evidence_write: Future[None] | None = None  # newest queued outcome write
        self._embedder: Embedder | None = None
        self._store: VectorStore | None = None
        self.sync: IndexSync | None = None
        self.state = "stopped"
        self.detail = "not started"
        self.feedback: dict[str, tuple[float, int]] = {}
        self.task_evidence = TaskEvidence.from_settings(settings())
        self.rated = RatedShares()
        self.latency: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._last_retention = 0.0
        self._optimizing = False

    # --- lifecycle --------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self._settings()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            raise Unavailable("the embedding model is not loaded yet; try again shortly")
        return self._embedder

    @property
    def store(self) -> VectorStore:
        if self._store is None:
            raise Unavailable("the vector memory is not open yet; try again shortly")
        return self._store

    async def start(self) -> None:
        settings = self.settings
        await self._reload_counts()  # counts need no embedding: they serve even degraded
        self.state, self.detail = "starting", "loading the embedding model"
        cache = self.data_dir / CACHE_DIR
        try:
            self._embedder = await self.in_embed(lambda: self._make_embedder(settings, cache))
        except LocalForgeError as exc:
            # Routing goes on without memory; interactions are still recorded in SQLite and
            # embedded when the model loads again (the next start reconciles them).
            log.error("memory disabled: %s", exc.message)
            self.state, self.detail = "degraded", f"{exc.message}; routing continues without memory"
            return
        store = make_store(settings.memory, self.data_dir, self._embedder.dim)
        self.sync = IndexSync(self, store, self._embedder.model_name)
        rebuild_reason = await self.in_store(self.sync.open_store)
        self._store = store
        clean = await self.db.run(clean_close.read_and_clear)
        # v5 cleared outcomes that only recorded failures: the index must hear of it.
        clean = clean and 5 not in self.db.migrated
        self.feedback = await self.db.run(repo.feedback_stats)
        self.latency = await self.db.run(repo.latency_stats)
        self.state, self.detail = "syncing", "checking the index against SQLite"
        self._tasks.append(asyncio.create_task(self._startup_sync(rebuild_reason, clean)))
        self._tasks.append(asyncio.create_task(self._maintenance_loop()))

    async def _startup_sync(self, rebuild_reason: str | None, clean: bool) -> None:
        assert self.sync is not None
        try:
            if rebuild_reason and await self.db.run(repo.count) == 0:
                log.info("new vector index (%s); SQLite holds no interactions yet", rebuild_reason)
            elif rebuild_reason:
                log.warning("rebuilding the vector index from SQLite: %s", rebuild_reason)
                await self.sync.rebuild(reset=False)
            else:
                await self.sync.reconcile(check_outcomes=not clean)
            await self.apply_retention()
            self.state, self.detail = "ready", ""
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("the vector index could not be synchronised with SQLite")
            self.state, self.detail = (
                "degraded",
                f"index sync failed: {exc}; run 'lfctl memory rebuild'",
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._store is not None:
            store, self._store = self._store, None
            try:
                await self.in_store(store.close)
                await self.db.run(clean_close.mark_clean)
            except Exception:
                log.exception("error while closing the vector index")
        self._embed_pool.shutdown(wait=True)
        self._store_pool.shutdown(wait=True)
        self.state, self.detail = "stopped", ""

    def settings_changed(self, changed: Sequence[str]) -> None:
        """The task-type counts are rebuilt when how they fade changes; the rest is read per use."""
        if self.state == "stopped" or not set(changed) & set(COUNT_KEYS):
            return
        with contextlib.suppress(RuntimeError):  # no running loop: the next start rebuilds them
            reload = asyncio.get_running_loop().create_task(self._reload_counts())
            self._tasks = [task for task in self._tasks if not task.done()] + [reload]

    def status(self) -> dict[str, Any]:
        store = self._store
        info: dict[str, Any] = {"state": self.state, "detail": self.detail}
        if store is not None and self._embedder is not None:
            progress = self.sync.progress if self.sync else None
            where = f"{store.backend} at {store.location}"
            text = f"{self._embedder.model_name} ({self._embedder.dim}-dim), {where}"
            if progress is not None and self.state != "ready":
                text += f"; {progress.phase} {progress.done}/{progress.total}"
            info["detail"] = (self.detail + "; " if self.detail else "") + text
            info.update(
                backend=store.backend,
                location=store.location,
                embedding_model=self._embedder.model_name,
            )
        return info

    # --- threads ------------------------------------------------------------

    async def in_embed(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._embed_pool, fn)

    async def in_store(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._store_pool, fn)

    def _in_store_background(
        self, what: str, fn: Callable[[], None], *, evidence: bool = False
    ) -> None:
        """Queue an index write behind earlier ones; failures are logged (SQLite already has it).

        ``evidence``: the write can change an outcome, which a decision must then see.
        """

        def done(future: Future[None]) -> None:
            exc = future.exception()
            if exc is not None:
                log.error(
                    "vector index %s failed (SQLite has it; fixed at next start): %s", what, exc
                )

        try:
            future = self._store_pool.submit(fn)
        except RuntimeError:
            log.warning("vector index %s skipped during shutdown; reconciled at next start", what)
            return
        future.add_done_callback(done)
        if evidence:
            self._last_evidence_write = future

    # --- what routing uses ------------------------------------------------------

    async def embed(self, text: str) -> np.ndarray:
        embedder = self.embedder
        return await self.in_embed(lambda: embedder.embed_one(text))

    async def embed_texts(self, texts: Sequence[str]) -> Embedded:
        """Vectors of the routing memory's own model, for the embeddings endpoints."""
        embedder = self.embedder
        return await self.in_embed(lambda: embedder.embed_counted(texts))

    async def points(self) -> int:
        """How many vectors the index holds (0 while it is not open)."""
        if self._store is None:
            return 0
        store = self._store
        return int(await self.in_store(store.count))

    async def search(self, vector: np.ndarray, limit: int, models: list[str]) -> list[Neighbour]:
        store = self.store
        return await self.in_store(lambda: store.search(vector, limit, models))

    def search_blocking(self, vector: np.ndarray, limit: int, models: list[str]) -> list[Neighbour]:
        """The search for a caller off the event loop (a decision, on its embedding thread).

        On the calling thread where the store serves searches during writes (Qdrant Edge):
        the decision then crosses threads once, not twice; each crossing waits for a core,
        which on a busy machine costs milliseconds at p99 (bench/route.py). Other stores
        search on the store thread, waited for, and so does any search while an outcome's
        index write is still queued: an outcome recorded before this query is then part of
        its evidence. (A new point has no outcome yet, so it need not be waited for.)
        """
        store = self.store
        pending = self._last_evidence_write
        if store.concurrent_search and (pending is None or pending.done()):
            return store.search(vector, limit, models)
        return self._store_pool.submit(store.search, vector, limit, models).result()

    async def remember(self, interaction: Interaction) -> None:
        """Commit the interaction to SQLite (durable on return), then index it in the background."""
        await self.db.run(lambda conn: repo.insert(conn, [interaction]))
        self.rated.decided(
            interaction.request_id, interaction.kind, interaction.outcome is not None
        )
        point = interaction.point()
        if point is not None and self._store is not None:
            store = self._store
            self._in_store_background(
                "upsert", lambda: store.upsert([point]), evidence=interaction.outcome is not None
            )

    async def record_result(
        self, request_id: str, *, model: str, latency_ms: float, ok: bool, error: str | None
    ) -> Interaction:
        now = time.time()
        row = await self.db.run(
            lambda conn: repo.record_result(
                conn, request_id, model=model, latency_ms=latency_ms, ok=ok, error=error, now=now
            )
        )
        # Feedback follows the model that served the request, which may not be the planned one.
        self.feedback = await self.db.run(repo.feedback_stats)
        if ok:
            previous = self.latency.get(model)
            self.latency[model] = (
                latency_ms
                if previous is None
                else (1 - LATENCY_EWMA) * previous + LATENCY_EWMA * latency_ms
            )
        self._reindex(row)
        return row

    async def record_outcome(
        self, request_id: str, kind: str, value: float | None
    ) -> dict[str, Any]:
        score = repo.outcome_value(kind, value)
        now = time.time()
        given = request_id  # the whole id or a unique prefix of it
        request_id = await self.db.run(lambda conn: repo.resolve_request_id(conn, given))
        row, previous = await self.db.run(
            lambda conn: repo.record_outcome(conn, request_id, kind, score, now)
        )
        self.feedback = await self.db.run(repo.feedback_stats)
        self.rated.rated(request_id)
        store = self._store
        if store is not None and row.embedding is not None:
            self._in_store_background(
                "outcome update", lambda: store.set_outcome(request_id, score), evidence=True
            )
        self.task_evidence.add(
            row.task_type, row.model, score, row.created_at, previous, vector=row.embedding
        )
        positive, total = self.feedback.get(row.model, (0.0, 0))
        return {
            "request_id": request_id,
            "model": row.model,
            "kind": kind,
            "value": score,
            "replaced": previous,
            "model_feedback": {"positive": positive, "total": total},
        }

    async def logged_decisions(
        self, last: int
    ) -> tuple[list[tuple[dict[str, Any], str, float, float, float]], int]:
        """Rated decisions with their propensity, newest first (see ``routing.replay``)."""
        return await self.db.run(lambda conn: repo.logged_decisions(conn, last))

    async def _reload_counts(self) -> None:
        """The task-type counts and the rated share, read again from SQLite."""
        counts = TaskEvidence.from_settings(self.settings)
        counts.load(await self.db.run(lambda conn: outcome_rows(conn, vectors=counts.placed)))
        self.task_evidence = counts
        window = self.rated.window
        self.rated.load(await self.db.run(lambda conn: newest_rated(conn, window)))

    def _reindex(self, row: Interaction) -> None:
        point = row.point()
        if (
            point is not None
            and self._store is not None
            and row.embedding_model == self.embedder.model_name
        ):
            store = self._store
            self._in_store_background("update", lambda: store.upsert([point]), evidence=True)

    # --- managing memory ------------------------------------------------------

    async def stats(self) -> dict[str, Any]:
        rows = await self.db.run(repo.stats)
        store = self.store
        points, disk = await self.in_store(lambda: (store.count(), store.disk_bytes()))
        model = self.embedder.model_name
        indexable = await self.db.run(lambda conn: repo.count(conn, model))
        db_bytes = sum(p.stat().st_size for p in self.db.path.parent.glob(self.db.path.name + "*"))
        return {
            **rows,
            "index": {
                "backend": store.backend,
                "location": store.location,
                "points": points,
                "expected_points": indexable,
                "in_sync": points == indexable,
                "disk_bytes": disk,
                "state": self.state,
            },
            "database_bytes": db_bytes,
            "embedding_model": model,
            "embedding_dim": self.embedder.dim,
            "feedback": {m: {"positive": p, "total": t} for m, (p, t) in self.feedback.items()},
        }

    async def forget(
        self,
        *,
        older_than_days: float | None = None,
        model: str | None = None,
        everything: bool = False,
    ) -> dict[str, Any]:
        if everything:
            where, params = "1", ()
        elif older_than_days is not None or model is not None:
            clauses: list[str] = []
            values: list[Any] = []
            if older_than_days is not None:
                clauses.append("created_at < ?")
                values.append(time.time() - older_than_days * 86400.0)
            if model is not None:
                clauses.append("model = ?")
                values.append(model)
            where, params = " AND ".join(clauses), tuple(values)
        else:
            raise InvalidParams("say what to forget: older_than_days, model, or all")
        ids = await self._delete(where, params, reset=everything)
        log.info("forgot %d interactions (%s)", len(ids), where)
        return {"forgotten": len(ids)}

    async def _delete(
        self, where: str, params: tuple[Any, ...], *, reset: bool = False
    ) -> list[str]:
        """Delete from SQLite, then from the index (``reset`` empties it); refresh the feedback."""
        ids = await self.db.run(lambda conn: repo.delete(conn, where, params))
        store = self.store
        if reset:
            await self.in_store(store.reset)
        elif ids:
            await self.in_store(lambda: store.delete(ids))
        self.feedback = await self.db.run(repo.feedback_stats)
        await self._reload_counts()
        return ids

    async def apply_retention(self) -> int:
        memory = self.settings.memory
        self._last_retention = time.time()
        forgotten = 0
        if memory.max_age_days is not None:
            forgotten += (await self.forget(older_than_days=memory.max_age_days))["forgotten"]
        cutoff = await self.db.run(lambda conn: repo.oldest_beyond(conn, memory.max_points))
        if cutoff is not None:
            forgotten += len(await self._delete("created_at <= ?", (cutoff,)))
        if forgotten:
            log.info("retention removed %d interactions", forgotten)
        return forgotten

    async def export(self, path: Path, *, vectors: bool = True) -> dict[str, Any]:
        return {"path": str(path), "exported": await transfer.export_jsonl(self.db, path, vectors)}

    async def import_(self, path: Path) -> dict[str, Any]:
        read, inserted = await transfer.import_jsonl(self.db, path)
        self.feedback = await self.db.run(repo.feedback_stats)
        await self._reload_counts()
        assert self.sync is not None
        await self.sync.reconcile(check_outcomes=False)
        return {"read": read, "imported": inserted, "skipped_existing": read - inserted}

    async def rebuild(self, progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
        if self.sync is None:
            raise Unavailable("the vector memory is not started")
        return await self.sync.rebuild(reset=True, progress=progress)

    # --- background work --------------------------------------------------------

    async def _maintenance_loop(self) -> None:
        while True:
            memory = self.settings.memory
            await asyncio.sleep(min(memory.optimize_interval_s, memory.retention_interval_s))
            try:
                if time.time() - self._last_retention >= memory.retention_interval_s:
                    await self.apply_retention()
                await self.optimize_if_needed()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("memory maintenance failed; retrying later")

    async def optimize_if_needed(self, minimum: int = OPTIMIZE_MIN_UNINDEXED) -> bool:
        """Optimise the embedded index in a child process when enough points are unindexed."""
        store = self._store
        if not isinstance(store, EdgeStore) or self._optimizing:
            return False
        if await self.in_store(store.unindexed) < minimum:
            return False
        self._optimizing = True
        try:
            copy = await self.in_store(store.begin_offline_optimize)
            started = time.monotonic()
            try:
                await optimize_in_child(copy)
            except BaseException:
                await asyncio.shield(self.in_store(store.abort_offline_optimize))
                raise
            replayed = await self.in_store(store.finish_offline_optimize)
            log.info(
                "vector index optimised in %.1fs (%d writes replayed)",
                time.monotonic() - started,
                replayed,
            )
            return True
        finally:
            self._optimizing = False


def _default_embedder(settings: Settings, cache_dir: Path) -> Embedder:
    return Embedder.from_settings(settings.embedding, cache_dir)


__all__ = ["IndexCorrupt", "MemoryService"]
