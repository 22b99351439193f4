"""Interactions in SQLite: the source of truth the vector index is derived from.

Every function here takes a ``sqlite3.Connection`` and runs on the database's
one thread (through ``Database.run``/``call``). Writes that must be atomic
open their own ``transaction``; a function that returned has committed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from localforge.errors import InvalidParams, NotFound
from localforge.memory.store import MemoryPoint
from localforge.storage.database import transaction

OUTCOME_KINDS = ("thumbs_up", "thumbs_down", "accepted", "rejected", "partial")
OUTCOME_VALUES = {
    "thumbs_up": 1.0,
    "accepted": 1.0,
    "thumbs_down": 0.0,
    "rejected": 0.0,
    "partial": 0.5,
}
ERROR_KIND = "error"  # older versions stored failures as outcomes of this kind; none are now
MIN_ID_PREFIX = 4  # shortest request id prefix accepted in place of the whole id
AMBIGUOUS_SHOWN = 5  # ids listed when a prefix matches several

COLUMNS = (
    "request_id, created_at, kind, query_text, query_hash, task_type, confidence, model, forced, "
    "scores, embedding, embedding_model, latency_ms, ok, error, outcome, outcome_kind, outcome_at, "
    "propensity"
)


@dataclass(frozen=True)
class Interaction:
    request_id: str
    created_at: float
    kind: str
    query_text: str | None
    query_hash: str
    task_type: str
    confidence: float
    model: str
    forced: bool = False
    scores: dict[str, Any] = field(default_factory=dict)
    embedding: np.ndarray | None = None
    embedding_model: str | None = None
    latency_ms: float | None = None
    ok: bool | None = None
    error: str | None = None
    outcome: float | None = None
    outcome_kind: str | None = None
    outcome_at: float | None = None
    propensity: float | None = None  # the probability the policy gave ``model``; None if forced

    def point(self) -> MemoryPoint | None:
        if self.embedding is None:
            return None
        return MemoryPoint(
            id=self.request_id,
            vector=self.embedding,
            model=self.model,
            task_type=self.task_type,
            outcome=self.outcome,
            timestamp=self.created_at,
            latency_ms=self.latency_ms,
        )

    def to_json(self) -> dict[str, Any]:
        """The export form (JSON Lines): everything, the vector as a list."""
        data = {name: getattr(self, name) for name in COLUMNS.replace(" ", "").split(",")}
        data["embedding"] = None if self.embedding is None else [float(x) for x in self.embedding]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Interaction:
        try:
            embedding = data.get("embedding")
            return cls(
                request_id=str(data["request_id"]),
                created_at=float(data["created_at"]),
                kind=str(data.get("kind") or "chat"),
                query_text=data.get("query_text"),
                query_hash=str(data.get("query_hash") or hash_text(data.get("query_text") or "")),
                task_type=str(data["task_type"]),
                confidence=float(data.get("confidence") or 0.0),
                model=str(data["model"]),
                forced=bool(data.get("forced")),
                scores=dict(data.get("scores") or {}),
                embedding=None if embedding is None else np.asarray(embedding, dtype=np.float32),
                embedding_model=data.get("embedding_model"),
                latency_ms=_opt_float(data.get("latency_ms")),
                ok=None if data.get("ok") is None else bool(data["ok"]),
                error=data.get("error"),
                outcome=_opt_float(data.get("outcome")),
                outcome_kind=data.get("outcome_kind"),
                outcome_at=_opt_float(data.get("outcome_at")),
                propensity=_opt_float(data.get("propensity")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParams(f"not an interaction record: {exc}") from exc


def hash_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def outcome_value(kind: str, value: float | None) -> float:
    if kind not in OUTCOME_VALUES:
        raise InvalidParams(
            f"unknown feedback kind {kind!r}; use one of {', '.join(OUTCOME_KINDS)}"
        )
    if value is None:
        return OUTCOME_VALUES[kind]
    if not 0.0 <= value <= 1.0:
        raise InvalidParams(f"feedback value {value} is outside [0, 1]")
    return float(value)


# --- writes ----------------------------------------------------------------


def insert(conn: sqlite3.Connection, rows: Sequence[Interaction], *, replace: bool = False) -> int:
    """Insert interactions in one transaction; ``replace`` overwrites same ids (import)."""
    verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
    with transaction(conn):
        before = conn.total_changes
        conn.executemany(
            f"{verb} INTO interactions ({COLUMNS}) VALUES ({', '.join('?' * 19)})",
            [_params(row) for row in rows],
        )
        inserted = conn.total_changes - before
        if any(row.outcome is not None for row in rows):
            _recompute_feedback(conn)
    return inserted


def record_result(
    conn: sqlite3.Connection,
    request_id: str,
    *,
    model: str,
    latency_ms: float,
    ok: bool,
    error: str | None,
    now: float,
) -> Interaction:
    """Store how the request went. A failure (crash, failed load, timeout, refusal) is health:
    its error is kept, but it never becomes an outcome, so it rates nothing."""
    with transaction(conn):
        current = _get(conn, request_id)
        outcome, kind, at = current.outcome, current.outcome_kind, current.outcome_at
        if kind == ERROR_KIND:  # written by older versions: not a verdict on the answer
            outcome, kind, at = None, None, None
        conn.execute(
            "UPDATE interactions SET model = ?, latency_ms = ?, ok = ?, error = ?, outcome = ?, "
            "outcome_kind = ?, outcome_at = ? WHERE request_id = ?",
            (model, latency_ms, int(ok), error, outcome, kind, at, request_id),
        )
        if model != current.model:
            _recompute_feedback(conn, (model, current.model))
        return _get(conn, request_id)


def record_outcome(
    conn: sqlite3.Connection, request_id: str, kind: str, value: float, now: float
) -> tuple[Interaction, float | None]:
    """Set the request's outcome (a later one replaces the earlier); return it and the old value."""
    with transaction(conn):
        current = _get(conn, request_id)
        conn.execute(
            "UPDATE interactions SET outcome = ?, outcome_kind = ?, outcome_at = ? "
            "WHERE request_id = ?",
            (value, kind, now, request_id),
        )
        conn.execute(
            "INSERT INTO outcomes (request_id, kind, value, recorded_at) VALUES (?, ?, ?, ?)",
            (request_id, kind, value, now),
        )
        counted_before = current.outcome is not None and current.outcome_kind != ERROR_KIND
        previous = (current.outcome or 0.0) if counted_before else 0.0
        delta_positive = value - previous
        delta_total = 0 if counted_before else 1
        conn.execute(
            "INSERT INTO model_feedback (model, positive, total, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(model) DO UPDATE SET positive = positive + excluded.positive, "
            "total = total + excluded.total, updated_at = excluded.updated_at",
            (current.model, delta_positive, delta_total, now),
        )
        return _get(conn, request_id), current.outcome


def delete(conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> list[str]:
    """Delete interactions matching ``where``; return their ids (for the index)."""
    with transaction(conn):
        ids = [
            r[0] for r in conn.execute(f"SELECT request_id FROM interactions WHERE {where}", params)
        ]
        conn.execute(f"DELETE FROM interactions WHERE {where}", params)
        _recompute_feedback(conn)
    return ids


def set_embeddings(
    conn: sqlite3.Connection, rows: Sequence[tuple[str, np.ndarray]], embedding_model: str
) -> None:
    with transaction(conn):
        conn.executemany(
            "UPDATE interactions SET embedding = ?, embedding_model = ? WHERE request_id = ?",
            [(_blob(vector), embedding_model, rid) for rid, vector in rows],
        )


def _recompute_feedback(conn: sqlite3.Connection, models: Sequence[str] | None = None) -> None:
    """Rebuild model_feedback from the interactions (after deletes, imports, model changes)."""
    if models is None:
        conn.execute("DELETE FROM model_feedback")
        clause, params = "", tuple[str, ...]()
    else:
        marks = ", ".join("?" * len(models))
        conn.execute(f"DELETE FROM model_feedback WHERE model IN ({marks})", tuple(models))
        clause, params = f"AND model IN ({marks})", tuple(models)
    conn.execute(
        "INSERT INTO model_feedback (model, positive, total, updated_at) "
        "SELECT model, SUM(outcome), COUNT(*), COALESCE(MAX(outcome_at), MAX(created_at)) "
        "FROM interactions "
        f"WHERE outcome IS NOT NULL AND outcome_kind != ? {clause} GROUP BY model",
        (ERROR_KIND, *params),
    )


# --- reads -----------------------------------------------------------------


def _get(conn: sqlite3.Connection, request_id: str) -> Interaction:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM interactions WHERE request_id = ?", (request_id,)
    ).fetchone()
    if row is None:
        raise _unknown_id(request_id)
    return _row(row)


def resolve_request_id(conn: sqlite3.Connection, text: str) -> str:
    """The full id that ``text`` names: the id itself, or a unique prefix of it (as git does).

    Ids sort bytewise in the primary-key index, so every id that starts with ``text``
    comes right after ``text`` itself: a handful of rows answers both questions.
    """
    rows = [
        r[0]
        for r in conn.execute(
            "SELECT request_id FROM interactions WHERE request_id >= ? ORDER BY request_id LIMIT ?",
            (text, AMBIGUOUS_SHOWN + 1),
        )
    ]
    if rows and rows[0] == text:
        return text
    matches = [rid for rid in rows if rid.startswith(text)]
    if not matches:
        raise _unknown_id(text)
    if len(text) < MIN_ID_PREFIX:
        raise InvalidParams(
            f"request id prefix {text!r} is too short: give at least {MIN_ID_PREFIX} characters"
        )
    if len(matches) > 1:
        shown = ", ".join(matches[:AMBIGUOUS_SHOWN])
        more = " and more" if len(matches) > AMBIGUOUS_SHOWN else ""
        raise InvalidParams(
            f"request id prefix {text!r} is ambiguous: it starts {shown}{more}; "
            "give more characters"
        )
    return matches[0]


def _unknown_id(request_id: str) -> NotFound:
    return NotFound(
        f"no routed request with id {request_id!r}; ids are printed by 'lfctl chat' and "
        "'lfctl route --record' (or returned as request_id), and 'lfctl memory forget' "
        "removes them"
    )


def feedback_stats(conn: sqlite3.Connection) -> dict[str, tuple[float, int]]:
    rows = conn.execute("SELECT model, positive, total FROM model_feedback")
    # Deltas accumulate float noise; six decimals is far finer than any outcome.
    return {r[0]: (round(float(r[1]), 6), int(r[2])) for r in rows}


def latency_stats(conn: sqlite3.Connection, per_model: int = 50) -> dict[str, float]:
    """Mean latency of each model's last ``per_model`` answered requests."""
    rows = conn.execute(
        "SELECT model, AVG(latency_ms) FROM (SELECT model, latency_ms, ROW_NUMBER() OVER "
        "(PARTITION BY model ORDER BY created_at DESC) AS n FROM interactions "
        "WHERE latency_ms IS NOT NULL AND ok = 1) WHERE n <= ? GROUP BY model",
        (per_model,),
    )
    return {r[0]: float(r[1]) for r in rows}


def count(conn: sqlite3.Connection, embedding_model: str | None = None) -> int:
    if embedding_model is None:
        return int(conn.execute("SELECT COUNT(*) FROM interactions").fetchone()[0])
    return int(
        conn.execute(
            "SELECT COUNT(*) FROM interactions WHERE embedding IS NOT NULL AND embedding_model = ?",
            (embedding_model,),
        ).fetchone()[0]
    )


def indexed_state(conn: sqlite3.Connection, embedding_model: str) -> dict[str, float | None]:
    """``{request_id: outcome}`` of every row the index should hold."""
    rows = conn.execute(
        "SELECT request_id, outcome FROM interactions "
        "WHERE embedding IS NOT NULL AND embedding_model = ?",
        (embedding_model,),
    )
    return {r[0]: r[1] for r in rows}


def to_embed(conn: sqlite3.Connection, embedding_model: str) -> list[tuple[str, str]]:
    """Rows made with another embedding model (or none) that still have their text."""
    rows = conn.execute(
        "SELECT request_id, query_text FROM interactions WHERE query_text IS NOT NULL AND "
        "(embedding IS NULL OR embedding_model IS NULL OR embedding_model != ?)",
        (embedding_model,),
    )
    return [(r[0], r[1]) for r in rows]


def by_ids(conn: sqlite3.Connection, ids: Sequence[str]) -> list[Interaction]:
    found: list[Interaction] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        found.extend(
            _row(r)
            for r in conn.execute(
                f"SELECT {COLUMNS} FROM interactions WHERE request_id IN ({marks})", chunk
            )
        )
    return found


def page(
    conn: sqlite3.Connection,
    after: tuple[float, str],
    limit: int,
    where: str = "1",
    params: Sequence[Any] = (),
) -> list[Interaction]:
    """The next ``limit`` interactions after ``after`` = (created_at, request_id), oldest first."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM interactions WHERE ({where}) AND (created_at, request_id) > (?, ?) "
        "ORDER BY created_at, request_id LIMIT ?",
        (*params, after[0], after[1], limit),
    ).fetchall()
    return [_row(r) for r in rows]


def logged_decisions(
    conn: sqlite3.Connection, last: int
) -> tuple[list[tuple[dict[str, Any], str, float, float, float]], int]:
    """The newest ``last`` rated, unforced decisions with a propensity, as
    ``(scores, model, propensity, outcome, confidence)``; and how many rated ones lack one."""
    rows = conn.execute(
        "SELECT scores, model, propensity, outcome, confidence FROM interactions "
        "WHERE outcome IS NOT NULL AND propensity IS NOT NULL AND forced = 0 "
        "ORDER BY created_at DESC LIMIT ?",
        (last,),
    ).fetchall()
    missing = conn.execute(
        "SELECT COUNT(*) FROM interactions WHERE outcome IS NOT NULL "
        "AND (propensity IS NULL OR forced = 1)"
    ).fetchone()[0]
    decided = [(json.loads(r[0]), str(r[1]), float(r[2]), float(r[3]), float(r[4])) for r in rows]
    return decided, int(missing)


def stats(conn: sqlite3.Connection) -> dict[str, Any]:
    groups = conn.execute(
        "SELECT model, kind, task_type, COUNT(*), COUNT(outcome), AVG(outcome), "
        "SUM(CASE WHEN outcome > 0.5 THEN 1 ELSE 0 END) FROM interactions "
        "GROUP BY model, kind, task_type "
        "ORDER BY model, kind, task_type"
    ).fetchall()
    outcomes = conn.execute(
        "SELECT kind, outcome_kind, COUNT(*), AVG(outcome) FROM interactions "
        "GROUP BY kind, outcome_kind ORDER BY kind, outcome_kind"
    ).fetchall()
    by_kind: dict[str, dict[str, Any]] = {}
    for kind, outcome_kind, n, mean in outcomes:
        entry = by_kind.setdefault(kind, {"points": 0, "rated": 0, "outcomes": {}})
        entry["points"] += int(n)
        if outcome_kind is not None:
            entry["rated"] += int(n)
            entry["outcomes"][outcome_kind] = {"count": int(n), "mean": round(float(mean), 4)}
    span = conn.execute(
        "SELECT MIN(created_at), MAX(created_at), COUNT(*) FROM interactions"
    ).fetchone()
    return {
        "interactions": int(span[2]),
        "oldest": span[0],
        "newest": span[1],
        "groups": [
            {
                "model": g[0],
                "kind": g[1],
                "task_type": g[2],
                "points": int(g[3]),
                "with_outcome": int(g[4]),
                "mean_outcome": None if g[5] is None else round(float(g[5]), 4),
                "success_rate": None if not g[4] else round(int(g[6]) / int(g[4]), 4),
            }
            for g in groups
        ],
        "by_kind": by_kind,  # chat, code, ...: points, rated, and each outcome kind's count
    }


def oldest_beyond(conn: sqlite3.Connection, keep: int) -> float | None:
    """The creation time of the newest interaction to drop so that ``keep`` remain."""
    row = conn.execute(
        "SELECT created_at FROM interactions ORDER BY created_at DESC LIMIT 1 OFFSET ?", (keep,)
    ).fetchone()
    return None if row is None else float(row[0])


# --- conversion ------------------------------------------------------------


def _params(row: Interaction) -> tuple[Any, ...]:
    return (
        row.request_id,
        row.created_at,
        row.kind,
        row.query_text,
        row.query_hash,
        row.task_type,
        row.confidence,
        row.model,
        int(row.forced),
        json.dumps(row.scores, separators=(",", ":")),
        None if row.embedding is None else _blob(row.embedding),
        row.embedding_model,
        row.latency_ms,
        None if row.ok is None else int(row.ok),
        row.error,
        row.outcome,
        row.outcome_kind,
        row.outcome_at,
        row.propensity,
    )


def _row(r: Sequence[Any]) -> Interaction:
    return Interaction(
        request_id=r[0],
        created_at=r[1],
        kind=r[2],
        query_text=r[3],
        query_hash=r[4],
        task_type=r[5],
        confidence=r[6],
        model=r[7],
        forced=bool(r[8]),
        scores=json.loads(r[9]) if r[9] else {},
        embedding=None if r[10] is None else np.frombuffer(r[10], dtype=np.float32).copy(),
        embedding_model=r[11],
        latency_ms=r[12],
        ok=None if r[13] is None else bool(r[13]),
        error=r[14],
        outcome=r[15],
        outcome_kind=r[16],
        outcome_at=r[17],
        propensity=r[18],
    )


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
