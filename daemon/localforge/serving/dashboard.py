"""What the web dashboard and ``lfctl top`` show, assembled once for both doors.

``snapshot`` is the present (cheap, meant to be read about once a second): every
registered model with its state, memory per device against the budget, requests/s,
queue depth and the latest decisions. ``learning`` and ``memory`` are the past, from
SQLite (``serving/insights.py``). The live decisions come from the ``DecisionFeed``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from localforge.serving.decisions import KEEP, DecisionFeed
from localforge.serving.insights import Insights
from localforge.serving.service import Serving


class Dashboard:
    def __init__(
        self,
        serving: Serving,
        feed: DecisionFeed,
        insights: Insights,
        models_status: Callable[[], dict[str, Any]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.serving = serving
        self.feed = feed
        self.insights = insights
        self.models_status = models_status
        self.clock = clock

    async def snapshot(self, decisions: int = 20) -> dict[str, Any]:
        status = self.models_status()
        listed = self.serving.list_models()
        stats = await self.insights.model_stats()
        slots = {slot["name"]: slot for slot in status.get("resident", ())}
        return {
            "at": round(self.clock(), 3),
            "requests_per_s": self.feed.requests_per_s(),
            "in_flight": self.serving.in_flight,
            "queue_depth": int(status.get("queued", 0)),
            "mode": status.get("mode"),
            "budgets": list(status.get("budgets", ())),
            "loads": status.get("loads", 0),
            "evictions": status.get("evictions", 0),
            "models": [
                _model(model, slots.get(model["name"]), stats.get(model["name"], {}))
                for model in listed["models"]
            ],
            "broken": listed["broken"],
            "decisions": self.feed.recent(min(max(decisions, 0), KEEP)),
            "feed": self.feed.stats(),
        }

    async def learning(self, days: float = 30.0, bucket: str = "auto") -> dict[str, Any]:
        return await self.insights.learning(days, bucket)

    async def memory(self) -> dict[str, Any]:
        return await self.insights.memory()

    def decision(self, request_id: str) -> dict[str, Any]:
        return self.feed.trace(request_id)


def _model(
    model: dict[str, Any], slot: dict[str, Any] | None, stats: dict[str, Any]
) -> dict[str, Any]:
    """One model as the dashboard shows it; ``state`` is the one word that matters most."""
    health = model.get("health") or {}
    residency = slot["state"] if slot is not None else "unloaded"
    state = residency
    if health.get("state") in ("broken", "cooling"):
        state = health["state"]
    return {
        "name": model["name"],
        "state": state,
        "residency": residency,
        "health": health,
        "remote": model.get("url") is not None,
        "pinned": bool(model.get("pinned") or (slot or {}).get("pinned")),
        "device": (slot or {}).get("device"),
        "memory_bytes": (slot or {}).get("memory_bytes") or model.get("memory_bytes"),
        "progress": (slot or {}).get("progress"),
        "idle_s": (slot or {}).get("idle_s"),
        "unload_in_s": (slot or {}).get("unload_in_s"),
        "load_ms": (slot or {}).get("load_ms") or stats.get("load_ms"),
        "tokens_per_s": stats.get("tokens_per_s"),
        "requests": stats.get("requests", 0),
        "failures": stats.get("failures", 0),
        "task_scores": model.get("benchmarks") or {},
    }
