"""feedback.*: rate a routed request; the outcome teaches the memory and the model's statistics."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from localforge.rpc.dispatch import CallContext, Method, Params


class RecordParams(Params):
    request_id: str = Field(
        min_length=1,
        description="the id a routed request returned, or a unique prefix of it "
        "(at least 4 characters)",
    )
    kind: Literal["thumbs_up", "thumbs_down", "accepted", "rejected", "partial"] = Field(
        description="what the user did with the answer"
    )
    value: float | None = Field(
        None,
        ge=0,
        le=1,
        description="outcome in [0, 1]; defaults: up/accepted 1, down/rejected 0, partial 0.5",
    )


async def record(ctx: CallContext, params: RecordParams) -> dict[str, Any]:
    return await ctx.services.serving.feedback(params.request_id, params.kind, params.value)


def methods() -> list[Method[Any]]:
    return [
        Method(
            "feedback.record",
            RecordParams,
            record,
            "record the outcome of a routed request (a later outcome replaces an earlier one)",
        ),
    ]
