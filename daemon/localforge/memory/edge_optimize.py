"""Optimise a Qdrant Edge shard in a process of its own.

Usage: ``python -m localforge.memory.edge_optimize DIR``.

The daemon runs this on a copy of its shard, because ``EdgeShard.optimize``
holds the GIL until it returns.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from localforge.memory.edge_store import _edge


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m localforge.memory.edge_optimize SHARD_DIR\n")
        return 2
    path = Path(argv[0])
    qe = _edge()
    started = time.monotonic()
    shard = qe.EdgeShard.load(str(path))
    try:
        changed = bool(shard.optimize())
        info = shard.info()
        shard.flush()
    finally:
        shard.close()
    report = {
        "changed": changed,
        "points": int(info.points_count),
        "indexed": int(info.indexed_vectors_count),
        "segments": int(info.segments_count),
        "seconds": round(time.monotonic() - started, 3),
    }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
