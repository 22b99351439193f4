"""Offline replay: IPS and self-normalised IPS recover a known policy value from synthetic logs."""

from __future__ import annotations

import numpy as np
import pytest

from localforge.errors import InvalidParams
from localforge.routing.policy import Arm, choice_probabilities
from localforge.routing.replay import (
    RESAMPLE_CELLS,
    Logged,
    bootstrap,
    logged_value,
    mix_of,
    parse_overrides,
    replay,
    replay_rows,
    resamples,
    target_probabilities,
)
from localforge.settings import Settings

NAMES = ("a", "b", "c")


def settings(**routing: object) -> Settings:
    return Settings.model_validate({"routing": routing})


def synthetic_log(
    n: int, logging: Settings, seed: int = 1
) -> tuple[list[Logged], list[np.ndarray]]:
    """Contexts with random signals; the true success of each arm is known per context."""
    rng = np.random.default_rng(seed)
    logs, truths = [], []
    mix = mix_of(logging.weights)
    for _ in range(n):
        bench = rng.uniform(0.2, 0.9, 3)
        arms = [
            Arm(name, float(b), 0.5, 0.0, 0.5, 0.5, resident=False)
            for name, b in zip(NAMES, bench, strict=True)
        ]
        truth = np.clip(1.0 - bench + rng.normal(0, 0.05, 3), 0.05, 0.95)  # benchmarks mislead
        probs = choice_probabilities(
            arms,
            mix,
            logging.routing,
            0.9,
            rng=np.random.default_rng(rng.integers(2**31)),
            draws=4096,
        )
        k = int(rng.choice(3, p=probs))
        reward = float(rng.random() < truth[k])
        logs.append(Logged(arms, NAMES[k], float(probs[k]), reward, 0.9))
        truths.append(truth)
    return logs, truths


def true_value(logs: list[Logged], truths: list[np.ndarray], target: Settings) -> float:
    mix = mix_of(target.weights)
    values = []
    for log, truth in zip(logs, truths, strict=True):
        probs = choice_probabilities(
            log.arms, mix, target.routing, log.confidence, rng=np.random.default_rng(0), draws=4096
        )
        values.append(float(probs @ truth))
    return float(np.mean(values))


LOGGING = settings(policy="thompson", posterior_scale=1.0, benchmark_prior_weight=1.0)


def test_ips_and_snips_recover_the_value_of_a_deterministic_target() -> None:
    logs, truths = synthetic_log(3000, LOGGING)
    target = settings(policy="score", exploration=0.0)  # always the best benchmark: a bad idea here
    truth = true_value(logs, truths, target)
    report = replay(logs, target, seed=3)
    for name in ("ips", "snips"):
        estimate = report[name]
        assert estimate["low"] <= truth <= estimate["high"], (name, estimate, truth)
        assert abs(estimate["value"] - truth) < 0.05
    assert report["logged"]["value"] > truth  # the logged policy explored, so it did better
    assert report["decisions"] == 3000 and report["matched"] < 3000 and report["warning"] is None


def test_replaying_the_logging_settings_gives_the_logged_value() -> None:
    logs, _ = synthetic_log(1500, LOGGING, seed=2)
    report = replay(logs, LOGGING, seed=4)
    assert report["snips"]["value"] == pytest.approx(report["logged"]["value"], abs=0.03)
    assert report["ips"]["low"] <= report["logged"]["value"] <= report["ips"]["high"]


def test_a_stochastic_target_is_estimated_too() -> None:
    logs, truths = synthetic_log(3000, LOGGING, seed=5)
    target = settings(policy="thompson", posterior_scale=0.3, benchmark_prior_weight=1.0)
    truth = true_value(logs, truths, target)
    report = replay(logs, target, seed=6)
    assert report["snips"]["low"] <= truth <= report["snips"]["high"]


def test_bootstrap_interval_narrows_with_more_decisions() -> None:
    rng = np.random.default_rng(0)
    widths = []
    for n in (100, 2500):
        weights = rng.uniform(0.5, 2.0, n)
        rewards = (rng.random(n) < 0.6).astype(float)
        ips, snips = bootstrap(weights, rewards, seed=1)
        assert ips.low <= ips.value <= ips.high and snips.low <= snips.value <= snips.high
        widths.append(ips.high - ips.low)
    assert widths[1] < widths[0] / 3


def test_logged_value_has_a_normal_interval() -> None:
    estimate = logged_value(np.array([1.0, 0.0] * 50))
    assert estimate.value == 0.5 and estimate.low == pytest.approx(0.5 - 1.96 * 0.5025 / 10, 1e-3)


def test_a_deterministic_log_is_flagged() -> None:
    arms = [Arm(n, 0.5, 0.5, 0.0, 0.5, 0.5, False) for n in NAMES]
    logs = [Logged(arms, "a", 1.0, 1.0, 0.9)] * 10
    report = replay(logs, settings(policy="score"))
    assert report["warning"] and "deterministic" in report["warning"]


def test_rows_without_replayable_signals_are_skipped_and_counted() -> None:
    arms = {n: {"benchmark": 0.5, "memory": 0.5, "latency": 0.5, "feedback": 0.5} for n in NAMES}
    old = {n: {"final": 0.5} for n in NAMES}  # logged before the evidence was kept
    report = replay_rows(
        [(arms, "a", 0.5, 1.0, 0.9), (old, "a", 0.5, 1.0, 0.9)], Settings(), missing=3
    )
    assert report["decisions"] == 1 and report["skipped"] == 4


def test_target_probabilities_follow_the_override() -> None:
    arms = [Arm("a", 0.9, 0.5, 0.0, 0.5, 0.5, False), Arm("b", 0.1, 0.5, 0.0, 0.5, 0.5, False)]
    logs = [Logged(arms, "b", 0.5, 1.0, 0.9)]
    assert target_probabilities(logs, settings(policy="score"))[0] == 0.0
    assert target_probabilities(logs, settings(policy="score", **{"hysteresis": 0.0}))[0] == 0.0


def test_overrides_are_validated_with_a_named_cause() -> None:
    changed = parse_overrides(["weights.memory=0.5", "routing.exploration=0"], Settings())
    assert changed.weights.memory == 0.5 and changed.routing.exploration == 0.0
    with pytest.raises(InvalidParams, match=r"memory\.decay cannot be replayed"):
        parse_overrides(["memory.decay=0.9"], Settings())
    with pytest.raises(InvalidParams, match="cannot be replayed"):
        parse_overrides(["routing.same_task_memory=false"], Settings())
    with pytest.raises(InvalidParams, match=r"routing\.task_share_min cannot be replayed"):
        parse_overrides(["routing.task_share_min=1"], Settings())
    with pytest.raises(InvalidParams, match=r"unknown setting 'routing\.explore'"):
        parse_overrides(["routing.explore=1"], Settings())
    with pytest.raises(InvalidParams, match=r"SECTION\.NAME=VALUE"):
        parse_overrides(["weights"], Settings())
    with pytest.raises(InvalidParams, match="invalid replay setting"):
        parse_overrides(["routing.exploration=7"], Settings())


def test_bootstrap_memory_is_bounded_at_any_history_length() -> None:
    blocks = list(resamples(50_000, 1000, seed=3))
    assert sum(len(block) for block in blocks) == 1000
    assert all(block.size <= RESAMPLE_CELLS and block.shape[1] == 50_000 for block in blocks)
    small = np.concatenate(list(resamples(200, 1000, seed=3)))
    assert small.shape == (1000, 200) and small.max() < 200
