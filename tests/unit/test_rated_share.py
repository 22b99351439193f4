"""The share of the newest decisions the user rated: bounded, late ratings, the log at start."""

from __future__ import annotations

import pytest

from localforge.memory.rated_share import RatedShare


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
    share = RatedShare(window=3)
    share.decided("stale", rated=True)
    share.load([("d9", True), ("d8", False), ("d7", False), ("d6", True)])  # newest first
    assert share.decisions == 3 and share.share() == pytest.approx(2 / 4)
    share.decided("d10")
    assert share.share() == pytest.approx(2 / 4)  # d7 (unrated) left as d10 came
