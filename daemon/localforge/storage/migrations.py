"""Versioned schema migrations, applied in order at start (tracked in ``PRAGMA user_version``).

Append new migrations; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "meta key/value table",
        """
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ),
    Migration(
        2,
        "routed interactions, their outcomes and per-model feedback statistics",
        """
        CREATE TABLE interactions (
            request_id      TEXT PRIMARY KEY,   -- also the vector point id
            created_at      REAL NOT NULL,      -- unix seconds
            kind            TEXT NOT NULL,      -- chat | code | explain ...
            query_text      TEXT,               -- NULL when memory.store_text = false
            query_hash      TEXT NOT NULL,      -- sha256 of the query text
            task_type       TEXT NOT NULL,
            confidence      REAL NOT NULL,
            model           TEXT NOT NULL,
            forced          INTEGER NOT NULL DEFAULT 0,
            scores          TEXT NOT NULL,      -- JSON: each candidate's signals and final score
            embedding       BLOB,               -- float32 vector; the index is rebuilt from it
            embedding_model TEXT,
            latency_ms      REAL,
            ok              INTEGER,
            error           TEXT,
            outcome         REAL,               -- the current outcome in [0, 1], NULL until one
            outcome_kind    TEXT,
            outcome_at      REAL
        );
        CREATE INDEX interactions_created_at ON interactions(created_at);
        CREATE INDEX interactions_model ON interactions(model, task_type);
        CREATE TABLE outcomes (
            id          INTEGER PRIMARY KEY,
            request_id  TEXT NOT NULL REFERENCES interactions(request_id) ON DELETE CASCADE,
            kind        TEXT NOT NULL,
            value       REAL NOT NULL,
            recorded_at REAL NOT NULL
        );
        CREATE INDEX outcomes_request ON outcomes(request_id);
        CREATE TABLE model_feedback (
            model      TEXT PRIMARY KEY,
            positive   REAL NOT NULL DEFAULT 0,  -- sum of current outcome values
            total      INTEGER NOT NULL DEFAULT 0,  -- requests with a user outcome
            updated_at REAL NOT NULL
        );
        """,
    ),
    Migration(
        3,
        "measured model load times and latencies (EWMA) per model",
        """
        CREATE TABLE model_stats (
            model             TEXT PRIMARY KEY,
            loads             INTEGER NOT NULL DEFAULT 0,
            load_ms_ewma      REAL,               -- spawn + load, what a request pays for a swap
            last_load_ms      REAL,
            requests          INTEGER NOT NULL DEFAULT 0,
            failures          INTEGER NOT NULL DEFAULT 0,
            latency_ms_ewma   REAL,               -- generation time of a request
            ttft_ms_ewma      REAL,
            tokens_per_s_ewma REAL,
            updated_at        REAL NOT NULL
        );
        """,
    ),
    Migration(
        4,
        "measured mini-evaluation runs and scores; models added by path",
        """
        CREATE TABLE eval_runs (
            id          INTEGER PRIMARY KEY,
            model       TEXT NOT NULL,
            suite       TEXT NOT NULL,      -- task-set version
            started_at  REAL NOT NULL,
            finished_at REAL NOT NULL,
            tasks       INTEGER NOT NULL,
            passed      INTEGER NOT NULL,
            results     TEXT NOT NULL       -- JSON: one row per task
        );
        CREATE INDEX eval_runs_model ON eval_runs(model, finished_at);
        CREATE TABLE eval_scores (
            model       TEXT NOT NULL,
            category    TEXT NOT NULL,      -- coding | math | instruction
            score       REAL NOT NULL,      -- fraction of tasks passed, 0-1
            passed      INTEGER NOT NULL,
            total       INTEGER NOT NULL,
            run_id      INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
            measured_at REAL NOT NULL,
            PRIMARY KEY (model, category)
        );
        CREATE TABLE added_models (
            name     TEXT PRIMARY KEY,
            path     TEXT NOT NULL,
            added_at REAL NOT NULL
        );
        """,
    ),
    Migration(
        5,
        "safe mode per model file and machine; failures are health, not rated outcomes",
        """
        CREATE TABLE safe_mode (
            model_file TEXT NOT NULL,       -- real path and size of the GGUF
            machine    TEXT NOT NULL,       -- CPU feature flags + llama.cpp build
            reason     TEXT NOT NULL,       -- the crash that made it necessary
            decided_at REAL NOT NULL,
            PRIMARY KEY (model_file, machine)
        );
        UPDATE interactions SET outcome = NULL, outcome_kind = NULL, outcome_at = NULL
            WHERE outcome_kind = 'error';
        DELETE FROM model_feedback;
        INSERT INTO model_feedback (model, positive, total, updated_at)
            SELECT model, SUM(outcome), COUNT(*), COALESCE(MAX(outcome_at), MAX(created_at))
            FROM interactions WHERE outcome IS NOT NULL GROUP BY model;
        """,
    ),
    Migration(
        6,
        "each decision's propensity: the probability the routing policy gave the chosen model",
        """
        ALTER TABLE interactions ADD COLUMN propensity REAL;  -- NULL: forced, or logged before
        """,
    ),
)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply every migration above the current version, each in its own transaction."""
    applied = []
    current = schema_version(conn)
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (``execute`` runs one at a time inside our transaction)."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
