"""Whether the vector index was closed cleanly: a flag in SQLite's ``meta`` table.

Cleared at start and set again at a clean stop, so a start that finds it cleared knows the
last run ended in a crash and the index must be reconciled with SQLite.
"""

from __future__ import annotations

import sqlite3

from localforge.storage.database import transaction

CLEAN_KEY = "memory.clean_shutdown"


def read_and_clear(conn: sqlite3.Connection) -> bool:
    """Whether the last run closed the index cleanly (a first start counts as clean)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (CLEAN_KEY,)).fetchone()
    with transaction(conn):
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, '0') "
            "ON CONFLICT(key) DO UPDATE SET value = '0'",
            (CLEAN_KEY,),
        )
    return row is None or row[0] == "1"


def mark_clean(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        conn.execute("UPDATE meta SET value = '1' WHERE key = ?", (CLEAN_KEY,))
