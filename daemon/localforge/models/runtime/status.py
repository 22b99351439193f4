"""The models service's line in ``lfctl status``: residency, budgets, safe mode and health."""

from __future__ import annotations

import time
from typing import Any

from localforge.models.runtime.gpu import Budgets, gpu_usage
from localforge.models.runtime.health import HealthBook
from localforge.models.runtime.pool import ModelPool
from localforge.models.runtime.residency import fmt_bytes


def describe(
    state: str,
    pool: ModelPool,
    budgets: Budgets,
    health: HealthBook,
    preload_errors: dict[str, str],
) -> dict[str, Any]:
    slots = []
    pids = []
    for name, slot in sorted(pool.slots.items()):
        if slot.state == "absent":
            continue
        pid = slot.worker.pid if slot.worker else None
        if pid:
            pids.append(pid)
        view = slot.view(pool.default_ttl_s() or None)
        idle_s = round(time.monotonic() - slot.last_used, 1) if slot.state == "idle" else None
        slots.append(
            {
                "name": name,
                "state": slot.state,
                "device": slot.device,
                "memory_bytes": slot.memory_bytes,
                "pinned": slot.pinned,
                "pid": pid,
                "load_ms": round(slot.load_info.load_ms, 1) if slot.load_info else None,
                "idle_s": idle_s,
                "ttl_s": view.ttl_s,
                "unload_in_s": None
                if idle_s is None or view.ttl_s is None or slot.pinned
                else round(max(view.ttl_s - idle_s, 0.0), 1),
                "progress": round(slot.load_progress, 3) if slot.state == "loading" else None,
            }
        )
    used = pool.used_bytes()
    per_device = [
        {
            "device": device.key,
            "name": device.name,
            "budget_bytes": device.budget_bytes,
            "used_bytes": used.get(device.key, 0),
        }
        for device in budgets.devices
    ]
    shown = ", ".join(f"{s['name']} ({s['state']})" for s in slots) or "none"
    room = "; ".join(
        f"{d.key} {fmt_bytes(used.get(d.key, 0))} of {fmt_bytes(d.budget_bytes)}"
        for d in budgets.devices
    )
    detail = f"{budgets.detail}; resident: {shown}; used {room}"
    if pool.tickets:
        detail += f"; {len(pool.tickets)} request(s) queued"
    safe = {name: slot.safe_reason for name, slot in pool.slots.items() if slot.safe_reason}
    if safe:
        detail += "; safe mode: " + ", ".join(f"{n} ({why})" for n, why in sorted(safe.items()))
    unhealthy = health.unhealthy()
    state = state
    if unhealthy and state == "ready":
        state = "degraded"
        detail += "; " + "; ".join(
            f"{name} {h['state']} ({h.get('broken') or h.get('last_error')}), "
            f"auto routing tries it again in {h['retry_in_s']:.0f}s"
            for name, h in unhealthy.items()
        )
    status: dict[str, Any] = {
        "state": state,
        "detail": detail,
        "safe_mode": safe,
        "health": unhealthy,
        "mode": budgets.mode,
        "budgets": per_device,
        "resident": slots,
        "queued": len(pool.tickets),
        "loads": pool.loads,
        "evictions": pool.evictions,
    }
    if budgets.mode == "gpu":
        status["gpu_usage"] = gpu_usage(pids)
    if preload_errors:
        status["preload_errors"] = dict(preload_errors)
    return status
