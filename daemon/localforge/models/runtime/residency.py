"""Which models stay resident, which load next, and which request runs now — pure logic.

The planner sees a snapshot (each model's state and memory, each waiting
request) and answers with a ``Plan``. It never evicts a model that is serving
or loading, never evicts a pinned model, and groups waiting requests by model:
a resident model keeps serving its own queue while another model waits, until
that other model's oldest request has waited ``max_group_wait_s`` and the
resident model has had its turn (resident that long too, or ``TURN_LOADS``
times the other model's load time when that is longer). Then the resident
model takes no new requests ("draining") and is swapped out once idle: a
request waits about one turn plus one swap at most.
Alternating traffic therefore costs one swap per group instead of one per request.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

GIB = 1024**3
# A turn lasts at least this many times the incoming model's load time, so that
# swapping never takes more than about a fifth of the time on alternating traffic.
TURN_LOADS = 4.0
RESIDENT_STATES = ("loading", "idle", "busy", "unloading")


@dataclass(frozen=True)
class ModelView:
    name: str
    device: str  # "cpu" or "cuda:N"
    memory_bytes: int
    state: str  # "absent" | "loading" | "idle" | "busy" | "unloading"
    pinned: bool = False
    last_used: float = 0.0
    ttl_s: float | None = None
    since: float = 0.0  # when it became resident (same clock as ``now``)
    load_s: float = 0.0  # expected time to load it (measured EWMA)


@dataclass(frozen=True)
class Waiting:
    ticket: int
    model: str
    arrived: float


@dataclass
class Plan:
    start: list[int] = field(default_factory=list)  # tickets to run now (their model is idle)
    load: list[str] = field(default_factory=list)  # models to load, after the evictions
    evict: list[str] = field(default_factory=list)  # idle models to unload first
    reject: dict[int, str] = field(default_factory=dict)  # tickets that can never run, and why
    draining: set[str] = field(default_factory=set)  # models that take no new requests


def fmt_bytes(size: float) -> str:
    if size >= GIB:
        return f"{size / GIB:.1f} GiB"
    return f"{size / 1024**2:.0f} MiB"


class Planner:
    def __init__(self, budgets: Mapping[str, int], max_group_wait_s: float) -> None:
        self.budgets = dict(budgets)
        self.max_group_wait_s = max_group_wait_s

    def plan(self, models: Mapping[str, ModelView], waiting: Sequence[Waiting], now: float) -> Plan:
        plan = Plan()
        queues: dict[str, list[Waiting]] = {}
        for item in sorted(waiting, key=lambda w: (w.arrived, w.ticket)):
            queues.setdefault(item.model, []).append(item)
        used = self._used(models)
        evicted: set[str] = set()
        blocked_devices: set[str] = set()

        demands = [name for name in queues if models[name].state == "absent"]
        for name in sorted(demands, key=lambda n: queues[n][0].arrived):
            view = models[name]
            reason = self.impossible(view, models)
            if reason is not None:
                for item in queues[name]:
                    plan.reject[item.ticket] = reason
                continue
            if view.device in blocked_devices:
                continue
            capacity = self.budgets[view.device]
            free = capacity - used[view.device]
            if free >= view.memory_bytes:
                plan.load.append(name)
                used[view.device] += view.memory_bytes
                continue
            turn = max(self.max_group_wait_s, TURN_LOADS * view.load_s)
            overdue = now - queues[name][0].arrived >= self.max_group_wait_s
            # An overdue model may displace a model that still has requests, once that
            # model has had its turn: resident for max_group_wait_s, or longer when a
            # swap is slow (TURN_LOADS times the incoming model's load time).
            had_turn = {n for n in queues if n != name and now - models[n].since >= turn}
            victims = self._victims(
                view.device, models, queues, evicted, displace=had_turn if overdue else set()
            )
            chosen: list[ModelView] = []
            for victim in victims:
                if free >= view.memory_bytes:
                    break
                chosen.append(victim)
                free += victim.memory_bytes
            if free >= view.memory_bytes:
                for victim in chosen:
                    plan.evict.append(victim.name)
                    evicted.add(victim.name)
                    used[view.device] -= victim.memory_bytes
                plan.load.append(name)
                used[view.device] += view.memory_bytes
                continue
            # Not enough room yet: this model loads first once serving models finish.
            blocked_devices.add(view.device)
            if overdue:
                plan.draining |= {
                    other.name
                    for other in models.values()
                    if other.device == view.device
                    and other.state in ("idle", "busy")
                    and not other.pinned
                    and other.name in had_turn
                }

        for name, items in queues.items():
            view = models[name]
            if view.state == "idle" and name not in plan.draining and name not in evicted:
                plan.start.append(items[0].ticket)
        return plan

    def impossible(self, view: ModelView, models: Mapping[str, ModelView]) -> str | None:
        """Why ``view`` can never load under this budget, or None when it can."""
        capacity = self.budgets.get(view.device)
        if capacity is None:
            return f"model '{view.name}' wants device {view.device}, which has no budget"
        if view.memory_bytes > capacity:
            return (
                f"model '{view.name}' needs {fmt_bytes(view.memory_bytes)} but the {view.device} "
                f"budget is {fmt_bytes(capacity)}: use a smaller quantisation, lower n_ctx, "
                "or raise the budget (residency.ram_budget_mb / residency.vram_reserve_mb)"
            )
        pinned = [
            other
            for other in models.values()
            if other.pinned
            and other.name != view.name
            and other.device == view.device
            and other.state in RESIDENT_STATES
        ]
        pinned_bytes = sum(other.memory_bytes for other in pinned)
        if view.memory_bytes > capacity - pinned_bytes:
            names = ", ".join(f"'{other.name}'" for other in pinned)
            return (
                f"model '{view.name}' needs {fmt_bytes(view.memory_bytes)} but pinned models "
                f"({names}) hold {fmt_bytes(pinned_bytes)} of the {fmt_bytes(capacity)} "
                f"{view.device} budget: unpin one (`lfctl models pin NAME --off`) or raise "
                "the budget"
            )
        return None

    def expired(
        self, models: Mapping[str, ModelView], waiting: Sequence[Waiting], now: float
    ) -> list[str]:
        """Idle, unpinned models whose TTL since last use has run out and nobody waits for."""
        wanted = {item.model for item in waiting}
        return [
            view.name
            for view in models.values()
            if view.state == "idle"
            and not view.pinned
            and view.ttl_s is not None
            and view.name not in wanted
            and now - view.last_used >= view.ttl_s
        ]

    def _used(self, models: Mapping[str, ModelView]) -> dict[str, int]:
        used = dict.fromkeys(self.budgets, 0)
        for view in models.values():
            if view.state in RESIDENT_STATES:
                used[view.device] = used.get(view.device, 0) + view.memory_bytes
        return used

    @staticmethod
    def _victims(
        device: str,
        models: Mapping[str, ModelView],
        queues: Mapping[str, list[Waiting]],
        evicted: Collection[str],
        *,
        displace: Collection[str],
    ) -> list[ModelView]:
        idle = [
            view
            for view in models.values()
            if view.device == device
            and view.state == "idle"
            and not view.pinned
            and view.name not in evicted
        ]
        unwanted = sorted((v for v in idle if v.name not in queues), key=lambda v: v.last_used)
        # Among displaceable ones, the model whose oldest request is youngest goes first.
        queued = [v for v in idle if v.name in displace]
        queued.sort(key=lambda v: queues[v.name][0].arrived, reverse=True)
        return unwanted + queued
