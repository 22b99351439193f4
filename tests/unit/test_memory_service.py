"""The memory service on real parts: fastembed, Qdrant Edge (and qdrant-client local), SQLite."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from localforge.errors import InvalidParams, NotFound
from localforge.memory import interactions as repo
from localforge.memory.embedder import Embedder
from localforge.memory.interactions import Interaction, hash_text
from localforge.memory.rated_share import newest_rated
from localforge.memory.service import MemoryService
from localforge.memory.store import IndexLocked, check_vector
from localforge.settings import Settings
from localforge.storage.database import Database

T = TypeVar("T")


_EMBEDDERS: dict[str, Embedder] = {}


def shared_embedder(settings: Settings, cache_dir: Path) -> Embedder:
    """The real default embedder, loaded once for the module (loading takes a second or two)."""
    if "default" not in _EMBEDDERS:
        _EMBEDDERS["default"] = Embedder(settings.embedding.model, cache_dir)
    return _EMBEDDERS["default"]


class Env:
    def __init__(self, root: Path, settings: Settings) -> None:
        self.root = root
        self.settings = settings

    def run(self, body: Callable[[MemoryService], Awaitable[T]]) -> T:
        """Start a fresh service on this data dir, run ``body``, stop cleanly."""

        async def main() -> T:
            db = Database(self.root / "lf.db", self.settings.storage)
            db.open()
            memory = MemoryService(db, self.root, lambda: self.settings, embedder=shared_embedder)
            try:
                await memory.start()
                await wait_ready(memory)
                return await body(memory)
            finally:
                await memory.stop()
                db.close()

        return asyncio.run(main())


async def wait_ready(memory: MemoryService, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while memory.state != "ready":
        assert memory.state != "degraded", memory.detail
        assert time.monotonic() < deadline, memory.status()
        await asyncio.sleep(0.02)


@pytest.fixture(params=["edge", "qdrant-local"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    memory: dict[str, Any] = {}
    if request.param == "qdrant-local":
        memory["url"] = f"file://{tmp_path / 'qdrant-local'}"
    yield Env(tmp_path, Settings.model_validate({"memory": memory}))


@pytest.fixture
def edge_env(tmp_path: Path) -> Env:
    return Env(tmp_path, Settings())


async def remember(
    memory: MemoryService, text: str, model: str, *, days_ago: float = 0.0, kind: str = "chat"
) -> str:
    rid = str(uuid.uuid4())
    vector = await memory.embed(text)
    await memory.remember(
        Interaction(
            request_id=rid,
            created_at=time.time() - days_ago * 86400,
            kind=kind,
            query_text=text,
            query_hash=hash_text(text),
            task_type="coding",
            confidence=0.9,
            model=model,
            embedding=vector,
            embedding_model=memory.embedder.model_name,
        )
    )
    return rid


def test_remember_feedback_and_search(env: Env) -> None:
    async def body(memory: MemoryService) -> None:
        rid = await remember(memory, "sort a list of numbers in python", "coder")
        other = await remember(memory, "write a haiku about autumn", "poet")
        query = await memory.embed("how to sort a python list")
        # Points without an outcome are not evidence.
        assert await memory.search(query, 10, ["coder", "poet"]) == []
        first = await memory.record_outcome(rid, "thumbs_down", None)
        assert first["replaced"] is None and first["model_feedback"] == {
            "positive": 0.0,
            "total": 1,
        }
        second = await memory.record_outcome(rid, "thumbs_up", None)
        assert second["replaced"] == 0.0 and second["model_feedback"] == {
            "positive": 1.0,
            "total": 1,
        }
        await memory.record_outcome(other, "partial", 0.25)
        found = await memory.search(query, 10, ["coder", "poet"])
        assert [n.model for n in found] == ["coder", "poet"]
        assert found[0].id == rid and found[0].outcome == 1.0 and found[0].similarity > 0.8
        # As a decision searches: from its embedding thread, the same answer.
        here = await memory.in_embed(lambda: memory.search_blocking(query, 10, ["coder", "poet"]))
        # The same points; a similarity may differ in its last float bits.
        assert [replace(n, similarity=0.0) for n in here] == [
            replace(n, similarity=0.0) for n in found
        ]
        assert [n.similarity for n in here] == pytest.approx([n.similarity for n in found])
        assert [n.model for n in await memory.search(query, 10, ["poet"])] == ["poet"]
        stats = await memory.stats()
        assert stats["interactions"] == 2 and stats["index"]["in_sync"]
        assert stats["feedback"] == {
            "coder": {"positive": 1.0, "total": 1},
            "poet": {"positive": 0.25, "total": 1},
        }

    env.run(body)


def test_a_decision_sees_an_outcome_whose_index_write_is_still_queued(edge_env: Env) -> None:
    async def body(memory: MemoryService) -> None:
        rid = await remember(memory, "sort a list of numbers in python", "coder")
        store = memory.store
        assert store.concurrent_search  # the case where a decision searches off the store thread
        real_set_outcome = store.set_outcome

        def slow_set_outcome(request_id: str, score: float) -> None:
            time.sleep(0.5)  # a busy machine: the write waits for a core
            real_set_outcome(request_id, score)

        store.set_outcome = slow_set_outcome  # type: ignore[method-assign]
        await memory.record_outcome(rid, "thumbs_down", None)
        query = await memory.embed("how to sort a python list")
        found = await memory.in_embed(lambda: memory.search_blocking(query, 10, ["coder"]))
        assert [(n.id, n.outcome) for n in found] == [(rid, 0.0)]

    edge_env.run(body)


def test_unknown_request_id_and_bad_feedback(env: Env) -> None:
    async def body(memory: MemoryService) -> None:
        with pytest.raises(NotFound, match="no routed request with id 'nope'"):
            await memory.record_outcome("nope", "thumbs_up", None)
        rid = await remember(memory, "q", "m")
        with pytest.raises(InvalidParams, match="unknown feedback kind"):
            await memory.record_outcome(rid, "meh", None)
        with pytest.raises(InvalidParams, match="outside"):
            await memory.record_outcome(rid, "partial", 1.5)

    env.run(body)


def test_a_failed_result_is_health_never_an_outcome(env: Env) -> None:
    async def body(memory: MemoryService) -> None:
        rid = await remember(memory, "q", "m")
        row = await memory.record_result(
            rid, model="m", latency_ms=120.0, ok=False, error="worker crashed"
        )
        assert row.outcome is None and row.outcome_kind is None and row.error == "worker crashed"
        assert not row.ok and memory.feedback == {}
        assert (await memory.stats()).get("rated", 0) == 0
        await memory.record_outcome(rid, "accepted", None)
        row = await memory.record_result(rid, model="m", latency_ms=80.0, ok=True, error=None)
        assert row.outcome == 1.0 and row.outcome_kind == "accepted"
        assert memory.latency["m"] == 80.0

    env.run(body)


def test_a_result_served_by_another_model_moves_its_feedback(env: Env) -> None:
    async def body(memory: MemoryService) -> None:
        rid = await remember(memory, "q", "planned")
        await memory.record_outcome(rid, "thumbs_up", None)
        assert memory.feedback == {"planned": (1.0, 1)}
        await memory.record_result(rid, model="served", latency_ms=50.0, ok=True, error=None)
        assert memory.feedback == {"served": (1.0, 1)}  # what routing reads, not only SQLite

    env.run(body)


def test_restart_keeps_everything_and_agrees(env: Env) -> None:
    ids = env.run(lambda m: asyncio.gather(*(remember(m, f"question {i}", "m") for i in range(5))))

    async def check(memory: MemoryService) -> None:
        stats = await memory.stats()
        assert stats["interactions"] == 5 and stats["index"]["points"] == 5
        await memory.record_outcome(ids[0], "thumbs_up", None)

    env.run(check)


def test_deleted_index_directory_is_rebuilt_at_start(
    edge_env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    edge_env.run(lambda m: asyncio.gather(*(remember(m, f"question {i}", "m") for i in range(4))))
    import shutil

    shutil.rmtree(edge_env.root / "memory" / "edge")
    with caplog.at_level(logging.INFO):
        stats = edge_env.run(lambda m: m.stats())
    assert "rebuilding the vector index from SQLite: index directory" in caplog.text
    assert stats["index"]["points"] == 4 and stats["index"]["in_sync"]


def test_corrupt_index_is_rebuilt_at_start(edge_env: Env, caplog: pytest.LogCaptureFixture) -> None:
    edge_env.run(lambda m: remember(m, "question", "m"))
    (edge_env.root / "memory" / "edge" / "edge_config.json").write_text("{not json")
    with caplog.at_level(logging.INFO):
        stats = edge_env.run(lambda m: m.stats())
    assert "index was unreadable" in caplog.text
    assert stats["index"]["points"] == 1


def test_index_from_another_embedding_model_is_rebuilt(
    edge_env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    edge_env.run(lambda m: remember(m, "question", "m"))
    manifest = edge_env.root / "memory" / "index.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "embedding_model": "other/model", "dim": 768}))
    with caplog.at_level(logging.INFO):
        stats = edge_env.run(lambda m: m.stats())
    assert "index was built with other/model (768-dim)" in caplog.text
    assert stats["index"]["points"] == 1


def test_rows_missing_from_the_index_are_added_at_start(edge_env: Env) -> None:
    """What a crash between the SQLite commit and the index write leaves behind."""
    vector = edge_env.run(lambda m: m.embed("orphan"))
    db = Database(edge_env.root / "lf.db", edge_env.settings.storage)
    db.open()
    row = Interaction(
        str(uuid.uuid4()),
        time.time(),
        "chat",
        "orphan",
        hash_text("orphan"),
        "coding",
        0.9,
        "m",
        embedding=vector,
        embedding_model="sentence-transformers/all-MiniLM-L6-v2",
    )
    db.call(lambda conn: repo.insert(conn, [row]))
    db.close()
    stats = edge_env.run(lambda m: m.stats())
    assert stats["interactions"] == 1 and stats["index"]["points"] == 1


def test_locked_shard_is_a_clear_error(edge_env: Env) -> None:
    edge_env.run(lambda m: remember(m, "q", "m"))
    from qdrant_edge import EdgeShard

    holder = EdgeShard.load(str(edge_env.root / "memory" / "edge"))
    try:
        with pytest.raises(IndexLocked, match=r"memory/edge is locked by another process"):
            edge_env.run(lambda m: m.stats())
    finally:
        holder.close()


def test_forget_and_retention(env: Env) -> None:
    async def body(memory: MemoryService) -> None:
        await remember(memory, "old one", "a", days_ago=100)
        await remember(memory, "recent a", "a")
        rid = await remember(memory, "recent b", "b")
        await memory.record_outcome(rid, "thumbs_up", None)
        assert (await memory.forget(older_than_days=90))["forgotten"] == 1
        assert (await memory.forget(model="b"))["forgotten"] == 1
        assert memory.feedback == {}
        stats = await memory.stats()
        assert stats["interactions"] == 1 and stats["index"]["points"] == 1
        for i in range(4):
            await remember(memory, f"more {i}", "a")
        env.settings.memory.max_points = 2
        assert await memory.apply_retention() == 3
        stats = await memory.stats()
        assert stats["interactions"] == 2 and stats["index"]["in_sync"]
        assert (await memory.forget(everything=True))["forgotten"] == 2
        assert (await memory.stats())["index"]["points"] == 0
        with pytest.raises(InvalidParams):
            await memory.forget()

    env.run(body)


def test_export_then_import_into_a_fresh_memory(
    env: Env, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("export") / "memory.jsonl"

    async def fill(memory: MemoryService) -> dict[str, Any]:
        rid = await remember(memory, "sort a list", "coder")
        await memory.record_outcome(rid, "accepted", None)
        await remember(memory, "a poem", "poet")
        return await memory.export(out)

    assert env.run(fill)["exported"] == 2
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {line["model"] for line in lines} == {"coder", "poet"} and len(
        lines[0]["embedding"]
    ) == 384

    fresh = Env(tmp_path_factory.mktemp("fresh"), env.settings)
    if env.settings.memory.url:
        fresh.settings = Settings.model_validate({"memory": {"url": f"file://{fresh.root / 'q'}"}})

    async def load(memory: MemoryService) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        first = await memory.import_(out)
        again = await memory.import_(out)
        return first, again, await memory.stats()

    first, again, stats = fresh.run(load)
    assert first == {"read": 2, "imported": 2, "skipped_existing": 0}
    assert again == {"read": 2, "imported": 0, "skipped_existing": 2}
    assert stats["index"]["points"] == 2 and stats["feedback"] == {
        "coder": {"positive": 1.0, "total": 1}
    }


def test_import_without_vectors_reembeds(
    edge_env: Env, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("export") / "m.jsonl"
    edge_env.run(lambda m: remember(m, "text kept", "m"))
    edge_env.run(lambda m: m.export(out, vectors=False))
    assert json.loads(out.read_text())["embedding"] is None
    fresh = Env(tmp_path_factory.mktemp("fresh"), edge_env.settings)
    stats = fresh.run(lambda m: _import_and_stats(m, out))
    assert stats["index"]["points"] == 1


async def _import_and_stats(memory: MemoryService, path: Path) -> dict[str, Any]:
    await memory.import_(path)
    return await memory.stats()


def test_rebuild_reports_progress(env: Env) -> None:
    async def body(memory: MemoryService) -> tuple[dict[str, Any], list[Any]]:
        for i in range(3):
            await remember(memory, f"q {i}", "m")
        seen: list[Any] = []
        result = await memory.rebuild(seen.append)
        return result, seen

    result, seen = env.run(body)
    assert result["points"] == 3 and seen[-1].as_dict() == {
        "phase": "indexing",
        "done": 3,
        "total": 3,
    }


def test_nan_and_wrong_dimension_vectors_are_rejected() -> None:
    with pytest.raises(InvalidParams, match="NaN"):
        check_vector(np.array([0.1, np.nan, 0.2], dtype=np.float32), 3)
    with pytest.raises(InvalidParams, match=r"expects \(384,\)"):
        check_vector(np.zeros(3, dtype=np.float32), 384)


def test_embedder_failure_degrades_memory_but_routing_goes_on(tmp_path: Path) -> None:
    from localforge.errors import Unavailable
    from localforge.routing.candidates import Candidate, StaticCandidates
    from localforge.routing.router import Router

    def no_model(settings: Settings, cache_dir: Path) -> Embedder:
        raise Unavailable("cannot load embedding model 'x/y': no model hub")

    async def main() -> tuple[str, str, int]:
        settings = Settings()
        db = Database(tmp_path / "lf.db", settings.storage)
        db.open()
        memory = MemoryService(db, tmp_path, lambda: settings, embedder=no_model)
        try:
            await memory.start()
            router = Router(memory, StaticCandidates([Candidate("m")]), lambda: settings)
            decision = await router.route("hello")
            rows = db.call(repo.count)
            return memory.status()["state"], decision.trace["memory"], rows
        finally:
            await memory.stop()
            db.close()

    state, note, rows = asyncio.run(main())
    assert state == "degraded" and note == "no embedding: memory neutral" and rows == 1


def test_background_optimisation_keeps_serving_and_agrees(edge_env: Env) -> None:
    async def body(memory: MemoryService) -> tuple[bool, bool, dict[str, Any], int]:
        ids = [await remember(memory, f"question about topic {i}", "m") for i in range(12)]
        await memory.record_outcome(ids[0], "thumbs_up", None)
        skipped = await memory.optimize_if_needed(minimum=10_000)  # too few unindexed points
        task = asyncio.create_task(memory.optimize_if_needed(minimum=1))
        await asyncio.sleep(0)
        late = await remember(memory, "written while optimising", "m")  # replayed after the swap
        await memory.record_outcome(late, "thumbs_down", None)
        done = await task
        found = await memory.search(await memory.embed("question about topic 0"), 5, ["m"])
        return skipped, done, await memory.stats(), len(found)

    skipped, done, stats, found = edge_env.run(body)
    assert not skipped and done and found == 2
    assert stats["index"]["points"] == 13 and stats["index"]["in_sync"]
    assert not (edge_env.root / "memory" / "edge.optimizing").exists()


def test_task_counts_follow_outcomes_and_survive_a_restart(edge_env: Env) -> None:
    async def rate(memory: MemoryService) -> list[str]:
        ids = [await remember(memory, f"sort list {i} in python", "coder") for i in range(3)]
        await memory.record_outcome(ids[0], "thumbs_up", None)
        await memory.record_outcome(ids[1], "thumbs_down", None)
        await memory.record_outcome(ids[1], "thumbs_up", None)  # replaces the earlier rating
        successes, failures = memory.task_evidence.get("coding", "coder", time.time())
        faded = 1.0 + memory.task_evidence.keep("coding", "coder")  # faded as the next came
        assert successes == pytest.approx(faded, abs=1e-3)
        assert failures == pytest.approx(0.0, abs=1e-3)
        return ids

    ids = edge_env.run(rate)

    async def after_restart(memory: MemoryService) -> None:
        now = time.time()
        faded = 1.0 + memory.task_evidence.keep("coding", "coder")
        assert memory.task_evidence.get("coding", "coder", now) == pytest.approx(
            (faded, 0.0), abs=1e-3
        )
        await memory.record_outcome(ids[2], "rejected", None)
        assert memory.task_evidence.get("coding", "coder", now)[1] == pytest.approx(1.0, abs=1e-3)
        await memory.forget(everything=True)
        assert memory.task_evidence.get("coding", "coder", now) == (0.0, 0.0)

    edge_env.run(after_restart)


def test_a_changed_taste_drops_the_older_counts_and_a_restart_repeats_it(tmp_path: Path) -> None:
    env = Env(tmp_path, Settings.model_validate({"memory": {"change_window": 4}}))

    async def rate(memory: MemoryService) -> float:
        ids = [await remember(memory, f"sort list {i} in python", "coder") for i in range(16)]
        for rid in ids[:12]:
            await memory.record_outcome(rid, "thumbs_up", None)
        assert memory.task_evidence.changes() == {}
        for rid in ids[12:]:
            await memory.record_outcome(rid, "thumbs_down", None)
        changes = memory.task_evidence.changes()
        assert list(changes) == [("coding", "coder")]
        successes, failures = memory.task_evidence.get("coding", "coder", time.time())
        assert successes < 1.5 and failures > 2.5  # only the newest four are left
        return changes[("coding", "coder")]

    changed_at = env.run(rate)

    async def after_restart(memory: MemoryService) -> None:
        assert memory.task_evidence.changes() == {("coding", "coder"): changed_at}

    env.run(after_restart)


def test_a_new_half_life_rebuilds_the_task_counts_at_once(edge_env: Env) -> None:
    async def body(memory: MemoryService) -> tuple[float, float]:
        ids = [await remember(memory, f"sort list {i} in python", "coder") for i in range(2)]
        for rid in ids:
            await memory.record_outcome(rid, "thumbs_up", None)
        before = memory.task_evidence.get("coding", "coder", time.time())[0]
        edge_env.settings = Settings.model_validate({"memory": {"outcome_half_life": 0}})
        memory.settings_changed(["memory.outcome_half_life"])
        deadline = time.monotonic() + 10
        while memory.task_evidence.half_life != 0:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        return before, memory.task_evidence.get("coding", "coder", time.time())[0]

    before, after = edge_env.run(body)
    assert before < 2.0 - 1e-3 and after == pytest.approx(2.0, abs=1e-3)


def test_the_rated_share_counts_decisions_and_ratings_per_kind_and_survives_a_restart(
    edge_env: Env,
) -> None:
    async def decide(memory: MemoryService) -> list[str]:
        assert memory.rated.share("chat") == 1.0  # a new user is taken to rate
        ids = [await remember(memory, f"sort list {i} in python", "coder") for i in range(9)]
        await memory.record_outcome(ids[3], "thumbs_up", None)
        await memory.record_outcome(ids[3], "thumbs_down", None)  # one decision, rated twice
        assert memory.rated.share("chat") == pytest.approx(2 / 10)
        # an editor judges every completion: that kind keeps its own share
        code = [await remember(memory, f"def sort_{i}(", "coder", kind="code") for i in range(3)]
        for rid in code:
            await memory.record_outcome(rid, "accepted", None)
        assert memory.rated.share("code") == 1.0
        assert memory.rated.share("chat") == pytest.approx(2 / 10)
        return ids

    ids = edge_env.run(decide)

    async def after_restart(memory: MemoryService) -> None:
        assert memory.rated.decisions == 12
        assert memory.rated.share("chat") == pytest.approx(2 / 10)
        assert memory.rated.share("code") == 1.0
        newest = await memory.db.run(lambda conn: newest_rated(conn, 1))  # the log's newest
        assert [(kind, rated) for _, kind, rated in newest][:4] == [
            ("code", True),
            ("code", True),
            ("code", True),
            ("chat", False),
        ]
        await memory.record_outcome(ids[0], "accepted", None)
        assert memory.rated.share("chat") == pytest.approx(3 / 10)
        await memory.forget(everything=True)
        assert memory.rated.decisions == 0 and memory.rated.share("chat") == 1.0

    edge_env.run(after_restart)


def test_turning_task_locality_on_rebuilds_the_counts_with_where_outcomes_lie(
    edge_env: Env,
) -> None:
    """Off, the counts keep no embedding sums (a start reads none); on, they are rebuilt."""
    Counts = tuple[float, float]

    async def body(memory: MemoryService) -> tuple[Counts, Counts, Counts, Counts]:
        python = [await remember(memory, f"sort list {i} in python", "coder") for i in range(6)]
        sql = [
            await remember(memory, f"join table {i} and orders in sql", "coder") for i in range(6)
        ]
        for good, bad in zip(python, sql, strict=True):
            await memory.record_outcome(good, "thumbs_up", None)
            await memory.record_outcome(bad, "thumbs_down", None)
        query = await memory.embed("sort list 9 in python")

        def near_and_overall() -> tuple[Counts, Counts]:
            counts, now = memory.task_evidence, time.time()
            return counts.get("coding", "coder", now, query, 50.0), counts.get(
                "coding", "coder", now
            )

        off = near_and_overall()
        assert not memory.task_evidence.placed
        edge_env.settings = Settings.model_validate({"routing": {"task_locality": 50}})
        memory.settings_changed(["routing.task_locality"])
        deadline = time.monotonic() + 10
        while not memory.task_evidence.placed:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        return *off, *near_and_overall()

    off_near, off_overall, on_near, on_overall = edge_env.run(body)
    assert off_near == pytest.approx(off_overall, rel=1e-6)  # off: the query's place is ignored
    assert on_near[0] == pytest.approx(on_overall[0], rel=1e-6)  # the successes lie near it
    assert on_near[1] < 0.5 * on_overall[1]  # the failures, on the other topic, weigh less
