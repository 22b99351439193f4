"""`route.replay` and `lfctl route replay`: other settings judged on the user's rated history."""

from __future__ import annotations

import pytest

from lfctl.client import RpcError
from tests.e2e.routing_support import configure, lf_json, route, wait_memory_ready
from tests.support.daemon import Home, lfctl, run_daemon

pytestmark = pytest.mark.e2e

QUERIES = (
    "write a python function that reverses a linked list",
    "explain why the roman empire declined",
    "sort a list of tuples by the second item in python",
    "what caused the first world war",
)


def test_replay_estimates_other_settings_from_rated_decisions(home: Home) -> None:
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        forced = route(daemon, QUERIES[0], model="talker")
        assert forced["propensity"] is None
        daemon.call("feedback.record", {"request_id": forced["request_id"], "kind": "thumbs_up"})
        for i in range(24):
            trace = route(daemon, QUERIES[i % len(QUERIES)])
            assert trace["policy"] == "thompson" and 0 < trace["propensity"] <= 1
            liked = trace["winner"] == ("coder" if i % 2 == 0 else "talker")
            kind = "thumbs_up" if liked else "thumbs_down"
            daemon.call("feedback.record", {"request_id": trace["request_id"], "kind": kind})

        same = daemon.call("route.replay", {})
        assert same["decisions"] == 24 and same["skipped"] == 1 and same["set"] == []
        assert same["snips"]["value"] == pytest.approx(same["logged"]["value"], abs=0.2)

        report = lf_json(
            home,
            "route",
            "replay",
            "--set",
            "weights.memory=0.5",
            "--set",
            "routing.posterior_scale=0",
        )
        assert report["set"] == ["weights.memory=0.5", "routing.posterior_scale=0"]
        assert report["decisions"] == 24 and 0 <= report["matched"] <= 24
        for name in ("logged", "ips", "snips"):
            assert set(report[name]) == {"value", "low", "high"}
        assert report["ips"]["low"] <= report["ips"]["value"] <= report["ips"]["high"]

        people = lfctl(home, "--no-start", "route", "replay", "--set", "routing.exploration=0")
        assert people.returncode == 0, people.stderr
        for needle in ("replay    routing.exploration=0", "decisions 24", "IPS", "SNIPS", "logged"):
            assert needle in people.stdout

        with pytest.raises(RpcError) as refused:
            daemon.call("route.replay", {"set": ["memory.decay=0.5"]})
        assert refused.value.code == -32602 and "cannot be replayed" in refused.value.message
        bad = lfctl(home, "--no-start", "route", "replay", "--set", "routing.hysteresis=9")
        assert bad.returncode != 0 and "invalid replay setting" in bad.stderr
