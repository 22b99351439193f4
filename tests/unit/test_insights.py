"""What the dashboard reads of the past, from a real SQLite database with its real schema."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localforge.errors import InvalidParams, Unavailable
from localforge.serving.dashboard import _model
from localforge.serving.insights import Insights
from localforge.settings import StorageSettings
from localforge.storage.database import Database

NOW = 1_800_000_000.0
DAY = 86400.0


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "lf.db", StorageSettings())
    database.open()
    try:
        yield database
    finally:
        database.close()


def add(
    db: Database,
    rid: str,
    *,
    age_days: float,
    model: str,
    task: str = "coding",
    outcome: float | None = None,
    scores: dict[str, Any] | None = None,
    forced: bool = False,
    embedded: bool = True,
) -> None:
    def insert(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO interactions (request_id, created_at, kind, query_hash, task_type, "
            "confidence, model, forced, scores, embedding, outcome, outcome_kind) "
            "VALUES (?, ?, 'chat', 'h', ?, 0.9, ?, ?, ?, ?, ?, ?)",
            (
                rid,
                NOW - age_days * DAY,
                task,
                model,
                int(forced),
                json.dumps(scores or {model: {"final": 1.0, "benchmark": 1.0, "memory": 0.5}}),
                b"\0" * 16 if embedded else None,
                outcome,
                None if outcome is None else ("accepted" if outcome > 0.5 else "rejected"),
            ),
        )
        if outcome is not None:
            kind = "accepted" if outcome > 0.5 else "rejected"
            conn.execute(
                "INSERT INTO outcomes (request_id, kind, value, recorded_at) VALUES (?, ?, ?, ?)",
                (rid, kind, outcome, NOW - age_days * DAY),
            )

    db.call(insert)


def insights(db: Database, stats: dict[str, Any] | None = None) -> Insights:
    async def memory_stats() -> dict[str, Any]:
        if stats is None:
            raise Unavailable("the memory is not started")
        return stats

    return Insights(db, memory_stats, clock=lambda: NOW)


@pytest.mark.asyncio
async def test_the_learning_curve_is_the_success_rate_per_day_and_cumulated(db: Database) -> None:
    for i, (age, outcome) in enumerate([(5, 0.0), (5, 1.0), (4, 1.0), (4, 1.0), (3, 0.5)]):
        add(db, f"r{i}", age_days=age + 0.5, model="coder", outcome=outcome)
    add(db, "unrated", age_days=1, model="coder")  # no verdict: not on the curve
    add(db, "other", age_days=1, model="writer", task="instruction", outcome=1.0)
    learning = await insights(db).learning(days=30, bucket="day")
    assert learning["bucket_s"] == DAY
    coder = next(c for c in learning["curves"] if c["model"] == "coder")
    assert [p["success_rate"] for p in coder["points"]] == [0.5, 1.0, 0.0]
    assert [p["cumulative"] for p in coder["points"]] == [0.5, 0.75, 0.6]
    assert coder["rated"] == 5 and coder["success_rate"] == 0.6
    assert learning["feedback"] == {"by_kind": {"accepted": 4, "rejected": 2}, "total": 6}
    old = await insights(db).learning(days=2, bucket="auto")  # only the last two days
    assert [(c["model"], c["rated"]) for c in old["curves"]] == [("writer", 1)]
    assert old["bucket_s"] == 3600.0  # under three days of data: hours


@pytest.mark.asyncio
async def test_an_overturn_is_memory_beating_the_benchmarks_pick(db: Database) -> None:
    def scores(bench_a: float, mem_a: float, bench_b: float, mem_b: float) -> dict[str, Any]:
        return {
            "a": {"final": 0.0, "benchmark": bench_a, "memory": mem_a},
            "b": {"final": 0.0, "benchmark": bench_b, "memory": mem_b},
        }

    add(db, "same", age_days=1, model="a", scores=scores(0.9, 0.5, 0.5, 0.5))
    add(db, "memory", age_days=1, model="b", scores=scores(0.9, 0.2, 0.5, 0.9))
    add(db, "latency", age_days=1, model="b", scores=scores(0.9, 0.5, 0.8, 0.4))
    add(db, "forced", age_days=1, model="b", scores=scores(0.9, 0.2, 0.5, 0.9), forced=True)
    add(db, "alone", age_days=1, model="a")  # one candidate: nothing to overturn
    overturns = (await insights(db).learning())["overturns"]
    assert overturns["decisions"] == 3
    assert overturns["not_benchmark_choice"] == 2
    assert overturns["overturned_by_memory"] == 1 and overturns["rate"] == round(1 / 3, 4)


@pytest.mark.asyncio
async def test_memory_points_by_model_task_and_age_with_the_index(db: Database) -> None:
    for i, age in enumerate([0.01, 0.5, 3, 20, 60, 200]):
        add(db, f"r{i}", age_days=age, model="coder")
    add(db, "w", age_days=2, model="writer", task="instruction")
    add(db, "no-vector", age_days=1, model="writer", embedded=False)
    index = {"backend": "qdrant-edge", "points": 7, "disk_bytes": 4096}
    memory = await insights(db, {"index": index, "database_bytes": 1}).memory()
    assert memory["points"] == 7
    assert memory["by_model_task"] == [
        {"model": "coder", "task_type": "coding", "points": 6},
        {"model": "writer", "task_type": "instruction", "points": 1},
    ]
    assert [a["points"] for a in memory["ages"]] == [1, 1, 2, 1, 1, 1]
    assert memory["index"] == index
    unavailable = await insights(db).memory()
    assert unavailable["index"]["state"] == "unavailable"


@pytest.mark.asyncio
async def test_bad_windows_are_refused_with_the_range(db: Database) -> None:
    with pytest.raises(InvalidParams, match="days must be in"):
        await insights(db).learning(days=0)
    with pytest.raises(InvalidParams, match="auto, hour or day"):
        await insights(db).learning(bucket="week")


def test_a_models_state_is_its_health_first_then_its_residency() -> None:
    listed = {"name": "m", "memory_bytes": 100, "health": {"state": "healthy"}}
    assert _model(listed, None, {})["state"] == "unloaded"
    loading = {"name": "m", "state": "loading", "progress": 0.4, "device": "cpu"}
    shown = _model(listed, loading, {"tokens_per_s": 40.0})
    assert (shown["state"], shown["progress"], shown["tokens_per_s"]) == ("loading", 0.4, 40.0)
    idle = {"name": "m", "state": "idle", "unload_in_s": 12.0, "memory_bytes": 90}
    assert _model(listed, idle, {})["unload_in_s"] == 12.0
    cooling = {**listed, "health": {"state": "cooling", "retry_in_s": 20, "last_error": "crash"}}
    assert _model(cooling, idle, {})["state"] == "cooling"
    broken = {**listed, "health": {"state": "broken", "broken": "SIGSEGV in safe mode"}}
    assert _model(broken, None, {})["state"] == "broken"
