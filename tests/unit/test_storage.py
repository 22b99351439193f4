"""SQLite: WAL, busy timeout, versioned migrations, one thread, transactions that roll back."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from localforge.errors import StorageError
from localforge.settings import StorageSettings
from localforge.storage.database import Database, transaction
from localforge.storage.migrations import MIGRATIONS, Migration, migrate, schema_version


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "lf.db", StorageSettings(busy_timeout_ms=1234))
    database.open()
    yield database  # type: ignore[misc]
    database.close()


def test_opens_in_wal_mode_with_busy_timeout_and_latest_schema(db: Database) -> None:
    assert db.call(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
    assert db.call(lambda c: c.execute("PRAGMA busy_timeout").fetchone()[0]) == 1234
    assert db.call(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2  # FULL
    assert db.call(lambda c: c.execute("PRAGMA foreign_keys").fetchone()[0]) == 1
    latest = max(m.version for m in MIGRATIONS)
    assert db.call(schema_version) == latest
    status = db.status()
    assert status["state"] == "ready"
    assert status["schema_version"] == latest
    assert "WAL" in status["detail"]


def test_migrations_are_numbered_one_by_one() -> None:
    versions = sorted(m.version for m in MIGRATIONS)
    assert versions == list(range(1, len(versions) + 1))
    assert all(m.description and m.sql.strip() for m in MIGRATIONS)


def test_reopening_applies_nothing_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "lf.db"
    first = Database(path, StorageSettings())
    first.open()
    first.call(lambda c: c.execute("INSERT INTO meta VALUES ('k', 'v')"))
    first.close()
    conn = sqlite3.connect(path)
    assert migrate(conn) == []
    conn.close()
    second = Database(path, StorageSettings())
    second.open()
    assert second.call(lambda c: c.execute("SELECT value FROM meta").fetchone()[0]) == "v"
    second.close()


def test_a_failing_migration_rolls_back_whole(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    good = Migration(1, "t", "CREATE TABLE t (x INTEGER);")
    bad = Migration(2, "broken", "CREATE TABLE u (y INTEGER);\nINSERT INTO missing VALUES (1);")
    with pytest.raises(sqlite3.OperationalError, match="no such table: missing"):
        migrate(conn, (good, bad))
    assert schema_version(conn) == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"t"}  # 'u' was rolled back with the rest of migration 2
    conn.close()


def test_transaction_commits_or_rolls_back(db: Database) -> None:
    def ok(conn: sqlite3.Connection) -> None:
        with transaction(conn):
            conn.execute("INSERT INTO meta VALUES ('a', '1')")

    def fails(conn: sqlite3.Connection) -> None:
        with transaction(conn):
            conn.execute("INSERT INTO meta VALUES ('b', '2')")
            raise RuntimeError("boom")

    db.call(ok)
    with pytest.raises(RuntimeError, match="boom"):
        db.call(fails)
    assert db.call(lambda c: [r[0] for r in c.execute("SELECT key FROM meta")]) == ["a"]


def test_run_uses_one_thread_off_the_event_loop(db: Database) -> None:
    async def main() -> set[str]:
        names = await asyncio.gather(
            *(db.run(lambda c: threading.current_thread().name) for _ in range(20))
        )
        return set(names)

    names = asyncio.run(main())
    assert len(names) == 1
    assert next(iter(names)).startswith("sqlite")
    assert next(iter(names)) != threading.current_thread().name


def test_not_open_and_corrupt_files_raise_storage_errors(tmp_path: Path) -> None:
    closed = Database(tmp_path / "x.db", StorageSettings())
    with pytest.raises(StorageError, match="is not open"):
        closed.call(lambda c: c.execute("SELECT 1"))
    assert closed.status()["state"] == "stopped"
    closed.close()
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database" * 100)
    broken = Database(corrupt, StorageSettings())
    with pytest.raises(StorageError, match=r"cannot open the database .* move the file aside"):
        broken.open()
    broken.close()
