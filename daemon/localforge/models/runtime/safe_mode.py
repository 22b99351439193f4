"""Which model files need safe mode on this machine, remembered in SQLite.

The key is the file (real path and size) and the machine (a digest of the CPU's
feature flags and the llama.cpp build), so a new CPU or a new llama-cpp-python
tries the fast path again, and a re-downloaded file of another size does too.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from localforge.models.catalogue.spec import ModelSpec
from localforge.storage.database import Database, transaction

log = logging.getLogger(__name__)

CPU_FLAG_PREFIXES = ("avx", "amx", "sse", "fma", "f16c", "bmi")


@dataclass(frozen=True)
class Machine:
    key: str
    flags: tuple[str, ...]  # the CPU features llama.cpp's kernels choose between
    llama_cpp: str

    def describe(self) -> str:
        shown = " ".join(self.flags) or "no SIMD flags read"
        return f"llama-cpp-python {self.llama_cpp}, CPU {shown}"


@lru_cache(maxsize=1)
def this_machine() -> Machine:
    flags: tuple[str, ...] = ()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    every = line.partition(":")[2].split()
                    flags = tuple(sorted(f for f in every if f.startswith(CPU_FLAG_PREFIXES)))
                    break
    except OSError:
        pass
    try:
        build = importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        build = "not installed"
    digest = hashlib.sha256(" ".join((*flags, build)).encode()).hexdigest()[:16]
    return Machine(digest, flags, build)


def file_key(path: Path) -> str:
    try:
        real = path.resolve()
        return f"{real}:{real.stat().st_size}"
    except OSError:
        return str(path)


class SafeModeBook:
    """Safe-mode decisions for this machine: loaded at start, written when a crash decides one."""

    def __init__(self, storage: Database, machine: Machine | None = None) -> None:
        self.storage = storage
        self.machine = machine or this_machine()
        self._reasons: dict[str, str] = {}

    async def load(self) -> None:
        key = self.machine.key

        def read(conn: sqlite3.Connection) -> dict[str, str]:
            rows = conn.execute(
                "SELECT model_file, reason FROM safe_mode WHERE machine = ?", (key,)
            ).fetchall()
            return {str(file): str(reason) for file, reason in rows}

        self._reasons = await self.storage.run(read)

    def reason(self, path: Path) -> str | None:
        return self._reasons.get(file_key(path))

    async def remember(self, path: Path, reason: str) -> None:
        key, machine, now = file_key(path), self.machine.key, time.time()
        self._reasons[key] = reason

        def write(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO safe_mode (model_file, machine, reason, decided_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT(model_file, machine) DO UPDATE SET "
                    "reason = excluded.reason, decided_at = excluded.decided_at",
                    (key, machine, reason, now),
                )

        await self.storage.run(write)
        log.warning("safe mode from now on for %s on this machine: %s", path, reason)


class SafeModeRules:
    """The pool's safe-mode policy: the user's setting first, then what crashes taught."""

    def __init__(self, book: SafeModeBook, setting: Callable[[], str]) -> None:
        self.book = book
        self._setting = setting

    def initial(self, spec: ModelSpec) -> str | None:
        mode = self._setting()
        if mode == "on":
            return "residency.safe_mode = on"
        if mode == "off" or spec.path is None:
            return None
        return self.book.reason(spec.path)

    def can_heal(self) -> bool:
        return self._setting() == "auto"

    async def remember(self, spec: ModelSpec, reason: str) -> None:
        if spec.path is not None and self.can_heal():
            await self.book.remember(spec.path, reason)
