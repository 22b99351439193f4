"""A decision shares itself between the task types the classifier hesitates between."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest

from localforge.memory.scoring import memory_evidence
from localforge.memory.store import Neighbour
from localforge.memory.task_evidence import TaskEvidence
from localforge.routing.candidates import Candidate, StaticCandidates
from localforge.routing.router import Router, mixed_counts
from localforge.routing.scorer import Scorer, Weights
from localforge.routing.task_shares import task_shares
from localforge.settings import RoutingSettings, Settings

from .test_router import FakeMemory

UNSURE = {
    "task_type": "coding",
    "confidence": 0.5,
    "probabilities": {"coding": 0.5, "instruction": 0.4, "general": 0.06, "math": 0.04},
    "routed_task_type": "general",  # below min_confidence: the classifier's fallback
    "reason": "confidence 0.50 < 0.60: routed as general",
}


def test_an_unsure_label_shares_the_decision_with_its_runner_up() -> None:
    shares = task_shares(UNSURE, 0.15)
    assert list(shares) == ["coding", "instruction"]
    assert shares["coding"] == pytest.approx(0.5 / 0.9)
    assert sum(shares.values()) == pytest.approx(1.0)


def test_a_confident_label_or_a_floor_of_one_keeps_the_whole_decision() -> None:
    sure = {**UNSURE, "probabilities": {"coding": 0.9, "math": 0.1}, "routed_task_type": "coding"}
    assert task_shares(sure, 0.15) == {"coding": 1.0}
    assert task_shares(UNSURE, 1.0) == {"general": 1.0}  # the routed type alone, as before
    no_probabilities = {**UNSURE, "probabilities": {}}
    assert task_shares(no_probabilities, 0.15) == {"general": 1.0}


def test_the_benchmark_prior_mixes_the_task_types_numbers() -> None:
    candidate = Candidate("coder", {"humaneval": 80, "mt_bench": 6.0})
    selection = Scorer(Weights(), RoutingSettings(policy="score")).score(
        [candidate],
        task_type="general",
        confidence=0.5,
        evidence={},
        feedback={},
        measured_latency={},
        task_shares={"coding": 0.75, "instruction": 0.25},
    )
    scored = selection.ranked[0]
    assert scored.signals["benchmark"] == pytest.approx(0.75 * 0.8 + 0.25 * 0.6)
    assert scored.notes["benchmark"] == "0.75·(humaneval 80) + 0.25·(mt_bench 6)"


def test_neighbours_count_with_the_share_of_their_task_type() -> None:
    now = 1_800_000_000.0
    items = [
        Neighbour("1", 0.9, "a", "coding", 1.0, now, None),
        Neighbour("2", 0.9, "a", "instruction", 0.0, now, None),
        Neighbour("3", 0.9, "a", "math", 0.0, now, None),
    ]
    evidence = memory_evidence(
        items,
        ["a"],
        top_k=10,
        decay=0.95,
        now=now,
        min_similarity=0.5,
        task_shares={"coding": 0.75, "instruction": 0.25},
    )["a"]
    assert evidence.neighbours == 2  # the math one is not evidence
    assert evidence.score == pytest.approx(0.75)
    assert evidence.weight == pytest.approx(0.9)


def test_task_type_counts_are_mixed_by_share() -> None:
    counts = TaskEvidence(decay=1.0)
    now = 1_800_000_000.0
    for i in range(4):
        counts.add("coding", "a", 1.0, now + i)
    for i in range(2):
        counts.add("instruction", "a", 0.0, now + 10 + i)
    successes, failures = mixed_counts(counts, {"coding": 0.5, "instruction": 0.5}, "a", now + 20)
    assert (successes, failures) == pytest.approx((2.0, 1.0))


class UnsureClassifier:
    max_chars = 4000
    min_confidence = 0.6
    version = "unsure-1"
    features = "tfidf"
    needs_embedding = False

    def classify(self, text: str, embedding: np.ndarray | None = None) -> Any:
        class Result:
            def to_dict(self) -> dict[str, Any]:
                return dict(UNSURE)

        return Result()


def route(share_min: float, neighbours: list[Neighbour] | None = None) -> Any:
    settings = Settings.model_validate(
        {"routing": {"policy": "score", "task_share_min": share_min, "exploration": 0.0}}
    )
    candidates = [
        Candidate("coder", {"humaneval": 90, "mmlu_pro": 30, "mt_bench": 6.0}),
        Candidate("talker", {"humaneval": 30, "mmlu_pro": 70, "mt_bench": 6.0}),
    ]
    router = Router(
        FakeMemory(neighbours=neighbours or []),
        StaticCandidates(candidates),
        lambda: settings,
        lambda: UnsureClassifier(),
    )
    return asyncio.run(router.route("rewrite this function so it reads better"))


def test_an_unsure_query_is_decided_on_its_likely_task_types_not_on_the_fallback() -> None:
    shared = route(0.15)
    assert shared.task_type == "general"  # what is recorded and shown is still the fallback
    assert shared.trace["task_shares"] == {"coding": 0.5556, "instruction": 0.4444}
    assert shared.model == "coder"  # HumanEval 90 and MT-Bench 6 beat MMLU-Pro 70
    from lfctl.commands.route import render_explain

    assert "decided   on coding 0.56 + instruction 0.44" in render_explain(shared.trace)
    alone = route(1.0)
    assert alone.trace["task_shares"] == {"general": 1.0}
    assert alone.model == "talker"  # general reads MMLU-Pro alone
    assert "decided" not in render_explain(alone.trace)


def test_past_queries_of_a_likely_task_type_are_evidence_for_an_unsure_one() -> None:
    now = time.time()
    neighbours = [
        Neighbour(f"{model}{i}", 0.9, model, "instruction", outcome, now, None)
        for model, outcome in (("talker", 1.0), ("coder", 0.0))
        for i in range(6)
    ]
    shared = route(0.15, neighbours)
    talker = next(c for c in shared.trace["candidates"] if c["model"] == "talker")
    assert talker["memory"]["evidence"] and shared.model == "talker"
    assert shared.trace["memory"] == "ok"
