"""What the dashboard shows of the past: learning curves, overturns, feedback, memory.

Read from SQLite (the source of truth), on the database thread, each query bounded:
by a time window, and for the overturn count by the most recent ``MAX_SCORED`` rows.

- **learning curve**: per model and task type, the share of rated answers whose
  outcome is above 0.5, per time bucket, and cumulated (the curve a user watches climb);
- **overturns**: how often a decision's winner was not the model the benchmark signal
  alone would pick, and the winner's memory signal beat that model's (memory changed
  the choice); forced requests are not decisions and are left out;
- **feedback**: every verdict recorded, by kind (accepted, partial, rejected, thumbs);
- **memory**: points per model and task type, their age, and the index's size.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from localforge.errors import InvalidParams, LocalForgeError

MAX_SCORED = 5000  # decisions read for the overturn count
MAX_DAYS = 365.0
AGE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("1h", 3600.0),
    ("1d", 86400.0),
    ("7d", 7 * 86400.0),
    ("30d", 30 * 86400.0),
    ("90d", 90 * 86400.0),
)
BUCKETS = {"hour": 3600.0, "day": 86400.0}


class RunsQueries(Protocol):
    async def run(self, fn: Callable[[sqlite3.Connection], Any]) -> Any: ...


class Insights:
    def __init__(
        self,
        db: RunsQueries,
        memory_stats: Callable[[], Awaitable[dict[str, Any]]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.memory_stats = memory_stats
        self.clock = clock

    async def learning(self, days: float = 30.0, bucket: str = "auto") -> dict[str, Any]:
        if not 0 < days <= MAX_DAYS:
            raise InvalidParams(f"days must be in (0, {MAX_DAYS:g}], got {days}")
        if bucket not in ("auto", *BUCKETS):
            raise InvalidParams(f"bucket must be auto, hour or day, got {bucket!r}")
        now = self.clock()
        since = now - days * 86400.0

        def read(conn: sqlite3.Connection) -> dict[str, Any]:
            step = BUCKETS[bucket] if bucket != "auto" else _auto_bucket(conn, since)
            return {
                "since": round(since, 3),
                "bucket_s": step,
                "curves": _curves(conn, since, step),
                "overturns": _overturns(conn, since),
                "feedback": _feedback(conn, since),
                "model_stats": _model_stats(conn),
            }

        result: dict[str, Any] = await self.db.run(read)
        return result

    async def model_stats(self) -> dict[str, dict[str, Any]]:
        """Per model: loads, load time, requests, failures, latency and tokens/s (EWMA)."""
        result: dict[str, dict[str, Any]] = await self.db.run(_model_stats)
        return result

    async def memory(self) -> dict[str, Any]:
        now = self.clock()
        result: dict[str, Any] = await self.db.run(lambda conn: _memory_points(conn, now))
        try:
            stats = await self.memory_stats()
        except LocalForgeError as exc:
            result["index"] = {"state": "unavailable", "detail": exc.message}
        else:
            result["index"] = stats.get("index", {})
            result["database_bytes"] = stats.get("database_bytes")
            result["embedding_model"] = stats.get("embedding_model")
        return result


def _auto_bucket(conn: sqlite3.Connection, since: float) -> float:
    row = conn.execute(
        "SELECT MIN(created_at), MAX(created_at) FROM interactions WHERE created_at >= ?",
        (since,),
    ).fetchone()
    if row[0] is None or row[1] - row[0] < 3 * 86400.0:
        return BUCKETS["hour"]
    return BUCKETS["day"]


def _curves(conn: sqlite3.Connection, since: float, step: float) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT model, task_type, CAST(created_at / ? AS INTEGER) AS b, COUNT(*), "
        "SUM(CASE WHEN outcome > 0.5 THEN 1 ELSE 0 END) FROM interactions "
        "WHERE created_at >= ? AND outcome IS NOT NULL "
        "GROUP BY model, task_type, b ORDER BY model, task_type, b",
        (step, since),
    ).fetchall()
    series: dict[tuple[str, str], dict[str, Any]] = {}
    for model, task_type, b, rated, good in rows:
        curve = series.setdefault(
            (model, task_type),
            {"model": model, "task_type": task_type, "points": [], "rated": 0, "successes": 0},
        )
        curve["rated"] += int(rated)
        curve["successes"] += int(good)
        curve["points"].append(
            {
                "at": float(b) * step,
                "rated": int(rated),
                "success_rate": round(int(good) / int(rated), 4),
                "cumulative": round(curve["successes"] / curve["rated"], 4),
            }
        )
    for curve in series.values():
        curve["success_rate"] = round(curve["successes"] / curve["rated"], 4)
    return list(series.values())


def _overturns(conn: sqlite3.Connection, since: float) -> dict[str, Any]:
    rows = conn.execute(
        "SELECT model, task_type, scores FROM interactions "
        "WHERE created_at >= ? AND forced = 0 ORDER BY created_at DESC LIMIT ?",
        (since, MAX_SCORED),
    ).fetchall()
    decided = overturned = differs = 0
    by_task: dict[str, dict[str, int]] = {}
    for winner, task_type, scores_json in rows:
        try:
            scores = json.loads(scores_json)
        except ValueError:
            continue
        if not isinstance(scores, dict) or len(scores) < 2 or winner not in scores:
            continue  # one candidate: nothing could overturn anything
        decided += 1
        task = by_task.setdefault(task_type, {"decisions": 0, "overturned": 0})
        task["decisions"] += 1
        top = max(scores, key=lambda name: float(scores[name].get("benchmark") or 0.0))
        if top == winner:
            continue
        differs += 1
        if float(scores[winner].get("memory") or 0.0) > float(scores[top].get("memory") or 0.0):
            overturned += 1
            task["overturned"] += 1
    return {
        "decisions": decided,
        "not_benchmark_choice": differs,
        "overturned_by_memory": overturned,
        "rate": round(overturned / decided, 4) if decided else None,
        "by_task": by_task,
        "read": len(rows),
        "limit": MAX_SCORED,
    }


def _feedback(conn: sqlite3.Connection, since: float) -> dict[str, Any]:
    rows = conn.execute(
        "SELECT kind, COUNT(*) FROM outcomes WHERE recorded_at >= ? GROUP BY kind ORDER BY kind",
        (since,),
    ).fetchall()
    by_kind = {str(kind): int(n) for kind, n in rows}
    return {"by_kind": by_kind, "total": sum(by_kind.values())}


def _model_stats(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        "SELECT model, loads, load_ms_ewma, requests, failures, latency_ms_ewma, "
        "tokens_per_s_ewma FROM model_stats"
    ).fetchall()
    return {
        str(r[0]): {
            "loads": int(r[1]),
            "load_ms": _rounded(r[2]),
            "requests": int(r[3]),
            "failures": int(r[4]),
            "latency_ms": _rounded(r[5]),
            "tokens_per_s": _rounded(r[6]),
        }
        for r in rows
    }


def _memory_points(conn: sqlite3.Connection, now: float) -> dict[str, Any]:
    groups = conn.execute(
        "SELECT model, task_type, COUNT(*) FROM interactions WHERE embedding IS NOT NULL "
        "GROUP BY model, task_type ORDER BY model, task_type"
    ).fetchall()
    cases = ", ".join("SUM(CASE WHEN created_at >= ? THEN 1 ELSE 0 END)" for _ in AGE_BUCKETS)
    counts = conn.execute(
        f"SELECT COUNT(*), {cases} FROM interactions WHERE embedding IS NOT NULL",
        tuple(now - limit for _, limit in AGE_BUCKETS),
    ).fetchone()
    total = int(counts[0])
    ages: list[dict[str, Any]] = []
    previous = 0
    for (label, _), within in zip(AGE_BUCKETS, counts[1:], strict=True):
        within = int(within or 0)
        ages.append({"younger_than": label, "points": within - previous})
        previous = within
    ages.append({"younger_than": "older", "points": total - previous})
    return {
        "points": total,
        "by_model_task": [
            {"model": model, "task_type": task_type, "points": int(n)}
            for model, task_type, n in groups
        ],
        "ages": ages,
    }


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)
