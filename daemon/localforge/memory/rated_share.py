"""How many of the user's newest decisions got an outcome: what exploring can hope to learn.

A posterior draw that tries a less likely model pays for itself only when the user says how
the answer went. Someone who rates one answer in ten learns a tenth as much from each try,
so the policy narrows its draws for them (``routing.rated_share_power``). This keeps the
newest ``window`` decisions and which of them were rated, in memory, loaded from SQLite at
start; a rating for a decision older than the window changes nothing here.

The share is kept per kind of request (``RatedShares``): an editor judges every inline
completion by keeping or dismissing it, while the same user may rate one chat answer in ten,
so the completions' draws keep their spread and the chat answers' narrow.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Iterable

WINDOW = 200
MAX_KINDS = 8
SCAN_FACTOR = 50  # a kind rarer than one decision in 50 is read from fewer than its window


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

    @property
    def decisions(self) -> int:
        return len(self._decisions)

    def share(self) -> float:
        return (self._rated + 1) / (len(self._decisions) + 1)


class RatedShares:
    """A ``RatedShare`` per kind of request, for at most ``MAX_KINDS`` kinds; decisions of
    kinds beyond those share one window, so a client naming new kinds cannot grow it."""

    def __init__(self, window: int = WINDOW) -> None:
        self.window = window
        self._kinds: dict[str, RatedShare] = {}
        self._others = RatedShare(window)

    def _of(self, kind: str) -> RatedShare:
        share = self._kinds.get(kind)
        if share is None:
            if len(self._kinds) >= MAX_KINDS:
                return self._others
            share = self._kinds[kind] = RatedShare(self.window)
        return share

    def decided(self, request_id: str, kind: str, rated: bool = False) -> None:
        self._of(kind).decided(request_id, rated)

    def rated(self, request_id: str) -> None:
        for share in (*self._kinds.values(), self._others):
            share.rated(request_id)

    def load(self, newest_first: Iterable[tuple[str, str, bool]]) -> None:
        """Replace every window with decisions read from the log, newest first (the kinds
        seen newest get the windows of their own)."""
        rows = list(newest_first)
        self._kinds.clear()
        self._others = RatedShare(self.window)
        for _, kind, _ in rows:
            self._of(kind)
        for request_id, kind, rated in reversed(rows):
            self.decided(request_id, kind, rated)

    @property
    def decisions(self) -> int:
        return sum(s.decisions for s in self._kinds.values()) + self._others.decisions

    def share(self, kind: str) -> float:
        share = self._kinds.get(kind)
        return (share if share is not None else self._others).share()


def newest_rated(conn: sqlite3.Connection, last: int) -> list[tuple[str, str, bool]]:
    """The log's newest decisions, newest first, each with its kind and whether it was rated:
    enough for ``last`` of each kind, reading at most the newest ``SCAN_FACTOR × last`` (the
    created_at index keeps that quick however long the log is)."""
    rows = conn.execute(
        "SELECT request_id, kind, outcome IS NOT NULL FROM interactions "
        "ORDER BY created_at DESC LIMIT ?",
        (last * SCAN_FACTOR,),
    ).fetchall()
    return [(str(r[0]), str(r[1]), bool(r[2])) for r in rows]
