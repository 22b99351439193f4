"""Request ids in SQLite: the whole id, or a unique prefix of it, names one interaction."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localforge.errors import InvalidParams, NotFound
from localforge.memory import interactions as repo
from localforge.memory.interactions import Interaction, hash_text
from localforge.settings import Settings
from localforge.storage.database import Database

IDS = (
    "3f2a9c1e-0000-4000-8000-000000000001",
    "3f2a9c1e-0000-4000-8000-000000000002",
    "3f2b0000-0000-4000-8000-000000000003",
    "a1b2c3d4-0000-4000-8000-000000000004",
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "lf.db", Settings().storage)
    database.open()
    rows = [
        Interaction(
            request_id=rid,
            created_at=time.time(),
            kind="chat",
            query_text="q",
            query_hash=hash_text("q"),
            task_type="general",
            confidence=0.9,
            model="m",
        )
        for rid in IDS
    ]
    database.call(lambda conn: repo.insert(conn, rows))
    yield database
    database.close()


def resolve(db: Database, text: str) -> str:
    return db.call(lambda conn: repo.resolve_request_id(conn, text))


def test_a_whole_id_names_itself(db: Database) -> None:
    assert resolve(db, IDS[1]) == IDS[1]


def test_a_unique_prefix_names_its_id(db: Database) -> None:
    assert resolve(db, "a1b2") == IDS[3]
    assert resolve(db, "3f2b") == IDS[2]


def test_an_ambiguous_prefix_lists_the_candidates(db: Database) -> None:
    with pytest.raises(InvalidParams) as error:
        resolve(db, "3f2a9c1e")
    assert error.value.message == (
        f"request id prefix '3f2a9c1e' is ambiguous: it starts {IDS[0]}, {IDS[1]}; "
        "give more characters"
    )


def test_a_prefix_under_four_characters_is_refused(db: Database) -> None:
    for text in ("a1b", ""):
        with pytest.raises(InvalidParams, match="too short: give at least 4 characters"):
            resolve(db, text)


def test_an_unknown_id_says_where_ids_come_from(db: Database) -> None:
    with pytest.raises(NotFound) as error:
        resolve(db, "ffff")
    assert "'lfctl chat'" in error.value.message
    assert "'lfctl route --record'" in error.value.message
    assert "--explain" not in error.value.message
