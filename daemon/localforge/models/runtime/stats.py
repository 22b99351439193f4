"""Measured load time and latency per model, kept as EWMAs in SQLite (table ``model_stats``)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import astuple, dataclass, replace

from localforge.storage.database import Database, transaction

ALPHA = 0.3  # weight of the newest measurement
COLUMNS = (
    "model, loads, load_ms_ewma, last_load_ms, requests, failures, "
    "latency_ms_ewma, ttft_ms_ewma, tokens_per_s_ewma"
)
UPDATES = ", ".join(
    f"{column} = excluded.{column}" for column in [*COLUMNS.split(", ")[1:], "updated_at"]
)
UPSERT = (
    f"INSERT INTO model_stats ({COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    f"ON CONFLICT(model) DO UPDATE SET {UPDATES}"
)


@dataclass(frozen=True)
class ModelStats:
    model: str
    loads: int = 0
    load_ms_ewma: float | None = None
    last_load_ms: float | None = None
    requests: int = 0
    failures: int = 0
    latency_ms_ewma: float | None = None
    ttft_ms_ewma: float | None = None
    tokens_per_s_ewma: float | None = None


def ewma(previous: float | None, value: float, alpha: float = ALPHA) -> float:
    return value if previous is None else alpha * value + (1 - alpha) * previous


class StatsStore:
    """An in-memory view of ``model_stats``; every update is written through."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.stats: dict[str, ModelStats] = {}

    async def load(self) -> None:
        rows = await self.database.run(
            lambda conn: conn.execute(f"SELECT {COLUMNS} FROM model_stats").fetchall()
        )
        self.stats = {row[0]: ModelStats(*row) for row in rows}

    def get(self, model: str) -> ModelStats:
        return self.stats.get(model) or ModelStats(model)

    async def record_load(self, model: str, load_ms: float) -> ModelStats:
        old = self.get(model)
        new = replace(
            old,
            loads=old.loads + 1,
            load_ms_ewma=ewma(old.load_ms_ewma, load_ms),
            last_load_ms=load_ms,
        )
        return await self._save(new)

    async def record_request(
        self,
        model: str,
        *,
        ok: bool,
        latency_ms: float | None = None,
        ttft_ms: float | None = None,
        tokens_per_s: float | None = None,
    ) -> ModelStats:
        old = self.get(model)
        new = replace(old, requests=old.requests + 1, failures=old.failures + (0 if ok else 1))
        if ok and latency_ms is not None:
            new = replace(new, latency_ms_ewma=ewma(old.latency_ms_ewma, latency_ms))
        if ok and ttft_ms is not None:
            new = replace(new, ttft_ms_ewma=ewma(old.ttft_ms_ewma, ttft_ms))
        if ok and tokens_per_s:
            new = replace(new, tokens_per_s_ewma=ewma(old.tokens_per_s_ewma, tokens_per_s))
        return await self._save(new)

    async def _save(self, stats: ModelStats) -> ModelStats:
        self.stats[stats.model] = stats

        def write(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(UPSERT, (*astuple(stats), time.time()))

        await self.database.run(write)
        return stats
