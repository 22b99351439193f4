"""`route.replay` and `lfctl route replay`: other settings judged on the user's rated history."""

from __future__ import annotations

import pytest

from lfctl.client import RpcError
from tests.e2e.routing_support import configure, lf_json, route, wait_memory_ready
from tests.support.daemon import DaemonProcess, Home, lfctl, run_daemon

pytestmark = pytest.mark.e2e

QUERIES = (
    "write a python function that reverses a linked list",
    "explain why the roman empire declined",
    "sort a list of tuples by the second item in python",
    "what caused the first world war",
)


def rate_decisions(daemon: DaemonProcess, n: int) -> None:
    """``n`` routed decisions rated by a user who likes the coder on even turns, else the talker."""
    for i in range(n):
        trace = route(daemon, QUERIES[i % len(QUERIES)])
        assert trace["policy"] == "thompson" and 0 < trace["propensity"] <= 1
        liked = trace["winner"] == ("coder" if i % 2 == 0 else "talker")
        kind = "thumbs_up" if liked else "thumbs_down"
        daemon.call("feedback.record", {"request_id": trace["request_id"], "kind": kind})


def test_replay_estimates_other_settings_from_rated_decisions(home: Home) -> None:
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        forced = route(daemon, QUERIES[0], model="talker")
        assert forced["propensity"] is None
        daemon.call("feedback.record", {"request_id": forced["request_id"], "kind": "thumbs_up"})
        rate_decisions(daemon, 24)

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


def test_tune_judges_one_setting_changes_and_keeps_the_settings_on_thin_evidence(
    home: Home,
) -> None:
    configure(home)
    with run_daemon(home) as daemon:
        wait_memory_ready(daemon)
        rate_decisions(daemon, 30)
        report = lf_json(home, "route", "tune", "--last", "25")
        assert report["decisions"] == 25 and report["policy"] == "thompson"
        assert report["recommended"] is None and "too few" in report["reason"]
        changes = [c["set"] for c in report["candidates"]]
        assert ["routing.posterior_scale=1"] in changes and ["routing.task_evidence=0"] in changes
        for candidate in report["candidates"]:
            assert candidate["low"] <= candidate["gain"] <= candidate["high"] + 1e-9
            assert 0 < candidate["effective_decisions"] <= 25.01
        people = lfctl(home, "--no-start", "route", "tune")
        assert people.returncode == 0, people.stderr
        for needle in ("decisions 30 rated", "change", "95% for all", "keep      30 rated"):
            assert needle in people.stdout, people.stdout
