"""SQLite rows the model catalogue keeps: measured eval scores and models added by path."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localforge.storage.database import transaction


@dataclass(frozen=True)
class MeasuredScore:
    category: str
    score: float
    passed: int
    total: int
    measured_at: float


def load_measured(conn: sqlite3.Connection) -> dict[str, dict[str, MeasuredScore]]:
    rows = conn.execute(
        "SELECT model, category, score, passed, total, measured_at FROM eval_scores"
    ).fetchall()
    out: dict[str, dict[str, MeasuredScore]] = {}
    for row in rows:
        out.setdefault(row["model"], {})[row["category"]] = MeasuredScore(
            row["category"], row["score"], row["passed"], row["total"], row["measured_at"]
        )
    return out


def save_eval_run(
    conn: sqlite3.Connection,
    model: str,
    suite: str,
    started_at: float,
    results: Sequence[Mapping[str, Any]],
    categories: Mapping[str, tuple[int, int]],
) -> int:
    """Store one run and replace the model's per-category scores; returns the run id."""
    finished = time.time()
    passed = sum(p for p, _ in categories.values())
    total = sum(t for _, t in categories.values())
    with transaction(conn):
        cursor = conn.execute(
            "INSERT INTO eval_runs (model, suite, started_at, finished_at, tasks, passed, results)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (model, suite, started_at, finished, total, passed, json.dumps(list(results))),
        )
        run_id = int(cursor.lastrowid or 0)
        for category, (ok, count) in categories.items():
            if count == 0:
                continue
            conn.execute(
                "INSERT INTO eval_scores"
                " (model, category, score, passed, total, run_id, measured_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (model, category) DO UPDATE SET score = excluded.score,"
                " passed = excluded.passed, total = excluded.total, run_id = excluded.run_id,"
                " measured_at = excluded.measured_at",
                (model, category, ok / count, ok, count, run_id, finished),
            )
    return run_id


def load_added(conn: sqlite3.Connection) -> dict[str, Path]:
    rows = conn.execute("SELECT name, path FROM added_models ORDER BY added_at").fetchall()
    return {row["name"]: Path(row["path"]) for row in rows}


def save_added(conn: sqlite3.Connection, name: str, path: Path) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO added_models (name, path, added_at) VALUES (?, ?, ?)",
            (name, str(path), time.time()),
        )


def delete_added(conn: sqlite3.Connection, name: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM added_models WHERE name = ?", (name,))
