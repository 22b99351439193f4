"""`feedback.record` and `lfctl feedback`: outcomes teach the memory, later ones replace."""

from __future__ import annotations

import json

import pytest

from lfctl.client import RpcError
from tests.e2e.routing_support import configure, route, wait_memory_ready
from tests.support.daemon import Home, lfctl, run_daemon

pytestmark = pytest.mark.e2e

CODING = [
    "write a python function that parses a csv file",
    "write a python function that merges two sorted lists",
    "write a python function that removes duplicates from a list",
]


def test_feedback_moves_similar_queries_to_the_model_users_liked(home: Home) -> None:
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        assert route(daemon, CODING[0])["winner"] == "coder"
        for text in CODING:
            liked = route(daemon, text, model="talker")
            daemon.call("feedback.record", {"request_id": liked["request_id"], "kind": "accepted"})
            disliked = route(daemon, text, model="coder")
            daemon.call(
                "feedback.record", {"request_id": disliked["request_id"], "kind": "rejected"}
            )
        trace = route(daemon, "write a python function that splits a csv line")
        assert trace["winner"] == "talker", trace["reason"]
        memory = {c["model"]: c["memory"] for c in trace["candidates"]}
        assert memory["talker"]["score"] > 0.9 and memory["talker"]["neighbours"] == 3
        assert memory["coder"]["score"] < 0.1 and trace["neighbours"] >= 6
        feedback = {c["model"]: c["signals"]["feedback"] for c in trace["candidates"]}
        assert feedback == pytest.approx({"talker": 4 / 5, "coder": 1 / 5})


def test_a_later_outcome_replaces_the_earlier_one(home: Home) -> None:
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        rid = route(daemon, "sort a dictionary by value in python")["request_id"]
        down = lfctl(home, "--no-start", "feedback", rid, "down")
        assert down.returncode == 0, down.stderr
        assert "coder: 0 positive of 1 rated requests" in down.stdout
        up = json.loads(lfctl(home, "--no-start", "feedback", rid, "up", "--json").stdout)
        assert up["replaced"] == 0.0 and up["model_feedback"] == {"positive": 1.0, "total": 1}
        partial = daemon.call(
            "feedback.record", {"request_id": rid, "kind": "partial", "value": 0.3}
        )
        assert partial["model_feedback"] == {"positive": 0.3, "total": 1}
        stats = daemon.call("memory.stats")
        assert stats["feedback"] == {"coder": {"positive": 0.3, "total": 1}}
        assert stats["groups"][0]["with_outcome"] == 1


def test_unknown_request_and_bad_kind_are_clear_errors(home: Home) -> None:
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        with pytest.raises(RpcError) as unknown:
            daemon.call("feedback.record", {"request_id": "no-such-id", "kind": "thumbs_up"})
        assert unknown.value.code == -32003
        assert "no routed request with id 'no-such-id'" in unknown.value.message
        cli = lfctl(home, "--no-start", "feedback", "no-such-id", "up")
        assert cli.returncode == 1 and "no routed request with id 'no-such-id'" in cli.stderr
        rid = route(daemon, "hello there")["request_id"]
        with pytest.raises(RpcError) as bad:
            daemon.call("feedback.record", {"request_id": rid, "kind": "meh"})
        assert bad.value.code == -32602 and "kind" in bad.value.message
        with pytest.raises(RpcError) as out_of_range:
            daemon.call("feedback.record", {"request_id": rid, "kind": "partial", "value": 2})
        assert out_of_range.value.code == -32602
