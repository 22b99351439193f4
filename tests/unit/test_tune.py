"""`route tune`: one-setting changes judged on synthetic logs whose true values are known."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from lfctl.commands.route import toml_lines
from localforge.routing.policy import Arm
from localforge.routing.replay import Logged, parse_overrides
from localforge.routing.tune import candidate_overrides, paired_gains, tune, valid_candidates
from localforge.settings import Settings
from tests.unit.test_replay import LOGGING, NAMES, settings, synthetic_log, true_value


def test_candidates_change_one_setting_each_and_never_repeat_the_one_in_force() -> None:
    current = settings()
    tried = candidate_overrides(current)
    assert all(len(items) == 1 for items in tried)
    flat = [items[0] for items in tried]
    assert len(flat) == len(set(flat))
    assert "routing.posterior_scale=0.5" not in flat and "routing.posterior_scale=1" in flat
    assert "routing.task_evidence=0" in flat
    assert not any(item.startswith("routing.policy=") for item in flat)  # never stop exploring
    for items in tried:
        parse_overrides(items, current)  # every candidate is a valid replay setting
    deterministic = [items[0] for items in candidate_overrides(settings(policy="score"))]
    assert "routing.exploration=0" in deterministic
    assert "routing.policy=thompson" not in deterministic
    assert any(item.startswith("weights.memory=") for item in deterministic)


def test_identical_weights_gain_nothing_and_a_better_target_gains() -> None:
    rng = np.random.default_rng(0)
    rewards = (rng.random(800) < 0.5).astype(float)
    base = np.ones(800)
    better = np.where(rewards > 0, 1.5, 0.5)  # puts its weight on the successes
    same, up = paired_gains(base, [base.copy(), better], rewards, seed=1)
    assert same.gain == 0 and same.low == 0 and same.high == 0
    assert same.effective == pytest.approx(800)
    assert up.gain > 0.2 and up.low > 0


def test_tune_adopts_a_change_that_is_truly_better_when_the_benchmarks_mislead() -> None:
    narrow = settings(policy="thompson", posterior_scale=0.5, benchmark_prior_weight=1.0)
    logs, truths = synthetic_log(2000, narrow, seed=7)  # the true success is 1 - benchmark
    report = tune(logs, narrow, seed=2)
    assert report["decisions"] == 2000 and report["recommended"], report["reason"]
    chosen = parse_overrides(report["recommended"], narrow)
    assert true_value(logs, truths, chosen) > true_value(logs, truths, narrow) + 0.01
    best = report["candidates"][0]
    assert best["set"] == report["recommended"] and best["low"] > 0
    greedy = next(c for c in report["candidates"] if c["set"] == ["routing.posterior_scale=0.3"])
    assert greedy["high"] < 0  # trusting the benchmarks more is worse here, and it shows


def test_when_the_benchmarks_are_right_tune_narrows_the_draws_and_is_truly_better() -> None:
    logs, truths = synthetic_log(1500, LOGGING, seed=3)
    flipped = [
        Logged(log.arms, log.chosen, log.propensity, 1.0 - log.reward, log.confidence)
        for log in logs
    ]  # now the benchmarks are right, and LOGGING (plain Thompson) explores too much
    right = [1 - t for t in truths]
    report = tune(flipped, LOGGING, seed=4)
    assert report["recommended"] == ["routing.posterior_scale=0.3"], report["reason"]
    chosen = parse_overrides(report["recommended"], LOGGING)
    assert true_value(logs, right, chosen) > true_value(logs, right, LOGGING) + 0.02


def test_thin_evidence_keeps_the_settings() -> None:
    logs, _ = synthetic_log(60, LOGGING, seed=3)
    report = tune(logs, LOGGING, seed=4)
    assert report["recommended"] is None and "too few" in report["reason"]
    assert len(report["candidates"]) == len(candidate_overrides(LOGGING))


def test_changes_outside_a_settings_range_are_left_out() -> None:
    edge = Settings.model_validate(
        {"routing": {"hysteresis": 0.8}, "weights": {"benchmark": 0, "memory": 0, "feedback": 0}}
    )
    tried = [items[0] for items, _ in valid_candidates(edge)]
    assert "routing.hysteresis=0" in tried and "routing.hysteresis=1.6" not in tried
    assert "weights.latency=0" not in tried  # every weight at 0 is no setting
    logs, _ = synthetic_log(120, LOGGING, seed=9)
    assert len(tune(logs, edge)["candidates"]) == len(tried)


def test_a_deterministic_log_or_no_log_recommends_nothing() -> None:
    arms = [Arm(n, 0.5, 0.5, 0.0, 0.5, 0.5, False) for n in NAMES]
    logs = [Logged(arms, "a", 1.0, float(i % 2), 0.9) for i in range(200)]
    report = tune(logs, settings(policy="score"))
    assert report["recommended"] is None and "deterministic" in report["reason"]
    empty = tune([], settings())
    assert empty["recommended"] is None and empty["candidates"] == [] and "rate" in empty["reason"]


def test_the_lines_lfctl_prints_to_adopt_a_change_are_a_valid_config() -> None:
    items = ["routing.posterior_scale=1", "weights.latency=0", "routing.policy=score"]
    config = Settings.model_validate(tomllib.loads("\n".join(toml_lines(items))))
    assert config.routing.posterior_scale == 1.0 and config.routing.policy == "score"
    assert config.weights.latency == 0.0
