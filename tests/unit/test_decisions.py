"""The live decision feed: bounded everywhere, never blocking the publisher, doors labelled."""

from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Any

import pytest

from localforge.errors import Busy, InvalidParams, NotFound
from localforge.routing.router import Decision
from localforge.serving.decisions import ORIGIN, DecisionFeed, Origin
from localforge.serving.service import Serving
from localforge.settings import Settings
from tests.unit.test_serving import FakeCatalogue, FakeRouter, FakeRunner, chat, collect


def trace(request_id: str, winner: str = "writer") -> dict[str, Any]:
    return {
        "request_id": request_id,
        "task_type": "coding",
        "confidence": 0.91,
        "winner": winner,
        "reason": "highest final score",
        "candidates": [
            {
                "model": "writer",
                "final": 0.7,
                "resident": True,
                "signals": {"benchmark": 0.8, "memory": 0.6, "latency": 0.9, "feedback": 0.5},
            },
            {
                "model": "coder",
                "final": 0.6,
                "resident": False,
                "signals": {"benchmark": 0.9, "memory": 0.2, "latency": 0.4, "feedback": 0.5},
            },
        ],
        "timings_ms": {"total": 3.2},
    }


def decision(request_id: str) -> Decision:
    return Decision(request_id, "writer", "coding", 0.91, trace(request_id))


def test_a_decision_is_summarised_with_each_models_four_signals() -> None:
    feed = DecisionFeed()
    feed.decided("chat", decision("r-1"))
    [summary] = feed.recent()
    assert summary["model"] == "writer" and summary["task_type"] == "coding"
    assert summary["route_ms"] == 3.2 and summary["seq"] == 1
    assert summary["signals"][1] == {
        "model": "coder",
        "final": 0.6,
        "resident": False,
        "benchmark": 0.9,
        "memory": 0.2,
        "latency": 0.4,
        "feedback": 0.5,
    }
    assert feed.trace("r-1")["candidates"][0]["signals"]["benchmark"] == 0.8


def test_the_feed_keeps_only_the_latest_decisions_and_forgets_the_rest() -> None:
    feed = DecisionFeed(keep=50)
    for i in range(1000):
        feed.decided("chat", decision(f"req-{i:04d}"))
    kept = feed.recent()
    assert len(kept) == 50 and kept[0]["request_id"] == "req-0950"
    assert feed.stats()["kept"] == 50
    with pytest.raises(NotFound, match="keeps the last 50"):
        feed.trace("req-0001")
    assert feed.trace("req-0999")["winner"] == "writer"


@pytest.mark.asyncio
async def test_a_subscriber_that_does_not_read_skips_its_oldest_events() -> None:
    feed = DecisionFeed(queue=8)
    slow = feed.subscribe()
    started = time.perf_counter()
    for i in range(10_000):
        feed.decided("chat", decision(f"r{i}"))
    elapsed = time.perf_counter() - started
    assert len(slow.queue) == 8  # the queue never grows past its bound
    events, skipped = await slow.take(0)
    assert skipped == 10_000 - 8 and feed.stats()["skipped"] == 10_000 - 8
    assert [e["request_id"] for e in events] == [f"r{i}" for i in range(9992, 10_000)]
    assert elapsed < 2.0  # publishing never waited for the subscriber


@pytest.mark.asyncio
async def test_take_waits_for_the_next_event_and_returns_it() -> None:
    feed = DecisionFeed()
    subscription = feed.subscribe()
    waiting = asyncio.ensure_future(subscription.take(5))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    feed.decided("code", decision("r-1"))
    events, skipped = await asyncio.wait_for(waiting, 1)
    assert [e["type"] for e in events] == ["decision"] and skipped == 0


@pytest.mark.asyncio
async def test_with_linger_the_events_of_a_burst_come_in_one_batch() -> None:
    feed = DecisionFeed()
    subscription = feed.subscribe()

    async def burst() -> None:
        for i in range(5):
            feed.decided("chat", decision(f"r{i}"))
            await asyncio.sleep(0.005)

    publishing = asyncio.ensure_future(burst())
    events, _ = await subscription.take(5, linger=0.1)
    await publishing
    assert [e["request_id"] for e in events] == [f"r{i}" for i in range(5)]


@pytest.mark.asyncio
async def test_closing_the_feed_ends_every_subscription_at_once() -> None:
    feed = DecisionFeed()
    subscription = feed.subscribe()
    waiting = asyncio.ensure_future(subscription.take(30))
    await asyncio.sleep(0)
    feed.close()
    assert await asyncio.wait_for(waiting, 1) == ([], 0)
    assert subscription.closed and feed.stats()["subscribers"] == 0
    with pytest.raises(Busy, match="shutting down"):
        feed.subscribe()


def test_subscribers_are_capped_and_a_freed_place_can_be_taken_again() -> None:
    feed = DecisionFeed(max_subscribers=2)
    first, _second = feed.subscribe(), feed.subscribe()
    with pytest.raises(Busy, match="close a dashboard or `lfctl top`"):
        feed.subscribe()
    feed.unsubscribe(first)
    feed.subscribe()


@pytest.mark.asyncio
async def test_results_and_outcomes_complete_the_kept_decision_and_are_published() -> None:
    feed = DecisionFeed()
    feed.decided("chat", decision("r-1"))
    subscription = feed.subscribe()
    feed.finished("r-1", 812.44, None)
    feed.finished("never-routed", 5.0, "boom")  # not a decision the feed saw: not published
    feed.outcome({"request_id": "r-1", "kind": "accepted", "value": 1.0, "model": "writer"})
    feed.outcome({"request_id": "old-one", "kind": "rejected", "value": 0.0, "model": "coder"})
    events, _ = await subscription.take(0)
    assert [(e["type"], e["request_id"]) for e in events] == [
        ("result", "r-1"),
        ("outcome", "r-1"),
        ("outcome", "old-one"),  # feedback counts change even for decisions no longer kept
    ]
    [kept] = feed.recent()
    assert kept["latency_ms"] == 812.4 and kept["ok"] is True
    assert kept["outcome_kind"] == "accepted" and kept["outcome"] == 1.0
    assert kept["seq"] == events[1]["seq"]  # a reconnecting client resumes after it


def test_recent_after_a_seq_gives_only_what_changed_since() -> None:
    feed = DecisionFeed()
    for rid in ("a", "b", "c"):
        feed.decided("chat", decision(rid))
    feed.finished("a", 1.0, None)
    assert [d["request_id"] for d in feed.recent(after=3)] == ["a"]
    assert feed.recent(0) == []


def test_a_trace_is_found_by_a_unique_prefix_of_its_id() -> None:
    feed = DecisionFeed()
    feed.decided("chat", decision("abcd1111"))
    feed.decided("chat", decision("abcd2222"))
    assert feed.trace("abcd1")["request_id"] == "abcd1111"
    with pytest.raises(InvalidParams, match="several"):
        feed.trace("abcd")
    with pytest.raises(InvalidParams, match="4 characters"):
        feed.trace("ab")


def test_the_door_is_read_from_the_origin_each_door_sets() -> None:
    feed = DecisionFeed()
    origin = Origin("socket")
    context = contextvars.copy_context()
    context.run(ORIGIN.set, origin)
    context.run(feed.decided, "chat", decision("r-1"))
    origin.door = "lsp"  # daemon.hello on the connection, before its next request
    context.run(feed.decided, "code", decision("r-2"))
    feed.decided("chat", decision("r-3"))  # no door: the daemon itself
    assert [d["door"] for d in feed.recent()] == ["socket", "lsp", "internal"]


def test_requests_per_second_counts_the_last_whole_seconds() -> None:
    now = [1000.2]
    feed = DecisionFeed(clock=lambda: now[0])
    for i in range(30):
        feed.decided("chat", decision(f"r{i}"))
    assert feed.requests_per_s() == 0.0  # the current second is not over
    now[0] = 1001.0
    assert feed.requests_per_s() == 3.0  # 30 in the last 10 s
    now[0] = 1020.0
    assert feed.requests_per_s() == 0.0


@pytest.mark.asyncio
async def test_serving_publishes_the_decision_its_result_and_the_outcome() -> None:
    class Outcomes:
        async def record_outcome(self, request_id: str, kind: str, value: Any) -> Any:
            return {"request_id": request_id, "kind": kind, "value": 1.0, "model": "writer"}

    runner = FakeRunner()
    feed = DecisionFeed()
    settings = Settings()
    core = Serving(
        FakeCatalogue("writer", "coder"),  # type: ignore[arg-type]
        runner,  # type: ignore[arg-type]
        lambda: settings,
        router=FakeRouter(),
        outcomes=Outcomes(),
        decisions=feed,
    )
    subscription = feed.subscribe()
    await collect(core.chat(chat()))
    await runner.settle()
    await core.feedback("req-1", "thumbs_up", None)
    events, _ = await subscription.take(0)
    assert [(e["type"], e["request_id"]) for e in events] == [
        ("decision", "req-1"),
        ("result", "req-1"),
        ("outcome", "req-1"),
    ]
    assert events[0]["model"] == "writer" and events[1]["ok"] is True
