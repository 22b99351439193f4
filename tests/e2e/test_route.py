"""`route.explain` and `lfctl route` against a real daemon with the real classifier and memory."""

from __future__ import annotations

import json

import pytest

from lfctl.client import RpcError
from tests.e2e.routing_support import configure, lf_json, route, wait_memory_ready
from tests.support.daemon import Home, lfctl, run_daemon

pytestmark = pytest.mark.e2e


def test_explain_shows_signals_winner_and_timings(home: Home) -> None:
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        trace = lf_json(
            home, "route", "--explain", "write a python function that reverses a linked list"
        )
        assert trace["task_type"] == "coding" and trace["confidence"] > 0.6
        assert trace["winner"] == "coder" and trace["reason"].startswith("highest draw")
        assert [c["model"] for c in trace["candidates"]] == ["coder", "talker"]
        coder = trace["candidates"][0]
        assert coder["signals"]["benchmark"] == pytest.approx(0.88)
        assert (
            coder["signals"]["memory"] == 0.5 and coder["notes"]["memory"] == "no evidence: neutral"
        )
        assert set(trace["timings_ms"]) == {
            "classify",
            "embed",
            "search",
            "score",
            "record",
            "total",
        }
        assert trace["recorded"] is False and trace["request_id"]

        # A reasoning query goes to the MMLU-Pro leader.
        assert route(daemon, "explain why the roman empire declined")["winner"] == "talker"

        people = lfctl(home, "--no-start", "route", "--explain", "sort a list in python")
        assert people.returncode == 0, people.stderr
        for needle in ("task      coding", "benchmark", "winner    coder", "timings", "rank"):
            assert needle in people.stdout
        assert "skipped   " not in people.stdout
        wrapped = lfctl(
            home, "--no-start", "route", "--explain", "sort a list in python. Only the code."
        )
        assert "skipped   'Only the code.': answer format" in wrapped.stdout, wrapped.stdout


def test_forced_model_and_errors(home: Home) -> None:
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        trace = route(daemon, "write a sonnet", model="coder")
        assert (
            trace["winner"] == "coder"
            and trace["forced"]
            and "forced by the caller" in trace["reason"]
        )
        with pytest.raises(RpcError) as unknown:
            route(daemon, "hello", model="nope")
        assert (
            unknown.value.code == -32003 and "known models: coder, talker" in unknown.value.message
        )
        with pytest.raises(RpcError) as empty:
            route(daemon, "   ")
        assert empty.value.code == -32602


def test_weights_from_environment_change_the_decision(home: Home) -> None:
    configure(
        home,
        """
[[models]]
name = "fast"
url = "http://127.0.0.1:9"
avg_latency_ms = 100
[models.benchmarks]
humaneval = 30
""",
    )
    home.extra_env.update(
        LOCALFORGE_WEIGHT_BENCHMARK="0.1",
        LOCALFORGE_WEIGHT_MEMORY="0",
        LOCALFORGE_WEIGHT_LATENCY="0.9",
        LOCALFORGE_WEIGHT_FEEDBACK="0",
    )
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        trace = route(daemon, "write a python function that adds two numbers")
        assert trace["weights"] == {
            "benchmark": 0.1,
            "memory": 0.0,
            "latency": 0.9,
            "feedback": 0.0,
        }
        assert trace["winner"] == "fast"


def test_route_without_explain_prints_the_winner_and_id(home: Home) -> None:
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        result = lfctl(home, "--no-start", "route", "--record", "implement quicksort in rust")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0].startswith("coder  (coding")
        assert lines[-1].strip().startswith("request ")
        request_id = lines[-1].split()[-1]
        stats = json.loads(lfctl(home, "--no-start", "memory", "stats", "--json").stdout)
        assert stats["interactions"] == 1
        assert (
            daemon.call("feedback.record", {"request_id": request_id, "kind": "thumbs_up"})["model"]
            == "coder"
        )
