"""models.*: the catalogue (list, show, add, remove), residency (load, unload, pin), eval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from localforge.rpc.dispatch import CallContext, Method, NoParams, Params
from localforge.rpc.streaming import relay
from localforge.serving.requests import EvalRequest


class NameParams(Params):
    name: str = Field(min_length=1, description="model name (lfctl models list)")


class PinParams(Params):
    name: str = Field(min_length=1)
    on: bool = Field(True, description="false unpins")


class AddParams(Params):
    path: str = Field(description="absolute path of a .gguf file")
    name: str | None = Field(None, description="name to register it under (default: file name)")


class EvalParams(Params):
    name: str = Field(description="model to evaluate")
    categories: list[str] | None = Field(
        None, description="coding, math, instruction (default all)"
    )
    limit: int | None = Field(
        None, ge=1, le=100, description="at most this many tasks per category"
    )
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens_scale: float = Field(1.0, gt=0, le=4, description="scale each task's token budget")


async def list_models(ctx: CallContext, _: NoParams) -> dict[str, Any]:
    return ctx.services.serving.list_models()


async def show_model(ctx: CallContext, params: NameParams) -> dict[str, Any]:
    return ctx.services.serving.show_model(params.name)


async def add_model(ctx: CallContext, params: AddParams) -> dict[str, Any]:
    return await ctx.services.serving.add_model(Path(params.path).expanduser(), params.name)


async def remove_model(ctx: CallContext, params: NameParams) -> dict[str, Any]:
    return await ctx.services.serving.remove_model(params.name)


async def load_model(ctx: CallContext, params: NameParams) -> dict[str, Any]:
    result: dict[str, Any] = await relay(ctx, ctx.services.serving.load(params.name))
    return result


async def unload_model(ctx: CallContext, params: NameParams) -> dict[str, Any]:
    return await ctx.services.serving.unload(params.name)


async def pin_model(ctx: CallContext, params: PinParams) -> dict[str, Any]:
    result: dict[str, Any] = await relay(ctx, ctx.services.serving.pin(params.name, params.on))
    return result


async def eval_model(ctx: CallContext, params: EvalParams) -> dict[str, Any]:
    request = EvalRequest(
        params.name,
        tuple(params.categories) if params.categories else None,
        params.limit,
        params.temperature,
        params.max_tokens_scale,
    )
    result: dict[str, Any] = await relay(ctx, ctx.services.serving.evaluate(request))
    return result


def methods() -> list[Method[Any]]:
    return [
        Method(
            "models.list",
            NoParams,
            list_models,
            "every registered model, broken files and pending ones",
        ),
        Method(
            "models.show",
            NameParams,
            show_model,
            "one model: GGUF facts, memory, prompt format, scores",
        ),
        Method(
            "models.add",
            AddParams,
            add_model,
            "register a GGUF file by path (kept across restarts)",
        ),
        Method("models.remove", NameParams, remove_model, "forget a model added by path"),
        Method(
            "models.load",
            NameParams,
            load_model,
            "load a model now; streams load progress",
            streams=True,
        ),
        Method("models.unload", NameParams, unload_model, "unload a model once it is idle"),
        Method(
            "models.pin",
            PinParams,
            pin_model,
            "keep a model resident (loads it), or unpin it with on=false",
            streams=True,
        ),
        Method(
            "models.eval",
            EvalParams,
            eval_model,
            "run the built-in mini-evaluation and store the measured scores; streams progress",
            streams=True,
        ),
    ]
