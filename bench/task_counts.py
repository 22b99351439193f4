"""Rebuilding the task-type counts from SQLite at start: task locality off against on.

N rated interactions (six task types, three models, 384-dim embeddings, two months of
timestamps) are written to a real SQLite database. Each repeat then rebuilds the counts
as a start does (``outcome_rows`` then ``TaskEvidence.load``), once with
``routing.task_locality`` off, where no embedding is read or kept, and once with it on,
where every outcome's embedding is read and placed. Both are measured in the same run.

    .venv/bin/python bench/task_counts.py [--outcomes 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))
sys.path.insert(0, str(ROOT))

from localforge.memory import interactions as repo  # noqa: E402
from localforge.memory.task_evidence import TaskEvidence, outcome_rows  # noqa: E402
from localforge.settings import Settings  # noqa: E402
from localforge.storage.database import Database  # noqa: E402
from tests.support.interactions import rated_chat  # noqa: E402

TASKS = ("coding", "math", "general", "reasoning", "instruction", "hard_reasoning")
MODELS = ("coder", "math", "general")
BATCH = 5000


def fill(conn: sqlite3.Connection, n: int, rng: np.random.Generator) -> None:
    now = time.time()
    for start in range(0, n, BATCH):
        size = min(BATCH, n - start)
        vectors = rng.normal(size=(size, 384)).astype(np.float32)
        rows = [
            rated_chat(
                created_at=now - float(rng.uniform(0, 60 * 86400)),
                task_type=TASKS[i % len(TASKS)],
                model=MODELS[i % len(MODELS)],
                vector=vectors[i],
                embedding_model="bench",
                success=bool(rng.random() < 0.6),
            )
            for i in range(size)
        ]
        repo.insert(conn, rows)


def rebuild_s(conn: sqlite3.Connection, settings: Settings) -> float:
    started = time.perf_counter()
    counts = TaskEvidence.from_settings(settings)
    counts.load(outcome_rows(conn, vectors=counts.placed))
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outcomes", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    modes = {
        "off": Settings(),
        "on": Settings.model_validate({"routing": {"task_locality": 20}}),
    }
    with tempfile.TemporaryDirectory(prefix="lf-task-counts-") as work:
        db = Database(Path(work) / "lf.db", Settings().storage)
        db.open()
        try:
            started = time.perf_counter()
            db.call(lambda conn: fill(conn, args.outcomes, np.random.default_rng(0)))
            print(f"{args.outcomes} rated outcomes written in {time.perf_counter() - started:.1f}s")
            times: dict[str, list[float]] = {mode: [] for mode in modes}
            for _ in range(args.repeats):  # interleaved, so that both see the same machine
                for mode, settings in modes.items():
                    times[mode].append(db.call(lambda conn, s=settings: rebuild_s(conn, s)))
        finally:
            db.close()
    print("task locality   rebuild s: p50     min     max")
    for mode, values in times.items():
        p50, low, high = np.median(values), min(values), max(values)
        print(f"{mode:<15} {p50:14.2f} {low:7.2f} {high:7.2f}")
    ratio = np.median(times["on"]) / np.median(times["off"])
    print(f"on / off (p50): {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
