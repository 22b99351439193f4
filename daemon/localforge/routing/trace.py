"""The record of one decision, as ``route.explain`` and the editor show it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localforge.routing.scorer import Selection, Weights


def build_trace(
    *,
    request_id: str,
    kind: str,
    classification: Mapping[str, Any],
    weights: Weights,
    task_shares: Mapping[str, float] | None = None,
    selection: Selection,
    winner: str,
    reason: str,
    forced: bool,
    neighbours: int,
    memory_note: str | None,
    timings_ms: Mapping[str, float],
    recorded: bool,
    skipped: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "kind": kind,
        "task_type": classification["routed_task_type"],
        "confidence": round(float(classification["confidence"]), 4),
        "classification": dict(classification),
        "task_shares": {
            task: round(share, 4)
            for task, share in (task_shares or {classification["routed_task_type"]: 1.0}).items()
        },
        "weights": weights.as_dict(),
        "candidates": [scored.describe() for scored in selection.ranked],
        "winner": winner,
        "reason": reason,
        "fallback": selection.fallback and not forced,
        "policy": selection.policy,
        "propensity": None if forced else round(selection.propensity, 4),
        "forced": forced,
        "neighbours": neighbours,
        "memory": memory_note or "ok",
        "timings_ms": {name: round(value, 3) for name, value in timings_ms.items()},
        "recorded": recorded,
        "cooling": list(skipped or []),  # models left out while they cool down, and why
    }


def compact_scores(selection: Selection) -> dict[str, Any]:
    """What SQLite keeps of a decision: every candidate's final score, signals and evidence.

    With the evidence behind the memory signal and the residency, the offline
    replay can ask how another setting would have chosen (``routing.replay``).
    """
    kept: dict[str, Any] = {}
    for s in selection.ranked:
        row: dict[str, Any] = {"final": round(s.final, 4)}
        row.update(s.arm.to_log() if s.arm is not None else {})
        row.update({k: round(v, 4) for k, v in s.signals.items()})
        row["probability"] = round(s.probability, 4)
        kept[s.name] = row
    return kept
