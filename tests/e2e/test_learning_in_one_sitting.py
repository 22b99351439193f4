"""A taste that changes during one sitting, rated over the socket: routing follows it."""

from __future__ import annotations

import pytest

from tests.e2e.routing_support import configure, route, wait_memory_ready
from tests.support.daemon import Home, run_daemon

pytestmark = pytest.mark.e2e

CODING = [
    "write a python function that parses a csv file",
    "fix this TypeError: 'NoneType' object is not subscriptable",
    "write a SQL query that counts orders per customer",
    "implement binary search in rust",
    "write a bash one-liner that finds files larger than 100MB",
    "refactor this javascript loop into array.map",
    "write a regex that matches ISO dates",
    "add type hints to this python class",
    "write a go http handler that returns json",
    "explain this segfault in my C code and fix it",
    "write unit tests for a python function that reverses a string",
    "write a dockerfile for a node app",
]
BEFORE, AFTER = 36, 72  # rated decisions liking the coder, then liking the talker


def test_routing_follows_a_taste_that_changes_in_one_sitting(home: Home) -> None:
    """No time passes between the ratings: only newer outcomes can outweigh the old ones."""
    configure(home)
    after = []
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        for i in range(BEFORE + AFTER):
            trace = route(daemon, CODING[i % len(CODING)])
            liked = "coder" if i < BEFORE else "talker"
            kind = "thumbs_up" if trace["winner"] == liked else "thumbs_down"
            daemon.call("feedback.record", {"request_id": trace["request_id"], "kind": kind})
            if i >= BEFORE:
                after.append(trace["winner"][0])
    shown = "".join(after)
    assert after[0] == "c", shown  # what the first part of the sitting taught
    assert set(after[AFTER // 2 :]) == {"t"}, shown  # and the second half is the new taste


@pytest.mark.parametrize(("half_life", "expected"), [(0.0, 4 / 6), (2.0, 0.4286)])
def test_a_models_newest_outcomes_near_a_query_count_most(
    home: Home, half_life: float, expected: float
) -> None:
    """Four answers liked, then two disliked, seconds apart: with a half-life of two
    neighbours the two newest outweigh the four before them (weights 1, 0.71, then
    0.5, 0.35, 0.25, 0.18); with none all six count alike."""
    configure(home, f"\n[memory]\nneighbour_half_life = {half_life}\n")
    text = CODING[0]
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        for kind in ["thumbs_up"] * 4 + ["thumbs_down"] * 2:
            trace = route(daemon, text, model="coder")
            daemon.call("feedback.record", {"request_id": trace["request_id"], "kind": kind})
        trace = daemon.call("route.explain", {"text": text})
    coder = next(c for c in trace["candidates"] if c["model"] == "coder")["memory"]
    assert coder["neighbours"] == 6, coder
    assert coder["score"] == pytest.approx(expected, abs=2e-3), coder


def test_a_user_who_rates_few_answers_gets_narrower_draws(home: Home) -> None:
    """Nine chat decisions, one rated: tries that go unrated teach nothing, so each chat
    draw strays from the posterior mean by 0.5 x (2/10)^0.3 instead of 0.5, after a restart
    too. The same user's three completions, each accepted, keep the whole spread."""
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        ids = [route(daemon, CODING[i])["request_id"] for i in range(9)]
        daemon.call("feedback.record", {"request_id": ids[4], "kind": "thumbs_up"})
        for text in CODING[:3]:
            completion = route(daemon, text, kind="code")["request_id"]
            daemon.call("feedback.record", {"request_id": completion, "kind": "accepted"})
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        chat = daemon.call("route.explain", {"text": CODING[9]})
        code = daemon.call("route.explain", {"text": CODING[9], "kind": "code"})
    for candidate in chat["candidates"]:
        assert candidate["posterior"]["scale"] == pytest.approx(0.5 * 0.2**0.3, abs=1e-3)
        assert "20% of chat decisions rated" in candidate["notes"]["posterior"], candidate
    for candidate in code["candidates"]:
        assert candidate["posterior"]["scale"] == pytest.approx(0.5), candidate
        assert "decisions rated" not in candidate["notes"]["posterior"], candidate
