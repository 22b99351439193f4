"""Scoring and selection: four signals, weights, decay, fallback evidence, hysteresis."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest

from localforge.memory.scoring import NEUTRAL, memory_evidence
from localforge.memory.store import Neighbour
from localforge.routing.candidates import Candidate, ConfigCandidates
from localforge.routing.scorer import Scorer, Selection, Weights, normalise_benchmark
from localforge.settings import ModelEntry, RoutingSettings, Settings, WeightSettings

NOW = 1_800_000_000.0
DAY = 86400.0


def neighbour(
    model: str, sim: float, outcome: float, days: float = 0.0, pid: str = "x"
) -> Neighbour:
    return Neighbour(pid, sim, model, "coding", outcome, NOW - days * DAY, None)


WEIGHTS = Weights(0.4, 0.3, 0.15, 0.15)  # round numbers for the arithmetic below


def scorer(**routing: Any) -> Scorer:
    """The deterministic ``score`` policy unless ``policy`` says otherwise."""
    routing.setdefault("policy", "score")
    routing.setdefault("benchmark_prior_weight", 1.0)
    return Scorer(WEIGHTS, RoutingSettings(**routing))


def score(
    s: Scorer,
    candidates: list[Candidate],
    *,
    confidence: float = 0.9,
    task: str = "coding",
    neighbours: list[Neighbour] | None = None,
    feedback: dict[str, tuple[float, int]] | None = None,
) -> Selection:
    names = [c.name for c in candidates]
    evidence = memory_evidence(
        neighbours or [], names, top_k=10, decay=0.95, now=NOW, min_similarity=0.5
    )
    return s.score(
        candidates,
        task_type=task,
        confidence=confidence,
        evidence=evidence,
        feedback=feedback or {},
        measured_latency={},
    )


def test_benchmarks_are_scaled_to_unit_interval() -> None:
    assert normalise_benchmark("mt_bench", 7.9) == pytest.approx(0.79)
    assert normalise_benchmark("humaneval", 0.88) == pytest.approx(0.0088)  # one scale: percent
    assert normalise_benchmark("humaneval", 88.0) == pytest.approx(0.88)
    assert normalise_benchmark("gsm8k", 130.0) == 1.0


def test_weights_not_summing_to_one_are_normalised_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        weights = Weights.from_settings(
            WeightSettings(benchmark=2, memory=1, latency=1, feedback=0)
        )
    assert weights == Weights(0.5, 0.25, 0.25, 0.0)
    assert "normalising" in caplog.text
    assert Weights.from_settings(WeightSettings()) == Weights(0.45, 0.33, 0.05, 0.17) == Weights()


def test_weights_come_from_environment_names() -> None:
    from localforge.paths import Paths
    from localforge.settings import load_settings

    paths = Paths.from_env({"HOME": "/nonexistent"})
    loaded = load_settings(
        paths, env={"LOCALFORGE_WEIGHT_MEMORY": "0.5", "LOCALFORGE_WEIGHT_BENCHMARK": "0.2"}
    )
    assert loaded.settings.weights.memory == 0.5 and loaded.settings.weights.benchmark == 0.2


def test_memory_score_is_decayed_similarity_weighted_mean() -> None:
    items = [
        neighbour("a", 0.9, 1.0, days=0),
        neighbour("a", 0.8, 0.0, days=10),
        neighbour("b", 0.7, 1.0),
    ]
    evidence = memory_evidence(
        items, ["a", "b", "c"], top_k=10, decay=0.95, now=NOW, min_similarity=0.5
    )
    w1, w2 = 0.9, 0.8 * 0.95**10
    assert evidence["a"].score == pytest.approx(w1 / (w1 + w2))
    assert evidence["b"].score == pytest.approx(1.0)
    assert not evidence["c"].has_evidence and evidence["c"].score == NEUTRAL


def test_a_models_newer_neighbours_outweigh_its_older_ones_without_time_passing() -> None:
    # Ten successes, then five failures a minute later: a taste that changed in one sitting.
    old = [neighbour("a", 0.9, 1.0, days=60 / DAY, pid=f"old{i}") for i in range(10)]
    new = [neighbour("a", 0.9, 0.0, pid=f"new{i}") for i in range(5)]
    kwargs: dict[str, Any] = {"top_k": 30, "decay": 0.95, "now": NOW, "min_similarity": 0.5}
    plain = memory_evidence(old + new, ["a"], **kwargs)["a"]
    assert plain.score == pytest.approx(10 / 15, abs=1e-4)  # a minute of decay is nothing
    recent = memory_evidence(old + new, ["a"], recency_half_life=5.0, **kwargs)["a"]
    kept = [0.5 ** (rank / 5.0) for rank in range(15)]  # newest first: the five failures
    assert recent.score == pytest.approx(sum(kept[5:]) / sum(kept), abs=1e-4)
    assert recent.score < 0.5 < plain.score
    assert recent.weight == pytest.approx(0.9 * sum(kept), rel=1e-4)
    # Another model's neighbours do not count as newer outcomes of this one.
    other = [neighbour("b", 0.9, 1.0, pid=f"b{i}") for i in range(20)]
    mixed = memory_evidence(old + new + other, ["a"], recency_half_life=5.0, **kwargs)["a"]
    assert mixed.score == pytest.approx(recent.score)
    # Time decay is included, not multiplied: an outcome keeps the smaller of the two.
    month = [neighbour("a", 0.9, 1.0, pid="new"), neighbour("a", 0.9, 0.0, days=30, pid="old")]
    aged = memory_evidence(month, ["a"], recency_half_life=5.0, **kwargs)["a"]
    assert aged.weight == pytest.approx(0.9 * (1.0 + 0.95**30))


def test_neighbours_from_before_a_models_change_are_no_evidence() -> None:
    items = [
        neighbour("a", 0.9, 1.0, days=2, pid="before"),
        neighbour("a", 0.8, 0.0, days=0, pid="after"),
        neighbour("b", 0.7, 1.0, days=2, pid="other model"),
    ]
    changed = {("coding", "a"): NOW - DAY, ("math", "b"): NOW}
    evidence = memory_evidence(
        items, ["a", "b"], top_k=10, decay=1.0, now=NOW, min_similarity=0.5, changed_at=changed
    )
    assert evidence["a"].neighbours == 1 and evidence["a"].score == 0.0
    assert evidence["b"].score == 1.0  # its change was on another task type


def test_memory_keeps_top_k_nearest_per_model() -> None:
    items = [neighbour("a", 0.1 * i, float(i % 2), pid=str(i)) for i in range(1, 10)]
    evidence = memory_evidence(items, ["a"], top_k=3, decay=1.0, now=NOW, min_similarity=0.5)
    assert evidence["a"].neighbours == 3
    expected = (0.9 * 1 + 0.8 * 0 + 0.7 * 1) / (0.9 + 0.8 + 0.7)
    assert evidence["a"].score == pytest.approx(expected)


def test_final_score_combines_four_signals() -> None:
    cands = [Candidate("m", {"humaneval": 80}, avg_latency_ms=1000.0, expected_load_ms=1000.0)]
    selection = score(
        scorer(benchmark_prior_weight=0.0, exploration=0.0),
        cands,
        neighbours=[neighbour("m", 1.0, 1.0)],
        feedback={"m": (3.0, 4)},
    )
    top = selection.ranked[0]
    assert top.signals == pytest.approx(
        {"benchmark": 0.8, "memory": 1.0, "latency": 0.8, "feedback": (3 + 1) / (4 + 2)}
    )
    assert top.final == pytest.approx(0.4 * 0.8 + 0.3 * 1.0 + 0.15 * 0.8 + 0.15 * 4 / 6)


def test_missing_signals_are_neutral_and_say_so() -> None:
    selection = score(scorer(), [Candidate("m")])
    top = selection.ranked[0]
    assert top.signals["benchmark"] == NEUTRAL and top.signals["memory"] == NEUTRAL
    assert top.signals["feedback"] == NEUTRAL and top.signals["latency"] == pytest.approx(0.5)
    assert "neutral" in top.notes["memory"] and "neutral" in top.notes["benchmark"]
    assert "neutral" in top.notes["feedback"]


def test_task_type_picks_the_benchmark() -> None:
    cands = [
        Candidate("coder", {"humaneval": 90, "gsm8k": 30}),
        Candidate("mathy", {"humaneval": 30, "gsm8k": 90}),
    ]
    assert score(scorer(), cands, task="coding").winner == "coder"
    assert score(scorer(), cands, task="math").winner == "mathy"


def test_load_time_counts_against_a_cold_model() -> None:
    warm = Candidate("warm", {"humaneval": 70}, avg_latency_ms=500.0, resident=True)
    cold = Candidate("cold", {"humaneval": 70}, avg_latency_ms=500.0, expected_load_ms=4000.0)
    selection = score(scorer(hysteresis=0.0), [cold, warm])
    assert selection.winner == "warm"
    signals = {s.name: s.signals["latency"] for s in selection.ranked}
    assert signals == pytest.approx({"warm": 0.95, "cold": 0.55})


def test_hysteresis_keeps_the_resident_model_for_a_small_gain() -> None:
    cold = Candidate("cold", {"humaneval": 80}, avg_latency_ms=0.0)
    warm = Candidate("warm", {"humaneval": 75}, avg_latency_ms=0.0, resident=True)
    kept = score(scorer(hysteresis=0.05), [cold, warm])
    assert kept.ranked[0].name == "cold" and kept.winner == "warm"
    assert "kept resident warm" in kept.reason
    swapped = score(scorer(hysteresis=0.01), [cold, warm])
    assert swapped.winner == "cold" and swapped.reason.startswith("highest score")


def test_low_confidence_uses_fallback_evidence() -> None:
    cands = [Candidate("bench", {"mmlu_pro": 90}), Candidate("proven", {"mmlu_pro": 20})]
    evidence = [
        neighbour("proven", 0.8, 1.0, pid="1"),
        neighbour("proven", 0.7, 1.0, pid="2"),
        neighbour("proven", 0.6, 0.0, pid="3"),
    ]
    high = score(scorer(), cands, confidence=0.9, task="general", neighbours=evidence)
    assert high.winner == "bench" and not high.fallback
    low = score(scorer(), cands, confidence=0.2, task="general", neighbours=evidence)
    assert low.winner == "proven" and low.fallback
    assert "fallback evidence" in low.reason and "3 similar queries" in low.reason


def test_fallback_needs_two_similar_queries_above_sixty_percent() -> None:
    cands = [Candidate("bench", {"mmlu_pro": 90}), Candidate("thin", {"mmlu_pro": 20})]
    one = [neighbour("thin", 0.9, 1.0)]
    poor = [neighbour("thin", 0.9, 1.0, pid="1"), neighbour("thin", 0.9, 0.0, pid="2")]
    far = [neighbour("thin", 0.3, 1.0, pid="1"), neighbour("thin", 0.3, 1.0, pid="2")]
    for items in (one, poor, far):
        selection = score(scorer(), cands, confidence=0.1, task="general", neighbours=items)
        assert not selection.fallback and selection.winner == "bench"
        assert "no model has 2+ similar queries" in selection.reason


def test_config_candidates_come_from_models_table() -> None:
    settings = Settings(
        models=[
            ModelEntry(
                name="a",
                path="/m/a.gguf",
                benchmarks={"humaneval": 50},
                load_time_ms=1200,
                avg_latency_ms=300,
            ),
            ModelEntry(name="b", url="http://localhost:8080"),
        ]
    )
    cands = ConfigCandidates(settings).candidates()
    assert [c.name for c in cands] == ["a", "b"]
    assert cands[0].benchmarks == {"humaneval": 50} and cands[0].expected_load_ms == 1200
    assert cands[0].avg_latency_ms == 300 and not cands[0].resident
    assert [c.name for c in ConfigCandidates(lambda: Settings()).candidates()] == ["gemma3-270m"]


def test_ties_break_by_name_and_ranks_are_dense() -> None:
    selection = score(scorer(), [Candidate("b"), Candidate("a"), Candidate("c")])
    assert [s.name for s in selection.ranked] == ["a", "b", "c"]
    assert [s.rank for s in selection.ranked] == [1, 2, 3]
    assert all(math.isclose(s.final, selection.ranked[0].final) for s in selection.ranked)


# --- learning: evidence outweighs the benchmark, exploration --------------------------------


def test_evidence_takes_its_share_of_the_benchmarks_weight() -> None:
    cands = [Candidate("m", {"humaneval": 80}, avg_latency_ms=0.0)]
    items = [neighbour("m", 1.0, 0.5, pid=str(i)) for i in range(3)]  # evidence weight 3
    top = score(scorer(benchmark_prior_weight=1.0, exploration=0.0), cands, neighbours=items)
    top_m = top.ranked[0]
    share = 3.0 / (3.0 + 1.0)
    assert top_m.weights.as_dict() == pytest.approx(
        {
            "benchmark": 0.4 * (1 - share),
            "memory": 0.3 + 0.4 * share,
            "latency": 0.15,
            "feedback": 0.15,
        }
    )
    assert top_m.final == pytest.approx(
        0.1 * 0.8 + 0.6 * 0.5 + 0.15 * 1.0 + 0.15 * NEUTRAL, rel=1e-9
    )
    assert "worth 75% of the benchmark's weight" in top_m.notes["memory"]
    assert top_m.describe()["weights"] == {
        "benchmark": 0.1,
        "memory": 0.6,
        "latency": 0.15,
        "feedback": 0.15,
    }
    # Without evidence, or with the hand-over off, the configured weights apply.
    assert score(scorer(), cands).ranked[0].weights == WEIGHTS
    off = score(scorer(benchmark_prior_weight=0.0), cands, neighbours=items)
    assert off.ranked[0].weights == WEIGHTS and "worth" not in off.ranked[0].notes["memory"]


def test_strong_evidence_outweighs_the_benchmark() -> None:
    cands = [Candidate("leader", {"humaneval": 90}), Candidate("underdog", {"humaneval": 50})]
    items = [neighbour("leader", 0.9, 0.3, pid=f"l{i}") for i in range(5)] + [
        neighbour("underdog", 0.9, 0.7, pid=f"u{i}") for i in range(5)
    ]
    assert score(scorer(benchmark_prior_weight=0.0), cands, neighbours=items).winner == "leader"
    assert score(scorer(), cands, neighbours=items).winner == "underdog"
    # One faint neighbour is weak evidence: the benchmark keeps most of its weight.
    faint = [neighbour("leader", 0.2, 0.3, pid="l"), neighbour("underdog", 0.2, 0.7, pid="u")]
    kept = score(scorer(), cands, neighbours=faint).ranked[0].weights.benchmark
    assert kept == pytest.approx(0.4 * 1.0 / 1.2)


def test_exploration_bonus_fades_with_evidence() -> None:
    cands = [Candidate("tried", {"humaneval": 50}), Candidate("new", {"humaneval": 50})]
    items = [neighbour("tried", 1.0, 0.5, pid=str(i)) for i in range(3)]
    selection = score(scorer(exploration=0.2), cands, neighbours=items)
    bonus = {s.name: s.exploration for s in selection.ranked}
    assert bonus == pytest.approx({"new": 0.2, "tried": 0.2 / math.sqrt(1 + 3)})
    new = next(s for s in selection.ranked if s.name == "new")
    assert new.describe()["exploration"] == 0.2
    assert new.notes["exploration"] == "+0.200 for evidence weight 0.00"
    # Old evidence weighs less, so the bonus comes back as it decays.
    old = [neighbour("tried", 1.0, 0.5, days=60, pid=str(i)) for i in range(3)]
    faded = score(scorer(exploration=0.2), cands, neighbours=old)
    assert next(s for s in faded.ranked if s.name == "tried").exploration > bonus["tried"]
    off = score(scorer(exploration=0.0), cands, neighbours=items)
    assert all(s.exploration == 0.0 and s.notes["exploration"] == "off" for s in off.ranked)


def test_exploration_tries_a_model_the_benchmark_undersells() -> None:
    cands = [Candidate("known", {"humaneval": 60}), Candidate("untried", {"humaneval": 55})]
    items = [neighbour("known", 1.0, 0.55, pid=str(i)) for i in range(3)]
    assert score(scorer(exploration=0.0), cands, neighbours=items).winner == "known"
    chosen = [score(scorer(exploration=0.1), cands, neighbours=items).winner for _ in range(5)]
    assert chosen == ["untried"] * 5  # deterministic: no randomness in a decision


def test_memory_evidence_can_be_limited_to_the_task_type() -> None:
    items = [
        Neighbour("1", 0.9, "a", "coding", 1.0, NOW, None),
        Neighbour("2", 0.9, "a", "math", 0.0, NOW, None),
        Neighbour("3", 0.9, "b", "math", 1.0, NOW, None),
    ]
    kwargs = {"top_k": 10, "decay": 0.95, "now": NOW, "min_similarity": 0.5}
    every = memory_evidence(items, ["a", "b"], **kwargs)  # type: ignore[arg-type]
    assert every["a"].score == pytest.approx(0.5) and every["b"].has_evidence
    coding = memory_evidence(items, ["a", "b"], task_type="coding", **kwargs)  # type: ignore[arg-type]
    assert coding["a"].score == 1.0 and coding["a"].neighbours == 1
    assert not coding["b"].has_evidence and coding["b"].score == NEUTRAL


def test_learning_settings_come_from_environment_names() -> None:
    from localforge.paths import Paths
    from localforge.settings import load_settings

    paths = Paths.from_env({"HOME": "/nonexistent"})
    routing = load_settings(
        paths,
        env={
            "LOCALFORGE_ROUTING_EXPLORATION": "0.25",
            "LOCALFORGE_ROUTING_BENCHMARK_PRIOR_WEIGHT": "3",
            "LOCALFORGE_ROUTING_SAME_TASK_MEMORY": "false",
        },
    ).settings.routing
    assert routing.exploration == 0.25 and routing.benchmark_prior_weight == 3.0
    assert routing.same_task_memory is False
    defaults = RoutingSettings()
    assert (defaults.exploration, defaults.benchmark_prior_weight) == (0.1, 1.0)
    assert defaults.same_task_memory is True and defaults.policy == "thompson"


def test_explain_shows_exploration_and_the_evidence_weights() -> None:
    from lfctl.commands.route import render_explain
    from localforge.routing.trace import build_trace

    cands = [Candidate("tried", {"humaneval": 70}), Candidate("new", {"humaneval": 60})]
    items = [neighbour("tried", 1.0, 1.0, pid=str(i)) for i in range(3)]
    selection = score(scorer(), cands, neighbours=items)
    trace = build_trace(
        request_id="r1",
        kind="chat",
        classification={"routed_task_type": "coding", "confidence": 0.9, "reason": "confident"},
        weights=Weights(),
        selection=selection,
        winner=selection.winner,
        reason=selection.reason,
        forced=False,
        neighbours=len(items),
        memory_note=None,
        timings_ms={"total": 1.0},
        recorded=False,
    )
    tried = next(c for c in trace["candidates"] if c["model"] == "tried")
    assert tried["exploration"] == pytest.approx(0.05) and tried["weights"]["memory"] == 0.6
    text = render_explain(trace)
    assert "explore" in text and "+0.100" in text and "+0.050" in text
    assert "benchmark/memory weights after evidence: tried 0.10/0.60" in text
