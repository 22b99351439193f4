"""The share of the newest decisions the user rated: bounded, late ratings, the log at start,
one share per kind of request."""

from __future__ import annotations

import pytest

from localforge.memory.rated_share import MAX_KINDS, RatedShare, RatedShares


def test_a_new_user_counts_as_rating_until_decisions_go_unrated() -> None:
    share = RatedShare(window=10)
    assert share.share() == 1.0
    for i in range(4):
        share.decided(f"d{i}")
    assert share.share() == pytest.approx(1 / 5)
    share.rated("d2")
    share.rated("d2")  # a second rating of one decision counts once
    share.rated("unknown")
    assert share.share() == pytest.approx(2 / 5)


def test_only_the_newest_decisions_count() -> None:
    share = RatedShare(window=10)
    for i in range(10):
        share.decided(f"old{i}", rated=True)
    for i in range(10):
        share.decided(f"new{i}")
    assert share.decisions == 10
    assert share.share() == pytest.approx(1 / 11)
    share.rated("old3")  # fell out of the window: changes nothing
    assert share.share() == pytest.approx(1 / 11)


def test_loading_keeps_the_newest_of_the_log() -> None:
    share = RatedShares(window=3)
    share.decided("stale", "chat", rated=True)
    rows = [("d9", True), ("d8", False), ("d7", False), ("d6", True)]  # newest first
    share.load([(request_id, "chat", rated) for request_id, rated in rows])
    assert share.decisions == 3 and share.share("chat") == pytest.approx(2 / 4)
    share.decided("d10", "chat")
    assert share.share("chat") == pytest.approx(2 / 4)  # d7 (unrated) left as d10 came


def test_each_kind_of_request_keeps_its_own_share() -> None:
    shares = RatedShares(window=10)
    for i in range(9):
        shares.decided(f"chat{i}", "chat")
        shares.decided(f"code{i}", "code", rated=True)
    shares.rated("chat4")
    assert shares.share("chat") == pytest.approx(2 / 10)
    assert shares.share("code") == 1.0
    assert shares.decisions == 18


def test_kinds_beyond_the_bound_share_one_window() -> None:
    shares = RatedShares(window=10)
    for k in range(MAX_KINDS + 5):
        shares.decided(f"d{k}", f"kind{k}")
    assert shares.decisions == MAX_KINDS + 5
    assert shares.share(f"kind{MAX_KINDS}") == pytest.approx(1 / 6)  # the five extra kinds
    assert shares.share("never seen") == pytest.approx(1 / 6)
    shares.rated(f"d{MAX_KINDS + 1}")
    assert shares.share(f"kind{MAX_KINDS + 4}") == pytest.approx(2 / 6)


def test_loading_groups_the_log_by_kind() -> None:
    shares = RatedShares(window=2)
    shares.decided("stale", "chat", rated=True)
    shares.load(
        [
            ("c3", "code", True),
            ("h3", "chat", False),
            ("c2", "code", True),
            ("h2", "chat", False),
            ("h1", "chat", True),
        ]
    )  # newest first; each kind keeps its newest two
    assert shares.share("code") == 1.0
    assert shares.share("chat") == pytest.approx(1 / 3)
    assert shares.decisions == 4
