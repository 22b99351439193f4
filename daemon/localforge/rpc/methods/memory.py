"""memory.*: what the router remembers; stats, forget, export/import, rebuild."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from localforge.rpc.dispatch import CallContext, Method, NoParams, Params


async def stats(ctx: CallContext, _: NoParams) -> dict[str, Any]:
    return await ctx.services.memory.stats()


class ForgetParams(Params):
    older_than_days: float | None = Field(
        None, gt=0, description="forget interactions older than this"
    )
    model: str | None = Field(None, description="forget interactions routed to this model")
    all: bool = Field(False, description="forget everything")

    @model_validator(mode="after")
    def _something(self) -> ForgetParams:
        if not self.all and self.older_than_days is None and self.model is None:
            raise ValueError("give older_than_days, model, or all")
        return self


async def forget(ctx: CallContext, params: ForgetParams) -> dict[str, Any]:
    return await ctx.services.memory.forget(
        older_than_days=params.older_than_days, model=params.model, everything=params.all
    )


class ExportParams(Params):
    path: str = Field(description="absolute path of the JSON Lines file to write")
    vectors: bool = Field(
        True, description="include embeddings (without, import re-embeds the text)"
    )


async def export(ctx: CallContext, params: ExportParams) -> dict[str, Any]:
    return await ctx.services.memory.export(Path(params.path), vectors=params.vectors)


class ImportParams(Params):
    path: str = Field(description="absolute path of a JSON Lines file written by memory.export")


async def import_(ctx: CallContext, params: ImportParams) -> dict[str, Any]:
    return await ctx.services.memory.import_(Path(params.path))


async def rebuild(ctx: CallContext, _: NoParams) -> dict[str, Any]:
    return await ctx.services.memory.rebuild(lambda progress: ctx.stream(progress.as_dict()))


def methods() -> list[Method[Any]]:
    return [
        Method(
            "memory.stats", NoParams, stats, "points per model and task type, success rates, sizes"
        ),
        Method("memory.forget", ForgetParams, forget, "delete interactions by age, model, or all"),
        Method(
            "memory.export", ExportParams, export, "write every interaction to a JSON Lines file"
        ),
        Method("memory.import", ImportParams, import_, "add interactions from a JSON Lines file"),
        Method(
            "memory.rebuild",
            NoParams,
            rebuild,
            "rebuild the vector index from SQLite; streams {phase, done, total}",
            streams=True,
        ),
    ]
