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
        "weights": weights.as_dict(),
        "candidates": [scored.describe() for scored in selection.ranked],
        "winner": winner,
        "reason": reason,
        "fallback": selection.fallback and not forced,
        "forced": forced,
        "neighbours": neighbours,
        "memory": memory_note or "ok",
        "timings_ms": {name: round(value, 3) for name, value in timings_ms.items()},
        "recorded": recorded,
        "cooling": list(skipped or []),  # models left out while they cool down, and why
    }


def compact_scores(selection: Selection) -> dict[str, Any]:
    """What SQLite keeps of a decision: every candidate's final score and signals."""
    return {
        s.name: {"final": round(s.final, 4), **{k: round(v, 4) for k, v in s.signals.items()}}
        for s in selection.ranked
    }
