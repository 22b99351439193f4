"""dashboard.*, route.decisions, route.decision: the live view ``lfctl top`` and the page show.

``route.decisions`` is a subscription: it streams ``$/stream`` notifications
``{events: [...], skipped: N}`` (decisions as they are routed, then each one's
``result`` and ``outcome``) until the client cancels it (``$/cancelRequest``) or
disconnects, or lfd shuts down (then it answers ``{"closed": true}``). A client that
does not keep up skips events (``skipped`` says how many) and one that stops reading
is closed by the connection's output budget; routing never waits for either.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from localforge.errors import Unavailable
from localforge.rpc.dispatch import CallContext, Method, Params
from localforge.serving.dashboard import Dashboard
from localforge.serving.decisions import KEEP, LINGER_S

HEARTBEAT_S = 15.0  # an empty batch this often, so a client can tell a quiet feed from a dead one


def _dashboard(ctx: CallContext) -> Dashboard:
    if ctx.services.dashboard is None:
        raise Unavailable("this daemon was built without the dashboard")
    return ctx.services.dashboard


class SnapshotParams(Params):
    decisions: int = Field(20, ge=0, le=KEEP, description="how many recent decisions to include")


async def snapshot(ctx: CallContext, params: SnapshotParams) -> dict[str, Any]:
    return await _dashboard(ctx).snapshot(params.decisions)


class LearningParams(Params):
    days: float = Field(30.0, gt=0, le=365, description="how far back to look")
    bucket: Literal["auto", "hour", "day"] = Field(
        "auto", description="time step of the curves (auto: hours under 3 days of data)"
    )


async def learning(ctx: CallContext, params: LearningParams) -> dict[str, Any]:
    return await _dashboard(ctx).learning(params.days, params.bucket)


class NoArgs(Params):
    pass


async def memory(ctx: CallContext, _: NoArgs) -> dict[str, Any]:
    return await _dashboard(ctx).memory()


class DecisionsParams(Params):
    after: int = Field(0, ge=0, description="first send the kept decisions after this seq")
    backlog: int = Field(20, ge=0, le=KEEP, description="at most this many kept decisions first")


async def decisions(ctx: CallContext, params: DecisionsParams) -> dict[str, Any]:
    feed = _dashboard(ctx).feed
    subscription = feed.subscribe()
    try:
        ctx.stream({"events": feed.recent(params.backlog, after=params.after), "skipped": 0})
        while not subscription.closed:
            batch, skipped = await subscription.take(HEARTBEAT_S, LINGER_S)
            if batch or skipped or not subscription.closed:
                ctx.stream({"events": batch, "skipped": skipped})
        return {"closed": True, "reason": "lfd is shutting down"}
    finally:
        feed.unsubscribe(subscription)


class DecisionParams(Params):
    request_id: str = Field(min_length=1, description="a recent request id, or its first chars")


async def decision(ctx: CallContext, params: DecisionParams) -> dict[str, Any]:
    return _dashboard(ctx).decision(params.request_id)


def methods() -> list[Method[Any]]:
    return [
        Method(
            "dashboard.snapshot",
            SnapshotParams,
            snapshot,
            "models with state and memory against each device's budget, requests/s, queue "
            "depth and the latest decisions (what `lfctl top` shows)",
        ),
        Method(
            "dashboard.learning",
            LearningParams,
            learning,
            "success rate over time per model and task type, how often memory overturned "
            "the benchmark's choice, feedback by kind, per-model load time and tokens/s",
        ),
        Method(
            "dashboard.memory",
            NoArgs,
            memory,
            "memory points per model and task type, their age, and the index's size",
        ),
        Method(
            "route.decisions",
            DecisionsParams,
            decisions,
            "follow the routing decisions of every door as they happen (until cancelled)",
            streams=True,
        ),
        Method(
            "route.decision",
            DecisionParams,
            decision,
            "the full trace of a recent decision (as route.explain gives it) with its result",
        ),
    ]
