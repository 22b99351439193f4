"""What similar past queries say about each model: the decayed memory score.

One search returns neighbours for all models at once; they are grouped by
model here. Per model, over its ``top_k`` nearest neighbours that have an
outcome::

    memory = Σ(outcome · λ^days · sim) / Σ(λ^days · sim)

A model without evidence gets the neutral 0.5 and says so. With ``task_type``
set, neighbours recorded under another task type are not evidence; with
``task_shares`` set, a neighbour counts with the share of the task type it was
recorded under (none for a task type not in it). With
``saturate`` set, a neighbour at or above that similarity counts in full and one
below it in proportion (``min(sim / saturate, 1)`` in place of ``sim``): the
posterior policy counts outcomes, and sentence embeddings of related queries sit
far below 1. With ``recency_half_life`` set, a model's neighbours also count less the
more of them are newer: the n-th newest keeps at most ``0.5^(n / recency_half_life)`` of
its weight, time decay included (it keeps the smaller of the two), so the model's latest
outcomes near this query outweigh its older ones there even when no time has passed
between them (a taste that changed in one sitting). With ``changed_at`` set, a neighbour
recorded before the time it gives for its (task type, model) is no evidence: the
task-type counts saw that model's outcomes there change (``memory.task_evidence``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from localforge.memory.store import Neighbour

NEUTRAL = 0.5
DAY_S = 86400.0


@dataclass(frozen=True)
class MemoryEvidence:
    model: str
    score: float
    has_evidence: bool
    neighbours: int = 0
    weight: float = 0.0
    similar: int = 0  # neighbours at or above the similarity threshold
    similar_success: float | None = None  # mean outcome of those
    nearest: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 4),
            "evidence": self.has_evidence,
            "neighbours": self.neighbours,
            "weight": round(self.weight, 4),
            "similar": self.similar,
            "similar_success": None
            if self.similar_success is None
            else round(self.similar_success, 4),
            "nearest": self.nearest,
        }


def group_by_model(neighbours: Iterable[Neighbour], top_k: int) -> dict[str, list[Neighbour]]:
    """Nearest first; at most ``top_k`` per model."""
    groups: dict[str, list[Neighbour]] = {}
    for item in sorted(neighbours, key=lambda n: n.similarity, reverse=True):
        bucket = groups.setdefault(item.model, [])
        if len(bucket) < top_k:
            bucket.append(item)
    return groups


def _recency(items: Sequence[Neighbour], half_life: float) -> list[float]:
    """Per item, the weight it keeps for the items newer than it (all 1.0 without a half-life)."""
    if half_life <= 0:
        return [1.0] * len(items)
    newest_first = sorted(range(len(items)), key=lambda i: -items[i].timestamp)
    kept = [1.0] * len(items)
    for rank, i in enumerate(newest_first):
        kept[i] = 0.5 ** (rank / half_life)
    return kept


def memory_evidence(
    neighbours: Sequence[Neighbour],
    models: Sequence[str],
    *,
    top_k: int,
    decay: float,
    now: float,
    min_similarity: float,
    task_type: str | None = None,
    shown: int = 3,
    saturate: float | None = None,
    task_shares: Mapping[str, float] | None = None,
    recency_half_life: float = 0.0,
    changed_at: Mapping[tuple[str, str], float] | None = None,
) -> dict[str, MemoryEvidence]:
    if task_type is not None:
        task_shares = {task_type: 1.0}
    if task_shares is not None:
        neighbours = [n for n in neighbours if task_shares.get(n.task_type, 0.0) > 0.0]
    if changed_at:
        neighbours = [
            n
            for n in neighbours
            if n.timestamp >= changed_at.get((n.task_type, n.model), -math.inf)
        ]
    groups = group_by_model(neighbours, top_k)
    result: dict[str, MemoryEvidence] = {}
    for model in models:
        items = groups.get(model, [])
        numerator = denominator = 0.0
        recency = _recency(items, recency_half_life)
        for item, kept in zip(items, recency, strict=True):
            days = max(now - item.timestamp, 0.0) / DAY_S
            closeness = max(item.similarity, 0.0)
            if saturate is not None and saturate > 0:
                closeness = min(closeness / saturate, 1.0)
            weight = min(decay**days, kept) * closeness  # time decay included
            if task_shares is not None:
                weight *= task_shares[item.task_type]
            numerator += item.outcome * weight
            denominator += weight
        similar = [item for item in items if item.similarity >= min_similarity]
        has_evidence = denominator > 0.0
        result[model] = MemoryEvidence(
            model=model,
            score=numerator / denominator if has_evidence else NEUTRAL,
            has_evidence=has_evidence,
            neighbours=len(items),
            weight=denominator,
            similar=len(similar),
            similar_success=sum(i.outcome for i in similar) / len(similar) if similar else None,
            nearest=[
                {
                    "id": i.id,
                    "similarity": round(i.similarity, 4),
                    "outcome": i.outcome,
                    "age_days": round(max(now - i.timestamp, 0.0) / DAY_S, 2),
                }
                for i in items[:shown]
            ],
        )
    return result
