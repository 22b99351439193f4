"""The ``localforge/status`` notification: what a status line shows, from ``daemon.status``.

Shape (camelCase, as LSP payloads are)::

    {"state": "ready" | "loading" | "degraded" | "offline",
     "model": "gemma3-270m" | null,      # the model of the last suggestion, else a resident one
     "progress": 0.4 | null,             # while a model loads
     "mode": "cpu" | "gpu" | null,
     "resident": ["gemma3-270m"],
     "degraded": ["other-model"],        # cooling down or broken
     "text": "gemma3-270m · cpu",        # ready-made for a status line
     "detail": "..."}                    # the daemon's own words
"""

from __future__ import annotations

from typing import Any


def offline(reason: str) -> dict[str, Any]:
    return {
        "state": "offline",
        "model": None,
        "progress": None,
        "mode": None,
        "resident": [],
        "degraded": [],
        "text": "LocalForge offline",
        "detail": reason,
    }


def summarize(
    daemon_status: dict[str, Any], *, model: str | None, loading: tuple[str, float] | None
) -> dict[str, Any]:
    models = (daemon_status.get("services") or {}).get("models") or {}
    resident = [slot["name"] for slot in models.get("resident") or [] if "name" in slot]
    degraded = sorted((models.get("health") or {}).keys())
    mode = models.get("mode")
    current = model or (resident[0] if resident else None)
    if loading is not None:
        state, progress = "loading", round(loading[1], 3)
        current = loading[0]
        text = f"{current} loading {progress:.0%}"
    else:
        state = "degraded" if models.get("state") == "degraded" else "ready"
        progress = None
        text = " · ".join(part for part in (current or "no model", mode) if part)
    if degraded:
        text += f" · {len(degraded)} degraded"
    return {
        "state": state,
        "model": current,
        "progress": progress,
        "mode": mode,
        "resident": resident,
        "degraded": degraded,
        "text": text,
        "detail": str(models.get("detail") or ""),
    }
