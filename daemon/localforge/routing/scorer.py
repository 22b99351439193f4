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

from localforge.benchmarks import (
    NEUTRAL_PRIOR,
    benchmark_for,
    normalise_benchmark,
)
from localforge.memory.scoring import NEUTRAL, MemoryEvidence
from localforge.routing.candidates import Candidate
from localforge.settings import RoutingSettings, WeightSettings

log = logging.getLogger(__name__)

LATENCY_SCALE_MS = 10_000.0
UNKNOWN_LATENCY_MS = 5_000.0  # maps to the neutral 0.5 for a resident model
FEEDBACK_PRIOR = 2.0  # pseudo-ratings at 0.5
SIGNALS = ("benchmark", "memory", "latency", "feedback")


@dataclass(frozen=True)
class Weights:
    benchmark: float = 0.4
    memory: float = 0.3
    latency: float = 0.15
    feedback: float = 0.15

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

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "rank": self.rank,
            "final": round(self.final, 4),
            "signals": {k: round(v, 4) for k, v in self.signals.items()},
            "weights": self.weights.as_dict(),
            "exploration": round(self.exploration, 4),
            "notes": self.notes,
            "resident": self.resident,
            "memory": self.memory.describe(),
        }


@dataclass(frozen=True)
class Selection:
    winner: str
    reason: str
    fallback: bool
    ranked: list[Scored] = field(default_factory=list)


class Scorer:
    def __init__(self, weights: Weights, routing: RoutingSettings) -> None:
        self.weights = weights
        self.routing = routing

    def score(
        self,
        candidates: Sequence[Candidate],
        *,
        task_type: str,
        confidence: float,
        evidence: Mapping[str, MemoryEvidence],
        feedback: Mapping[str, tuple[float, int]],
        measured_latency: Mapping[str, float],
    ) -> Selection:
        if not candidates:
            raise ValueError("no candidates to score")
        scored = [
            self._score_one(c, task_type, evidence, feedback, measured_latency) for c in candidates
        ]
        scored.sort(key=lambda s: (-s.final, s.name))
        ranked = [replace(s, rank=i) for i, s in enumerate(scored, 1)]
        return self._select(ranked, confidence)

    def _score_one(
        self,
        candidate: Candidate,
        task_type: str,
        evidence: Mapping[str, MemoryEvidence],
        feedback: Mapping[str, tuple[float, int]],
        measured_latency: Mapping[str, float],
    ) -> Scored:
        notes: dict[str, str] = {}
        key = benchmark_for(task_type)
        raw = candidate.benchmarks.get(key)
        if raw is None:
            benchmark = NEUTRAL_PRIOR
            notes["benchmark"] = f"no {key} number: neutral"
        else:
            benchmark = normalise_benchmark(key, float(raw))
            notes["benchmark"] = f"{key} {raw:g}"

        memory = evidence.get(candidate.name) or MemoryEvidence(candidate.name, NEUTRAL, False)
        if memory.has_evidence:
            notes["memory"] = f"{memory.neighbours} similar past queries"
        else:
            notes["memory"] = "no evidence: neutral"
        share = self.evidence_share(memory)
        if share:
            notes["memory"] += f", worth {share:.0%} of the benchmark's weight"
        exploration = self.routing.exploration / math.sqrt(1.0 + memory.weight)
        notes["exploration"] = (
            f"+{exploration:.3f} for evidence weight {memory.weight:.2f}" if exploration else "off"
        )

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

        signals = {
            "benchmark": benchmark,
            "memory": memory.score,
            "latency": latency,
            "feedback": rate,
        }
        w = self.weights.with_evidence(share)
        final = (
            w.benchmark * benchmark
            + w.memory * memory.score
            + w.latency * latency
            + w.feedback * rate
            + exploration
        )
        return Scored(
            candidate.name, signals, notes, final, candidate.resident, memory, w, exploration
        )

    def evidence_share(self, memory: MemoryEvidence) -> float:
        """How much of the benchmark's weight the memory takes: n / (n + k).

        ``n`` is the evidence weight Σ(λ^days·sim) of the model's similar past
        queries and ``k`` is ``routing.benchmark_prior_weight``, the evidence
        the published number is worth. With no evidence the weights are the
        configured ones; as evidence piles up this user's outcomes outweigh
        the benchmark. ``k = 0`` turns the hand-over off.
        """
        k = self.routing.benchmark_prior_weight
        if k <= 0 or not memory.has_evidence or memory.weight <= 0:
            return 0.0
        return memory.weight / (memory.weight + k)

    def _select(self, ranked: list[Scored], confidence: float) -> Selection:
        best = ranked[0]
        runner = ranked[1] if len(ranked) > 1 else None
        if confidence < self.routing.fallback_confidence:
            chosen = self._fallback(ranked)
            if chosen is not None:
                reason = (
                    f"fallback evidence: confidence {confidence:.2f} < "
                    f"{self.routing.fallback_confidence:.2f}; {chosen.name} handled "
                    f"{chosen.memory.similar} similar queries with "
                    f"{(chosen.memory.similar_success or 0.0):.0%} success"
                )
                return Selection(chosen.name, reason, True, ranked)
            low = (
                f"; confidence {confidence:.2f} < {self.routing.fallback_confidence:.2f} "
                "but no model "
                f"has {self.routing.fallback_min_queries}+ similar queries with "
                f">{self.routing.fallback_min_success:.0%} success"
            )
        else:
            low = ""
        if not best.resident:
            warm = [s for s in ranked if s.resident]
            if warm and best.final - warm[0].final < self.routing.hysteresis:
                keep = warm[0]
                reason = (
                    f"kept resident {keep.name}: {best.name} scores only "
                    f"{best.final - keep.final:+.3f} more, below the {self.routing.hysteresis:.2f} "
                    "swap threshold" + low
                )
                return Selection(keep.name, reason, False, ranked)
        if runner is None:
            reason = "only candidate"
        else:
            reason = f"highest score {best.final:.3f} (next: {runner.name} {runner.final:.3f})"
        return Selection(best.name, reason + low, False, ranked)

    def _fallback(self, ranked: list[Scored]) -> Scored | None:
        eligible = [
            s
            for s in ranked
            if s.memory.similar >= self.routing.fallback_min_queries
            and (s.memory.similar_success or 0.0) > self.routing.fallback_min_success
        ]
        if not eligible:
            return None
        return max(eligible, key=lambda s: (s.memory.similar_success or 0.0, s.final))
