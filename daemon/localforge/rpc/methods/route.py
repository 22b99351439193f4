"""route.*: classify a query (and, with the router, explain a routing decision)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from localforge.rpc.dispatch import CallContext, Method, Params


class ClassifyParams(Params):
    text: str = Field(description="the query to label (long texts are truncated)")


async def classify(ctx: CallContext, params: ClassifyParams) -> dict[str, Any]:
    return await ctx.services.routing.classify(params.text)


class ExplainParams(Params):
    text: str = Field(description="the query to route")
    kind: str = Field(
        "chat",
        description="chat | code | ...: what the request would be (code is routed among the "
        "completion models, as completions are)",
    )
    model: str | None = Field(None, description="force this model (the trace still scores all)")
    record: bool = Field(
        False, description="record the decision as an interaction, so feedback.record can rate it"
    )


async def explain(ctx: CallContext, params: ExplainParams) -> dict[str, Any]:
    return await ctx.services.serving.explain_route(
        params.text, kind=params.kind, model=params.model, record=params.record
    )


class ReplayParams(Params):
    set: list[str] = Field(
        default_factory=list,
        description="settings to evaluate, e.g. ['weights.memory=0.5', 'routing.exploration=0']",
    )
    last: int = Field(1000, ge=1, le=100_000, description="newest rated decisions to use")
    seed: int = Field(0, description="seed of the posterior draws and the bootstrap")


async def replay(ctx: CallContext, params: ReplayParams) -> dict[str, Any]:
    return await ctx.services.routing.replay(params.set, last=params.last, seed=params.seed)


class TuneParams(Params):
    last: int = Field(
        1000, ge=1, le=10_000, description="newest rated decisions to use (a dozen replays each)"
    )
    seed: int = Field(0, description="seed of the posterior draws and the bootstrap")


async def tune(ctx: CallContext, params: TuneParams) -> dict[str, Any]:
    return await ctx.services.routing.tune(last=params.last, seed=params.seed)


def methods() -> list[Method[Any]]:
    return [
        Method(
            "route.explain",
            ExplainParams,
            explain,
            "decide which model would answer a query: task type, each model's four signals, "
            "final scores, winner and reason, neighbours used, per-stage timings",
        ),
        Method(
            "route.classify",
            ClassifyParams,
            classify,
            "task type, calibrated confidence and probabilities of a query (below "
            "classifier.min_confidence it is routed as general)",
        ),
        Method(
            "route.replay",
            ReplayParams,
            replay,
            "estimate from this user's rated decisions how other routing settings would have "
            "done (IPS and self-normalised IPS with bootstrap 95% intervals), next to the "
            "logged policy's own value",
        ),
        Method(
            "route.tune",
            TuneParams,
            tune,
            "replay one-setting changes of the routing settings on this user's rated decisions "
            "and name the one to adopt, if any beats the settings in force (paired bootstrap "
            "95% interval of the gain above zero)",
        ),
    ]
