"""daemon.*: status, methods, reload, shutdown, hello, and a streaming probe."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field

from localforge.rpc.dispatch import CallContext, Method, NoParams, Params


async def status(ctx: CallContext, _: NoParams) -> dict[str, Any]:
    return ctx.services.daemon.status()


async def list_methods(ctx: CallContext, _: NoParams) -> list[dict[str, Any]]:
    return ctx.methods.describe() if ctx.methods is not None else []


async def reload(ctx: CallContext, _: NoParams) -> dict[str, Any]:
    return ctx.services.daemon.reload()


async def config(ctx: CallContext, _: NoParams) -> dict[str, Any]:
    return ctx.services.daemon.config_report()


async def metrics(ctx: CallContext, _: NoParams) -> dict[str, Any]:
    text = await ctx.services.metrics.render()
    return {"text": text.decode()}


async def shutdown(ctx: CallContext, _: NoParams) -> dict[str, Any]:
    ctx.services.daemon.request_shutdown()
    return {"stopping": True}


class HelloParams(Params):
    client: str = Field(
        min_length=1, max_length=64, description="the client's name, as the daemon logs it"
    )
    door: Literal["socket", "lsp"] = Field(
        "socket",
        description="how the live decisions label this connection's requests: lsp for a "
        "language server relaying an editor, socket otherwise",
    )


async def hello(ctx: CallContext, params: HelloParams) -> dict[str, Any]:
    if ctx.origin is not None:
        ctx.origin.client = params.client
        ctx.origin.door = params.door
    return {"client": params.client, "door": params.door}


class TicksParams(Params):
    count: int = Field(3, ge=0, le=10_000, description="how many stream notifications to send")
    interval_ms: float = Field(0, ge=0, le=60_000, description="pause between notifications")


async def ticks(ctx: CallContext, params: TicksParams) -> dict[str, Any]:
    for tick in range(params.count):
        ctx.stream({"tick": tick})
        await asyncio.sleep(params.interval_ms / 1000)
    return {"ticks": params.count}


def methods() -> list[Method[Any]]:
    return [
        Method(
            "daemon.status",
            NoParams,
            status,
            "version, pid, uptime, paths and each service's state",
        ),
        Method("daemon.methods", NoParams, list_methods, "every method with its parameters"),
        Method(
            "daemon.reload",
            NoParams,
            reload,
            "re-read the config; an invalid file keeps the old one",
        ),
        Method("daemon.config", NoParams, config, "effective settings, each with its source"),
        Method(
            "daemon.metrics",
            NoParams,
            metrics,
            "every metric in the Prometheus text format, as GET /metrics serves it",
        ),
        Method("daemon.shutdown", NoParams, shutdown, "finish in-flight requests, then exit 0"),
        Method(
            "daemon.hello",
            HelloParams,
            hello,
            "name this connection's client and door (the dashboard labels requests by door)",
        ),
        Method(
            "daemon.ticks",
            TicksParams,
            ticks,
            "stream `count` $/stream notifications, then answer (a probe for streaming clients)",
            streams=True,
        ),
    ]
