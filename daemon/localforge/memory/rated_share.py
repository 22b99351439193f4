"""How many of the user's newest decisions got an outcome: what exploring can hope to learn.

A posterior draw that tries a less likely model pays for itself only when the user says how
the answer went. Someone who rates one answer in ten learns a tenth as much from each try,
so the policy narrows its draws for them (``routing.rated_share_power``). This keeps the
newest ``window`` decisions and which of them were rated, in memory, loaded from SQLite at
start; a rating for a decision older than the window changes nothing here.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Iterable

WINDOW = 200


class RatedShare:
    """The share of the newest ``window`` decisions that were rated, with one rated decision
    assumed before the first (a new user is taken to rate until shown otherwise)."""

    def __init__(self, window: int = WINDOW) -> None:
        self.window = window
        self._decisions: OrderedDict[str, bool] = OrderedDict()  # oldest first
        self._rated = 0

    def decided(self, request_id: str, rated: bool = False) -> None:
        if request_id in self._decisions:
            return
        self._decisions[request_id] = rated
        self._rated += rated
        while len(self._decisions) > self.window:
            _, was_rated = self._decisions.popitem(last=False)
            self._rated -= was_rated

    def rated(self, request_id: str) -> None:
        if self._decisions.get(request_id) is False:
            self._decisions[request_id] = True
            self._rated += 1

    def load(self, newest_first: Iterable[tuple[str, bool]]) -> None:
        """Replace the window with decisions read from the log, newest first."""
        rows = list(newest_first)[: self.window]
        self._decisions.clear()
        self._rated = 0
        for request_id, rated in reversed(rows):
            self.decided(request_id, rated)

    @property
    def decisions(self) -> int:
        return len(self._decisions)

    def share(self) -> float:
        return (self._rated + 1) / (len(self._decisions) + 1)


def newest_rated(conn: sqlite3.Connection, last: int) -> list[tuple[str, bool]]:
    """The newest ``last`` decisions in the log, newest first, each with whether it was rated."""
    rows = conn.execute(
        "SELECT request_id, outcome IS NOT NULL FROM interactions ORDER BY created_at DESC LIMIT ?",
        (last,),
    ).fetchall()
    return [(str(r[0]), bool(r[1])) for r in rows]
