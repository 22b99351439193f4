"""Interactions to and from JSON Lines files (``lfctl memory export`` / ``import``).

Both go in pages of a thousand rows, so a large memory never sits in RAM at once.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from localforge.errors import InvalidParams
from localforge.memory import interactions as repo
from localforge.memory.interactions import Interaction
from localforge.storage.database import Database

PAGE = 1000


async def export_jsonl(db: Database, path: Path, vectors: bool) -> int:
    """Write every interaction, oldest first, to ``path``; the number written."""
    if not path.is_absolute():
        raise InvalidParams(f"export path {path} must be absolute")
    written = 0
    cursor: tuple[float, str] = (-1.0, "")
    with path.open("w", encoding="utf-8") as out:
        while True:
            batch = await db.run(partial(repo.page, after=cursor, limit=PAGE))
            if not batch:
                break
            for row in batch:
                data = row.to_json()
                if not vectors:
                    data["embedding"] = None
                    data["embedding_model"] = None
                out.write(json.dumps(data, ensure_ascii=False) + "\n")
            written += len(batch)
            cursor = (batch[-1].created_at, batch[-1].request_id)
    return written


async def import_jsonl(db: Database, path: Path) -> tuple[int, int]:
    """Insert the interactions in ``path`` that are not there yet: (read, inserted)."""
    if not path.is_file():
        raise InvalidParams(f"import file {path} does not exist")
    read = inserted = 0
    batch: list[Interaction] = []
    with path.open(encoding="utf-8") as source:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                row = Interaction.from_json(json.loads(line))
            except (json.JSONDecodeError, InvalidParams) as exc:
                raise InvalidParams(
                    f"{path}:{number}: {exc}; nothing after this line was imported"
                ) from exc
            batch.append(row)
            read += 1
            if len(batch) >= PAGE:
                chunk, batch = batch, []
                inserted += await db.run(partial(repo.insert, rows=chunk))
    if batch:
        inserted += await db.run(partial(repo.insert, rows=batch))
    return read, inserted
