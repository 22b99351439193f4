"""Score every candidate on four signals and pick one (pure logic, no I/O).

``final = w_b·benchmark + w_m·memory + w_l·latency + w_f·feedback``

- benchmark: the published number for the task type's benchmark, scaled to [0, 1];
- memory: the decayed outcome of similar past queries (see ``memory.scoring``);
- latency: ``1 − (avg_latency_ms + expected load time if not resident) / 10000``, clamped;
- feedback: (Σ outcome + 1) / (rated requests + 2), i.e. 0.5 with no feedback.

The weights are the configured ones for a model with no evidence. Evidence
from similar past queries (weight ``n = Σ λ^days·sim``) takes the share
``n / (n + benchmark_prior_weight)`` of the benchmark's weight, so a user's
own outcomes come to outweigh published numbers. A model with little evidence
gets ``exploration / sqrt(1 + n)`` on top, so one that the benchmarks
undersell is still tried; the bonus is deterministic and fades as evidence
arrives (and returns as old evidence decays). Both show in the trace.

With ``routing.policy = "thompson"`` (the default) benchmark and memory are one
Beta posterior of the model's success instead, and the score uses a draw from
it (``routing.policy`` explains; the trace shows each posterior's mean, the draw
and the probability the policy gave each model).

Below ``fallback_confidence`` a model that handled enough similar queries well
wins on that evidence. A resident model within ``hysteresis`` of a cold winner
is kept, since the gain does not pay for the swap.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from localforge.benchmarks import (
    NEUTRAL_PRIOR,
    benchmark_for,
    normalise_benchmark,
)
from localforge.memory.scoring import NEUTRAL, MemoryEvidence
from localforge.routing.candidates import Candidate
from localforge.routing.policy import (
    Arm,
    Mix,
    deterministic_finals,
    draw_scale,
    evidence_share,
    exploration_bonus,
    fallback_pick,
    pick,
    posterior,
    sample,
    thompson_finals,
)
from localforge.settings import RoutingSettings, WeightSettings

log = logging.getLogger(__name__)

LATENCY_SCALE_MS = 10_000.0
UNKNOWN_LATENCY_MS = 5_000.0  # maps to the neutral 0.5 for a resident model
FEEDBACK_PRIOR = 2.0  # pseudo-ratings at 0.5
SIGNALS = ("benchmark", "memory", "latency", "feedback")


@dataclass(frozen=True)
class Weights:
    benchmark: float = 0.45
    memory: float = 0.33
    latency: float = 0.05
    feedback: float = 0.17

    @classmethod
    def from_settings(cls, settings: WeightSettings) -> Weights:
        raw = cls(settings.benchmark, settings.memory, settings.latency, settings.feedback)
        return raw.normalised()

    def normalised(self) -> Weights:
        total = self.benchmark + self.memory + self.latency + self.feedback  # > 0: settings check
        if math.isclose(total, 1.0, abs_tol=1e-6):
            return self
        log.warning("routing weights sum to %.4g, not 1; normalising them", total)
        return Weights(
            self.benchmark / total, self.memory / total, self.latency / total, self.feedback / total
        )

    def with_evidence(self, share: float) -> Weights:
        """Hand ``share`` of the benchmark's weight to the memory (the sum stays the same)."""
        if share <= 0:
            return self
        moved = self.benchmark * share
        return Weights(self.benchmark - moved, self.memory + moved, self.latency, self.feedback)

    def mix(self) -> Mix:
        return Mix(self.benchmark, self.memory, self.latency, self.feedback)

    def as_dict(self) -> dict[str, float]:
        return {name: round(getattr(self, name), 4) for name in SIGNALS}


@dataclass(frozen=True)
class Scored:
    name: str
    signals: dict[str, float]
    notes: dict[str, str]
    final: float
    resident: bool
    memory: MemoryEvidence
    weights: Weights  # the configured ones, after the evidence hand-over
    exploration: float = 0.0
    rank: int = 0
    arm: Arm | None = None
    probability: float = 0.0  # how often the policy picks this model here
    posterior: dict[str, float] | None = None  # thompson: alpha, beta, mean, draw

    def describe(self) -> dict[str, Any]:
        described = {
            "model": self.name,
            "rank": self.rank,
            "final": round(self.final, 4),
            "signals": {k: round(v, 4) for k, v in self.signals.items()},
            "weights": self.weights.as_dict(),
            "exploration": round(self.exploration, 4),
            "probability": round(self.probability, 4),
            "notes": self.notes,
            "resident": self.resident,
            "memory": self.memory.describe(),
        }
        if self.posterior is not None:
            described["posterior"] = {k: round(v, 4) for k, v in self.posterior.items()}
        return described


@dataclass(frozen=True)
class Selection:
    winner: str
    reason: str
    fallback: bool
    ranked: list[Scored] = field(default_factory=list)
    policy: str = "score"
    propensity: float = 1.0  # the probability the policy gave the winner


def benchmark_part(candidate: Candidate, task_type: str) -> tuple[float, str]:
    """The candidate's benchmark signal for one task type, and how it was found."""
    key = benchmark_for(task_type)
    raw = candidate.benchmarks.get(key)
    if raw is None:
        return NEUTRAL_PRIOR, f"no {key} number: neutral"
    return normalise_benchmark(key, float(raw)), f"{key} {raw:g}"


class Scorer:
    def __init__(
        self, weights: Weights, routing: RoutingSettings, rng: np.random.Generator | None = None
    ) -> None:
        self.weights = weights
        self.routing = routing
        self.rng = rng if rng is not None else np.random.default_rng()

    def score(
        self,
        candidates: Sequence[Candidate],
        *,
        task_type: str,
        confidence: float,
        evidence: Mapping[str, MemoryEvidence],
        feedback: Mapping[str, tuple[float, int]],
        measured_latency: Mapping[str, float],
        task_counts: Mapping[str, tuple[float, float]] | None = None,
        task_shares: Mapping[str, float] | None = None,
        rated_share: float = 1.0,
        kind: str = "chat",
    ) -> Selection:
        """Score and select; ``task_counts`` are each model's decayed (successes, failures),
        ``task_shares`` the task types whose benchmarks the prior mixes (``task_type`` alone
        without them), ``rated_share`` the share of the user's newest decisions of this
        ``kind`` of request rated."""
        if not candidates:
            raise ValueError("no candidates to score")
        shares = task_shares or {task_type: 1.0}
        ordered = sorted(candidates, key=lambda c: c.name)
        counts = task_counts or {}
        built = [
            self._signals(
                c,
                shares,
                evidence,
                feedback,
                measured_latency,
                counts.get(c.name, (0.0, 0.0)),
                rated_share,
            )
            for c in ordered
        ]
        arms = [arm for arm, _, _ in built]
        finals, probabilities, posteriors = self._finals(arms)
        scored = [
            self._scored(
                arm,
                notes,
                memory,
                float(finals[i]),
                float(probabilities[i]),
                None if posteriors is None else posteriors[i],
                kind,
            )
            for i, (arm, notes, memory) in enumerate(built)
        ]
        return self._select(scored, arms, finals, probabilities, confidence)

    def _finals(
        self, arms: list[Arm]
    ) -> tuple[np.ndarray, np.ndarray, list[dict[str, float]] | None]:
        """Each arm's final score and the probability the policy picks it (before fallback)."""
        mix = self.weights.mix()
        resident = np.asarray([a.resident for a in arms], dtype=bool)
        if self.routing.policy == "score":
            finals = deterministic_finals(arms, mix, self.routing)
            probabilities = np.zeros(len(arms))
            probabilities[pick(finals, resident, self.routing.hysteresis)[0]] = 1.0
            return finals, probabilities, None
        draws = sample(arms, self.routing, self.rng, self.routing.propensity_draws)
        every = thompson_finals(arms, mix, self.routing, draws)
        picks = pick(every, resident, self.routing.hysteresis)
        probabilities = np.bincount(picks, minlength=len(arms)) / len(picks)
        posteriors = []
        for i, arm in enumerate(arms):
            alpha, beta = posterior(arm, self.routing, len(arms))
            posteriors.append(
                {
                    "alpha": alpha,
                    "beta": beta,
                    "mean": alpha / (alpha + beta),
                    "draw": draws[0, i],
                    "scale": draw_scale(arm, self.routing),
                }
            )
        return every[0], probabilities, posteriors

    def _scored(
        self,
        arm: Arm,
        notes: dict[str, str],
        memory: MemoryEvidence,
        final: float,
        probability: float,
        post: dict[str, float] | None,
        kind: str,
    ) -> Scored:
        signals = {
            "benchmark": arm.benchmark,
            "memory": arm.memory,
            "latency": arm.latency,
            "feedback": arm.feedback,
        }
        if post is None:
            share = evidence_share(arm, self.routing.benchmark_prior_weight)
            if share:
                notes["memory"] += f", worth {share:.0%} of the benchmark's weight"
            bonus = exploration_bonus(arm, self.routing)
            notes["exploration"] = (
                f"+{bonus:.3f} for evidence weight {arm.evidence:.2f}" if bonus else "off"
            )
            return Scored(
                arm.name,
                signals,
                notes,
                final,
                arm.resident,
                memory,
                self.weights.with_evidence(share),
                bonus,
                arm=arm,
                probability=probability,
            )
        narrowed = ""
        if arm.rated_share < 1.0 and self.routing.rated_share_power > 0:
            narrowed = (
                f" (spread {post['scale']:.2f}: {arm.rated_share:.0%} of {kind} decisions rated)"
            )
        notes["posterior"] = (
            f"success ~ Beta({post['alpha']:.2f}, {post['beta']:.2f}): mean {post['mean']:.3f}, "
            f"drew {post['draw']:.3f}{narrowed}; picked in {probability:.0%} of draws"
        )
        notes["exploration"] = "by posterior draws"
        return Scored(
            arm.name,
            signals,
            notes,
            final,
            arm.resident,
            memory,
            self.weights,
            arm=arm,
            probability=probability,
            posterior=post,
        )

    def _signals(
        self,
        candidate: Candidate,
        task_shares: Mapping[str, float],
        evidence: Mapping[str, MemoryEvidence],
        feedback: Mapping[str, tuple[float, int]],
        measured_latency: Mapping[str, float],
        task_counts: tuple[float, float],
        rated_share: float,
    ) -> tuple[Arm, dict[str, str], MemoryEvidence]:
        notes: dict[str, str] = {}
        parts = [(share, *benchmark_part(candidate, task)) for task, share in task_shares.items()]
        benchmark = sum(share * value for share, value, _ in parts)
        if len(parts) == 1:
            notes["benchmark"] = parts[0][2]
        else:
            notes["benchmark"] = " + ".join(f"{share:.2f}·({note})" for share, _, note in parts)

        memory = evidence.get(candidate.name) or MemoryEvidence(candidate.name, NEUTRAL, False)
        if memory.has_evidence:
            notes["memory"] = f"{memory.neighbours} similar past queries"
        else:
            notes["memory"] = "no evidence: neutral"

        avg = candidate.avg_latency_ms
        source = "reported"
        if avg is None and candidate.name in measured_latency:
            avg, source = measured_latency[candidate.name], "measured"
        if avg is None:
            avg, source = UNKNOWN_LATENCY_MS, "unknown, assumed"
        load = 0.0 if candidate.resident else max(candidate.expected_load_ms, 0.0)
        latency = min(max(1.0 - (avg + load) / LATENCY_SCALE_MS, 0.0), 1.0)
        notes["latency"] = f"{source} {avg:.0f} ms" + (
            " (resident)" if candidate.resident else f" + {load:.0f} ms load"
        )

        positive, total = feedback.get(candidate.name, (0.0, 0))
        rate = (positive + NEUTRAL * FEEDBACK_PRIOR) / (total + FEEDBACK_PRIOR)
        notes["feedback"] = f"{positive:g}/{total} positive" if total else "no feedback: neutral"
        arm = Arm(
            candidate.name,
            benchmark,
            memory.score,
            memory.weight if memory.has_evidence else 0.0,
            latency,
            rate,
            candidate.resident,
            memory.similar,
            memory.similar_success,
            *task_counts,
            rated_share,
        )
        return arm, notes, memory

    def _select(
        self,
        scored: list[Scored],
        arms: list[Arm],
        finals: np.ndarray,
        probabilities: np.ndarray,
        confidence: float,
    ) -> Selection:
        order = sorted(range(len(scored)), key=lambda i: (-scored[i].final, scored[i].name))
        ranked = [replace(scored[i], rank=r) for r, i in enumerate(order, 1)]
        policy = self.routing.policy
        best = ranked[0]
        runner = ranked[1] if len(ranked) > 1 else None
        low = ""
        if confidence < self.routing.fallback_confidence:
            index = fallback_pick(arms, self.routing)
            if index is not None:
                chosen = scored[index]
                reason = (
                    f"fallback evidence: confidence {confidence:.2f} < "
                    f"{self.routing.fallback_confidence:.2f}; {chosen.name} handled "
                    f"{chosen.memory.similar} similar queries with "
                    f"{(chosen.memory.similar_success or 0.0):.0%} success"
                )
                ranked = [replace(s, probability=float(s.name == chosen.name)) for s in ranked]
                return Selection(chosen.name, reason, True, ranked, policy, 1.0)
            low = (
                f"; confidence {confidence:.2f} < {self.routing.fallback_confidence:.2f} "
                "but no model "
                f"has {self.routing.fallback_min_queries}+ similar queries with "
                f">{self.routing.fallback_min_success:.0%} success"
            )
        resident = np.asarray([a.resident for a in arms], dtype=bool)
        chosen = scored[int(pick(finals, resident, self.routing.hysteresis)[0])]
        propensity = float(probabilities[scored.index(chosen)])
        what = "draw" if policy == "thompson" else "score"
        odds = f"; picked in {propensity:.0%} of draws" if policy == "thompson" else ""
        if chosen.name != best.name:
            reason = (
                f"kept resident {chosen.name}: {best.name} scores only "
                f"{best.final - chosen.final:+.3f} more, below the {self.routing.hysteresis:.2f} "
                "swap threshold" + odds + low
            )
        elif runner is None:
            reason = "only candidate" + low
        else:
            reason = (
                f"highest {what} {best.final:.3f} (next: {runner.name} {runner.final:.3f})"
                + odds
                + low
            )
        return Selection(chosen.name, reason, False, ranked, policy, propensity)
