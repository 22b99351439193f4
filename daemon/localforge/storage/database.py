"""The SQLite database: WAL mode, a busy timeout, migrations at open, one writer thread.

All access goes through ``run`` (async, from the event loop) or ``call`` (sync,
from start-up code and tests), which execute on a single dedicated thread, so
the connection is never shared between threads at once and the event loop never
blocks on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from localforge.errors import StorageError
from localforge.settings import StorageSettings
from localforge.storage.migrations import migrate, schema_version

log = logging.getLogger(__name__)

T = TypeVar("T")


class Database:
    name = "storage"
    restart_keys: tuple[str, ...] = ("storage.",)  # the connection is opened with these

    def __init__(self, path: Path, settings: StorageSettings) -> None:
        self.path = path
        self.settings = settings
        self._conn: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._schema = 0
        self.migrated: list[int] = []  # schema versions applied by this open

    # --- lifecycle --------------------------------------------------------

    def open(self) -> None:
        self._executor.submit(self._open).result()

    def _open(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.settings.busy_timeout_ms)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(
                    f"{self.path}: SQLite refused WAL mode (got {mode}); use a local disk"
                )
            conn.execute(f"PRAGMA synchronous = {self.settings.synchronous.upper()}")
            conn.execute("PRAGMA foreign_keys = ON")
            applied = migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"cannot open the database {self.path}: {exc}; move the file aside to start afresh"
            ) from exc
        if applied:
            log.info("database %s migrated to schema v%d", self.path, applied[-1])
        self._schema = schema_version(conn)
        self.migrated = applied
        self._conn = conn

    async def start(self) -> None:
        if self._conn is None:
            self.open()

    async def stop(self) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self.call(lambda conn: conn.close())
            self._conn = None
        self._executor.shutdown(wait=True)

    def settings_changed(self, changed: Sequence[str]) -> None:
        """Nothing to apply: settings are read per use, or need a restart (restart_keys)."""

    def status(self) -> dict[str, Any]:
        if self._conn is None:
            return {"state": "stopped", "detail": str(self.path)}
        return {
            "state": "ready",
            "detail": f"SQLite {sqlite3.sqlite_version}, WAL, schema v{self._schema}, {self.path}",
            "path": str(self.path),
            "schema_version": self._schema,
        }

    # --- access -----------------------------------------------------------

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._with_conn, fn)

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return self._executor.submit(self._with_conn, fn).result()

    def _with_conn(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            raise StorageError(f"the database {self.path} is not open")
        return fn(self._conn)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any error. Committed means durable."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
