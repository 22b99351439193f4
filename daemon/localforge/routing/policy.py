"""Turn each model's signals into a choice, and say how likely that choice was (pure logic).

Two policies share one input, an :class:`Arm` per candidate (its four signals and
the evidence behind the memory one), so the router and the offline replay
(``routing.replay``) compute choices the same way:

- ``thompson`` (default): a Beta posterior of the model's success on this kind of
  query. The benchmark number is the prior mean, worth ``benchmark_prior_weight``
  pseudo-outcomes, and half as much again for every candidate beyond three
  (``k = benchmark_prior_weight · max(1, (m − 1) / 2)`` for m candidates: the best of
  more rivals' draws strays further, so a decision would more often go to a model other
  than the one the evidence favours); the similar past queries add their decayed,
  similarity-weighted successes and failures (``s = n·memory``,
  ``f = n·(1 − memory)``), and the model's decayed counts on the task type (mixed over
  the likely ones, ``routing.task_shares``) add at most ``task_evidence`` outcomes
  (``c = min(1, task_evidence / (S + F))``)::

      θ ~ Beta(k·b + c·S + s, k·(1 − b) + c·F + f)
      final = (w_b + w_m + w_f)·θ + w_l·latency

  (benchmark, memory and feedback all estimate the chance of success: the
  posterior takes their weights).

  A model with little evidence has a wide posterior, so it is tried now and then;
  as evidence piles up its draws settle on what this user reports. No bonus is
  tuned by hand, and old evidence decays, so the posterior widens again. Each
  draw strays from the mean by ``posterior_scale``, less for a user who rates few
  of their decisions (``draw_scale``).
- ``score``: the deterministic score with an exploration bonus (``routing.scorer``).

Selection is the same for both: below ``fallback_confidence`` a model with enough
similar successes wins outright; otherwise the best final score, except that a
resident model within ``hysteresis`` of a cold winner is kept.

Propensity, the probability the policy gave the model it chose, is estimated by
``draws`` seeded Thompson draws, the decision's own draw among them: the share of
draws whose selection (hysteresis included) picks that model. It is never below
``1/draws``. The deterministic policy's propensity is 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from localforge.settings import RoutingSettings

POLICIES = ("thompson", "score")
MIN_PRIOR = 0.05  # keeps a Beta parameter positive for a benchmark of 0 or 1


@dataclass(frozen=True)
class Arm:
    """One candidate as the policy sees it; also what the log keeps of it."""

    name: str
    benchmark: float
    memory: float  # decayed mean outcome of similar past queries (0.5 without any)
    evidence: float  # their weight n = Σ λ^days·sim
    latency: float
    feedback: float
    resident: bool
    similar: int = 0
    similar_success: float | None = None
    task_successes: float = 0.0  # decayed counts on the routed task type (``TaskEvidence``)
    task_failures: float = 0.0
    rated_share: float = 1.0  # of the user's newest decisions, rated (``memory.rated_share``)

    def to_log(self) -> dict[str, Any]:
        return {
            "benchmark": round(self.benchmark, 4),
            "memory": round(self.memory, 4),
            "evidence": round(self.evidence, 4),
            "latency": round(self.latency, 4),
            "feedback": round(self.feedback, 4),
            "resident": self.resident,
            "similar": self.similar,
            "similar_success": None
            if self.similar_success is None
            else round(self.similar_success, 4),
            "task_successes": round(self.task_successes, 4),
            "task_failures": round(self.task_failures, 4),
            "rated_share": round(self.rated_share, 4),
        }

    @classmethod
    def from_log(cls, name: str, data: dict[str, Any]) -> Arm:
        success = data.get("similar_success")
        return cls(
            name,
            float(data["benchmark"]),
            float(data["memory"]),
            float(data.get("evidence", 0.0)),
            float(data["latency"]),
            float(data["feedback"]),
            bool(data.get("resident", False)),
            int(data.get("similar", 0)),
            None if success is None else float(success),
            float(data.get("task_successes", 0.0)),
            float(data.get("task_failures", 0.0)),
            float(data.get("rated_share", 1.0)),
        )


@dataclass(frozen=True)
class Mix:
    """The four weights as the policy uses them (normalised)."""

    benchmark: float
    memory: float
    latency: float
    feedback: float


def prior_weight(routing: RoutingSettings, candidates: int) -> float:
    """How many outcomes the benchmark is worth when ``candidates`` models compete."""
    return max(routing.benchmark_prior_weight, MIN_PRIOR) * max(1.0, (candidates - 1) / 2)


def posterior(arm: Arm, routing: RoutingSettings, candidates: int) -> tuple[float, float]:
    """Beta(α, β) among ``candidates`` models: the benchmark worth ``prior_weight`` outcomes,
    the task type's counts worth at most ``task_evidence`` outcomes, and the similar past
    queries."""
    prior = min(max(arm.benchmark, MIN_PRIOR), 1.0 - MIN_PRIOR)
    k = prior_weight(routing, candidates)
    task = arm.task_successes + arm.task_failures
    scale = min(1.0, routing.task_evidence / task) if task > 0 else 0.0
    successes = arm.evidence * arm.memory
    return (
        k * prior + scale * arm.task_successes + successes,
        k * (1.0 - prior) + scale * arm.task_failures + arm.evidence - successes,
    )


def evidence_share(arm: Arm, strength: float) -> float:
    """The deterministic policy's hand-over: memory takes n/(n + k) of the benchmark's weight."""
    if strength <= 0 or arm.evidence <= 0:
        return 0.0
    return arm.evidence / (arm.evidence + strength)


def exploration_bonus(arm: Arm, routing: RoutingSettings) -> float:
    return routing.exploration / float(np.sqrt(1.0 + arm.evidence))


def deterministic_finals(arms: Sequence[Arm], mix: Mix, routing: RoutingSettings) -> np.ndarray:
    """The ``score`` policy: w_b'·benchmark + w_m'·memory + w_l·latency + w_f·feedback + bonus."""
    finals = []
    for arm in arms:
        moved = mix.benchmark * evidence_share(arm, routing.benchmark_prior_weight)
        finals.append(
            (mix.benchmark - moved) * arm.benchmark
            + (mix.memory + moved) * arm.memory
            + mix.latency * arm.latency
            + mix.feedback * arm.feedback
            + exploration_bonus(arm, routing)
        )
    return np.asarray(finals, dtype=np.float64)


def thompson_finals(
    arms: Sequence[Arm], mix: Mix, routing: RoutingSettings, draws: np.ndarray
) -> np.ndarray:
    """Final scores for success draws ``draws`` (rows × arms).

    Benchmark, memory and feedback all estimate one thing, the chance of success, so
    the posterior takes their three weights; latency keeps its own.
    """
    latency = np.asarray([a.latency for a in arms])
    return (mix.benchmark + mix.memory + mix.feedback) * draws + mix.latency * latency


def draw_scale(arm: Arm, routing: RoutingSettings) -> float:
    """How far a draw may stray from the posterior mean: ``posterior_scale``, narrowed for a
    user who rates few decisions (``rated_share ^ rated_share_power``), since a try that is
    never rated teaches nothing."""
    share = min(max(arm.rated_share, 0.0), 1.0)
    return routing.posterior_scale * share**routing.rated_share_power


def sample(
    arms: Sequence[Arm], routing: RoutingSettings, rng: np.random.Generator, rows: int
) -> np.ndarray:
    """``rows`` success draws per arm, narrowed around the mean by ``draw_scale``."""
    params = np.asarray([posterior(a, routing, len(arms)) for a in arms])
    draws = rng.beta(params[:, 0], params[:, 1], size=(rows, len(arms)))
    scale = np.asarray([draw_scale(a, routing) for a in arms])
    if (scale == 1.0).all():
        return draws
    mean = params[:, 0] / params.sum(axis=1)
    return np.clip(mean + scale * (draws - mean), 0.0, 1.0)


def pick(finals: np.ndarray, resident: np.ndarray, hysteresis: float) -> np.ndarray:
    """Per row of ``finals``: the best arm, or the best resident one within ``hysteresis``.

    Ties go to the earlier arm (callers order arms by name).
    """
    finals = np.atleast_2d(finals)
    best = finals.argmax(axis=1)
    if not resident.any():
        return best
    warm_scores = np.where(resident, finals, -np.inf)
    warm = warm_scores.argmax(axis=1)
    rows = np.arange(finals.shape[0])
    keep = ~resident[best] & (finals[rows, best] - finals[rows, warm] < hysteresis)
    return np.where(keep, warm, best)


def fallback_pick(arms: Sequence[Arm], routing: RoutingSettings) -> int | None:
    """The arm that handled enough similar queries well, or None."""
    eligible = [
        i
        for i, a in enumerate(arms)
        if a.similar >= routing.fallback_min_queries
        and (a.similar_success or 0.0) > routing.fallback_min_success
    ]
    if not eligible:
        return None
    return max(eligible, key=lambda i: (arms[i].similar_success or 0.0, arms[i].memory))


def choice_probabilities(
    arms: Sequence[Arm],
    mix: Mix,
    routing: RoutingSettings,
    confidence: float,
    *,
    rng: np.random.Generator,
    draws: int,
) -> np.ndarray:
    """How often the policy set by ``routing`` picks each arm (sums to 1)."""
    probabilities = np.zeros(len(arms))
    if confidence < routing.fallback_confidence:
        chosen = fallback_pick(arms, routing)
        if chosen is not None:
            probabilities[chosen] = 1.0
            return probabilities
    resident = np.asarray([a.resident for a in arms], dtype=bool)
    if routing.policy == "score":
        finals = deterministic_finals(arms, mix, routing)[None, :]
    else:
        finals = thompson_finals(arms, mix, routing, sample(arms, routing, rng, draws))
    picks = pick(finals, resident, routing.hysteresis)
    counts = np.bincount(picks, minlength=len(arms)).astype(np.float64)
    return counts / counts.sum()
