"""The routing policy: Beta posteriors, Thompson draws, hysteresis and propensities."""

from __future__ import annotations

import numpy as np
import pytest

from localforge.memory.task_evidence import DAY_S, TaskEvidence
from localforge.routing.candidates import Candidate
from localforge.routing.policy import (
    Arm,
    Mix,
    choice_probabilities,
    draw_scale,
    pick,
    posterior,
    prior_weight,
    sample,
)
from localforge.routing.scorer import Scorer, Weights
from localforge.settings import RoutingSettings

MIX = Mix(0.4, 0.3, 0.15, 0.15)


def arm(name: str, benchmark: float, **kw: object) -> Arm:
    fields: dict[str, object] = {"memory": 0.5, "evidence": 0.0, "latency": 0.5, "feedback": 0.5}
    fields.update(kw)
    return Arm(name, benchmark, resident=bool(fields.pop("resident", False)), **fields)  # type: ignore[arg-type]


def test_without_evidence_the_posterior_mean_is_the_benchmark() -> None:
    alpha, beta = posterior(arm("m", 0.8), RoutingSettings(benchmark_prior_weight=2.0), 3)
    assert (alpha, beta) == pytest.approx((1.6, 0.4))


def test_the_prior_weighs_half_again_for_every_candidate_beyond_three() -> None:
    routing = RoutingSettings(benchmark_prior_weight=2.0)
    assert [prior_weight(routing, m) for m in (1, 2, 3, 4, 5, 9)] == [2.0, 2.0, 2.0, 3.0, 4.0, 8.0]
    assert posterior(arm("m", 0.8), routing, 5) == pytest.approx((3.2, 0.8))
    memory = arm("m", 0.8, memory=0.25, evidence=4.0)
    assert posterior(memory, routing, 5) == pytest.approx((3.2 + 1.0, 0.8 + 3.0))


def test_similar_outcomes_and_capped_task_counts_are_evidence() -> None:
    routing = RoutingSettings(benchmark_prior_weight=2.0, task_evidence=10.0)
    local = posterior(arm("m", 0.8, memory=0.25, evidence=4.0), routing, 3)
    assert local == pytest.approx((1.6 + 1.0, 0.4 + 3.0))
    counted = posterior(arm("m", 0.8, task_successes=10.0, task_failures=30.0), routing, 3)
    assert counted == pytest.approx((1.6 + 2.5, 0.4 + 7.5))  # 40 outcomes worth at most 10


def test_hysteresis_keeps_a_resident_model_unless_the_gain_pays() -> None:
    finals = np.array([[0.70, 0.68], [0.80, 0.68]])
    resident = np.array([False, True])
    assert list(pick(finals, resident, 0.05)) == [1, 0]
    assert list(pick(finals, np.array([False, False]), 0.05)) == [0, 0]


def test_probabilities_sum_to_one_and_follow_the_posteriors() -> None:
    routing = RoutingSettings(posterior_scale=1.0, benchmark_prior_weight=2.0, hysteresis=0.0)
    arms = [arm("good", 0.9), arm("bad", 0.2)]
    probs = choice_probabilities(arms, MIX, routing, 0.9, rng=np.random.default_rng(0), draws=2000)
    assert probs.sum() == pytest.approx(1.0) and 0.6 < probs[0] < 1.0 and probs[1] > 0.0
    sharp = RoutingSettings(posterior_scale=0.0, benchmark_prior_weight=2.0, hysteresis=0.0)
    greedy = choice_probabilities(arms, MIX, sharp, 0.9, rng=np.random.default_rng(0), draws=50)
    assert list(greedy) == [1.0, 0.0]


def test_low_confidence_fallback_is_certain() -> None:
    routing = RoutingSettings()
    arms = [arm("a", 0.9), arm("b", 0.2, similar=3, similar_success=1.0)]
    probs = choice_probabilities(arms, MIX, routing, 0.1, rng=np.random.default_rng(0), draws=64)
    assert list(probs) == [0.0, 1.0]


def scorer(seed: int, **routing: object) -> Scorer:
    return Scorer(Weights(), RoutingSettings(**routing), np.random.default_rng(seed))  # type: ignore[arg-type]


CANDIDATES = [
    Candidate("coder", {"humaneval": 88}, avg_latency_ms=1000.0),
    Candidate("talker", {"humaneval": 60}, avg_latency_ms=1000.0),
]


def decide(  # type: ignore[no-untyped-def]
    s: Scorer,
    task_counts: dict[str, tuple[float, float]] | None = None,
    candidates: list[Candidate] = CANDIDATES,
):
    return s.score(
        candidates,
        task_type="coding",
        confidence=0.9,
        evidence={},
        feedback={},
        measured_latency={},
        task_counts=task_counts,
    )


def test_thompson_selection_reports_its_propensity_and_posteriors() -> None:
    selection = decide(scorer(1, posterior_scale=1.0, propensity_draws=200))
    assert selection.policy == "thompson"
    winner = next(s for s in selection.ranked if s.name == selection.winner)
    assert selection.propensity == winner.probability >= 1 / 200
    assert sum(s.probability for s in selection.ranked) == pytest.approx(1.0)
    described = winner.describe()
    assert set(described["posterior"]) == {"alpha", "beta", "mean", "draw", "scale"}
    assert "picked in" in winner.notes["posterior"] and "of draws" in selection.reason


def test_a_decision_among_five_models_weighs_the_benchmark_twice() -> None:
    five = [Candidate(f"m{i}", {"humaneval": 50 + 10 * i}, avg_latency_ms=1000.0) for i in range(5)]
    selection = decide(scorer(1), candidates=five)
    for scored in selection.ranked:
        assert scored.posterior is not None and scored.arm is not None
        total = scored.posterior["alpha"] + scored.posterior["beta"]
        assert total == pytest.approx(2.0)  # the default 1 outcome, times (5 - 1) / 2
        assert scored.posterior["mean"] == pytest.approx(scored.arm.benchmark)


def test_seeded_decisions_repeat() -> None:
    first = [decide(scorer(7, posterior_scale=1.0)).winner for _ in range(1)]
    again = [decide(scorer(7, posterior_scale=1.0)).winner for _ in range(1)]
    assert first == again


def test_task_counts_overturn_a_misleading_benchmark() -> None:
    counts = {"coder": (2.0, 18.0), "talker": (17.0, 3.0)}
    wins = [decide(scorer(seed), task_counts=counts).winner for seed in range(40)]
    assert wins.count("talker") >= 36
    assert [decide(scorer(seed)).winner for seed in range(40)].count("coder") >= 30


def test_task_counts_decay_and_a_replaced_outcome_is_taken_back() -> None:
    counts = TaskEvidence(decay=0.5)
    counts.add("coding", "m", 1.0, at=0.0)
    counts.add("coding", "m", 0.0, at=DAY_S)
    assert counts.get("coding", "m", now=DAY_S) == pytest.approx((0.5, 1.0))
    counts.add("coding", "m", 1.0, at=DAY_S, previous=0.0)  # the later rating changed its mind
    assert counts.get("coding", "m", now=2 * DAY_S) == pytest.approx((0.75, 0.0))
    assert counts.get("math", "m", now=0.0) == (0.0, 0.0)
    counts.load([("math", "m", 1.0, 0.0, None)])
    assert counts.get("coding", "m", now=0.0) == (0.0, 0.0)
    assert counts.get("math", "m", now=0.0) == (1.0, 0.0)


def test_each_new_outcome_fades_every_models_older_ones_on_the_task_type() -> None:
    counts = TaskEvidence(decay=1.0, half_life=0.5)  # no time decay; two models: each halves
    counts.add("coding", "coder", 1.0, at=0.0)
    counts.add("coding", "talker", 0.0, at=1.0)
    counts.add("coding", "coder", 1.0, at=2.0)
    counts.add("math", "coder", 0.0, at=3.0)  # another task type fades nothing on coding
    assert counts.get("coding", "coder", now=3.0) == pytest.approx((1.25, 0.0))
    assert counts.get("coding", "talker", now=3.0) == pytest.approx((0.0, 0.5))
    counts.add("coding", "talker", 1.0, at=1.0, previous=0.0)  # a changed rating is not newer
    assert counts.get("coding", "coder", now=3.0) == pytest.approx((1.25, 0.0))
    assert counts.get("coding", "talker", now=3.0) == pytest.approx((1.0, 0.0))


def test_time_decay_counts_towards_the_fading_and_a_reload_repeats_it() -> None:
    """Half a day of λ = 0.25 per day is already a halving: the newer outcome adds no fading."""
    counts = TaskEvidence(decay=0.25, half_life=1.0)
    counts.add("coding", "coder", 1.0, at=0.0)
    counts.add("coding", "coder", 0.0, at=DAY_S / 2)
    assert counts.get("coding", "coder", now=DAY_S / 2) == pytest.approx((0.5, 1.0))
    counts.add("coding", "coder", 0.0, at=DAY_S / 2 + 1.0)  # a second later: halved by count
    live = counts.get("coding", "coder", now=DAY_S)
    assert live == pytest.approx((0.125, 0.75), rel=1e-3)
    again = TaskEvidence(decay=0.25, half_life=1.0)
    again.load(
        [
            ("coding", "coder", v, t, None)
            for v, t in ((0.0, DAY_S / 2 + 1.0), (1.0, 0.0), (0.0, DAY_S / 2))
        ]
    )
    assert again.get("coding", "coder", now=DAY_S) == pytest.approx(live)


def test_newest_outcomes_unlike_the_older_ones_drop_them() -> None:
    """Twenty successes, then failures: the third in a row is unlikely enough.

    Window [1, 1, 0, 0] against 18 of 18 (Laplace 19/20): P(X ≤ 2) = 0.014, kept at 1%;
    [1, 0, 0, 0] against 19 of 19: P(X ≤ 1) = 0.0004, dropped.
    """
    counts = TaskEvidence(decay=1.0, change_window=4, change_level=0.01)
    for i in range(20):
        counts.add("coding", "coder", 1.0, at=float(i))
    for i in range(2):
        counts.add("coding", "coder", 0.0, at=20.0 + i)
    assert counts.get("coding", "coder", now=30.0) == pytest.approx((20.0, 2.0))
    assert counts.changes() == {}
    counts.add("coding", "coder", 0.0, at=22.0)
    assert counts.get("coding", "coder", now=30.0) == pytest.approx((1.0, 3.0))
    assert counts.changes() == {("coding", "coder"): 22.0}
    # Another model, or the same model on another task type, keeps its counts.
    counts.add("math", "coder", 1.0, at=24.0)
    assert counts.get("math", "coder", now=30.0) == (1.0, 0.0)


def test_outcomes_that_fit_the_older_ones_or_too_few_of_these_drop_nothing() -> None:
    counts = TaskEvidence(decay=1.0, change_window=4, change_level=0.01)
    for i in range(40):  # a steady 50%: a window of 0 or 4 successes has p = 1/16 each way
        counts.add("coding", "coder", float(i % 2), at=float(i))
    counts.add("coding", "coder", 1.0, at=40.0)
    assert counts.changes() == {}
    few = TaskEvidence(decay=1.0, change_window=4, change_level=0.01)
    for i, value in enumerate([1.0, 1.0, 0.0, 0.0, 0.0, 0.0]):  # two older outcomes: no test
        few.add("coding", "coder", value, at=float(i))
    assert few.changes() == {}
    assert few.get("coding", "coder", now=9.0) == (2.0, 4.0)


def test_a_dropped_past_is_dropped_again_on_reload() -> None:
    rows = [("coding", "coder", 1.0, float(i), None) for i in range(20)]
    rows += [("coding", "coder", 0.0, 20.0 + i, None) for i in range(3)]
    counts = TaskEvidence(decay=1.0, change_window=4)
    counts.load(rows)
    assert counts.changes() == {("coding", "coder"): 22.0}
    assert counts.get("coding", "coder", now=30.0) == pytest.approx((1.0, 3.0))


def test_draws_narrow_for_a_user_who_rates_few_decisions() -> None:
    routing = RoutingSettings(posterior_scale=0.5, rated_share_power=0.3)
    rater, rare = arm("m", 0.6), arm("m", 0.6, rated_share=0.1)
    assert draw_scale(rater, routing) == pytest.approx(0.5)
    assert draw_scale(rare, routing) == pytest.approx(0.5 * 0.1**0.3)
    rng = np.random.default_rng(0)
    spread = [float(sample([a], routing, rng, 4000).std()) for a in (rater, rare)]
    assert spread[1] / spread[0] == pytest.approx(0.1**0.3, rel=0.1)
    off = RoutingSettings(posterior_scale=0.5, rated_share_power=0.0)
    assert draw_scale(rare, off) == pytest.approx(0.5)
    logged = Arm.from_log("m", rare.to_log())
    assert logged.rated_share == 0.1 and Arm.from_log("m", {**rater.to_log()}).rated_share == 1.0
