"""chat.complete, code.complete, models.load, models.unload, models.pin.

Streaming notifications (``$/stream`` data) carry a ``type``:
  route  {request_id, model, task_type, confidence}   first, once the model is chosen
  load   {model, progress}                            while the model loads (0.0 … 1.0)
  token  {text}                                       each piece of the answer
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from localforge.errors import LocalForgeError, NotFound
from localforge.rpc.dispatch import CallContext, Method, Params

log = logging.getLogger(__name__)

ROUTE_TEXT_CHARS = 2000


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str


class ChatParams(Params):
    messages: list[ChatMessage] = Field(
        min_length=1, description="the conversation, last one from the user"
    )
    model: str = Field("auto", description='"auto" routes; a name forces that model')
    stream: bool = Field(
        True, description="send route, load progress and tokens as $/stream notifications"
    )
    max_tokens: int = Field(512, ge=1, le=32768)
    temperature: float = Field(0.7, ge=0, le=2)
    stop: list[str] = Field(default_factory=list)


class CodeParams(Params):
    prefix: str = Field(description="text before the cursor")
    suffix: str = Field("", description="text after the cursor")
    language: str | None = None
    path: str | None = None
    model: str = Field(
        "auto",
        description='"auto" uses residency.completion_model, or routes when it is unset; '
        "a name forces that model",
    )
    stream: bool = False
    max_tokens: int = Field(128, ge=1, le=8192)
    temperature: float = Field(0.2, ge=0, le=2)
    stop: list[str] = Field(default_factory=list)


class NameParams(Params):
    name: str = Field(min_length=1)


class PinParams(Params):
    name: str = Field(min_length=1)
    on: bool = Field(True, description="false unpins")


@dataclass(frozen=True)
class _Routed:
    request_id: str
    model: str
    task_type: str
    confidence: float
    trace: dict[str, Any] = field(default_factory=dict)
    route_ms: float = 0.0


async def _route(ctx: CallContext, text: str, forced: str | None, kind: str) -> _Routed:
    app = ctx.app
    router = getattr(app, "router", None)
    if router is None:
        name = forced or _first_model(app)
        reason = "forced by the request" if forced else "no router: first registered model"
        return _Routed(uuid.uuid4().hex, name, "general", 0.0, {"reason": reason})
    started = time.perf_counter()
    try:
        decision = await router.route(text, model=forced, kind=kind)
    except LocalForgeError as exc:
        if forced is None:
            raise
        # The model is chosen already: a routing failure only costs the record.
        log.warning("routing a request forced to '%s' failed: %s", forced, exc.message)
        return _Routed(uuid.uuid4().hex, forced, "unknown", 0.0, {"error": exc.message})
    return _Routed(
        decision.request_id,
        decision.model,
        decision.task_type,
        decision.confidence,
        decision.trace,
        _since(started),
    )


def _first_model(app: Any) -> str:
    specs = app.registry.list()
    if not specs:
        raise LocalForgeError("no models are registered: add one with `lfctl models add PATH`")
    return str(specs[0].name)


async def _record(
    ctx: CallContext,
    routing: asyncio.Future[_Routed],
    model: str,
    latency_ms: float,
    error: str | None,
) -> None:
    router = getattr(ctx.app, "router", None)
    routed = await routing
    if router is None:
        return
    try:
        await router.record_result(
            routed.request_id, model=model, latency_ms=latency_ms, ok=error is None, error=error
        )
    except LocalForgeError as exc:
        log.warning("could not record the result of %s: %s", routed.request_id, exc.message)


async def _answer(
    ctx: CallContext, text: str, model: str, kind: str, stream: bool, call: Any
) -> dict[str, Any]:
    """Route, serve and record one request.

    With ``model="auto"`` the router picks the model first. A named model starts
    generating at once while the router classifies and records the request in
    parallel; stream notifications still begin with the route, tokens that come
    earlier wait for it.
    """
    app = ctx.app
    forced = None if model == "auto" else model
    spec = app.registry.get(forced) if forced is not None else None  # NotFound lists the names
    routing: asyncio.Future[_Routed] = asyncio.ensure_future(_route(ctx, text, forced, kind))
    if spec is None:
        spec = app.registry.get((await routing).model)
    early: list[dict[str, Any]] = []
    announced = False

    def announce(done: asyncio.Future[_Routed]) -> None:
        nonlocal announced
        if done.cancelled() or done.exception() is not None:
            return
        routed = done.result()
        announced = True
        ctx.stream(
            {
                "type": "route",
                "request_id": routed.request_id,
                "model": spec.name,
                "task_type": routed.task_type,
                "confidence": round(routed.confidence, 4),
            }
        )
        for item in early:
            ctx.stream(item)
        early.clear()

    def emit(item: dict[str, Any]) -> None:
        if announced:
            ctx.stream(item)
        else:
            early.append(item)

    on_progress = load_progress(emit, spec.name)

    def on_token(piece: str) -> None:
        emit({"type": "token", "text": piece})

    if stream:
        if routing.done():
            announce(routing)
        else:
            routing.add_done_callback(announce)
    started = time.perf_counter()
    try:
        completion = await call(spec, on_token if stream else None, on_progress if stream else None)
    except LocalForgeError as exc:
        app.models.defer(_record(ctx, routing, spec.name, _since(started), exc.message))
        raise
    except asyncio.CancelledError:
        app.models.defer(
            _record(ctx, routing, spec.name, _since(started), "cancelled by the client")
        )
        raise
    latency = _since(started)
    routed = await routing
    # The latency is final now; storing it must not delay the answer.
    app.models.defer(_record(ctx, routing, spec.name, latency, None))
    result = completion.as_dict()
    result["timings"]["route_ms"] = round(routed.route_ms, 1)
    result.update(
        request_id=routed.request_id,
        task_type=routed.task_type,
        confidence=routed.confidence,
    )
    if completion.note:
        result["trace"] = {"prompt_format": completion.prompt_format, "note": completion.note}
    return result


async def chat_complete(ctx: CallContext, params: ChatParams) -> dict[str, Any]:
    messages = [message.model_dump() for message in params.messages]
    text = next(
        (m["content"] for m in reversed(messages) if m["role"] == "user"), messages[-1]["content"]
    )

    async def call(spec: Any, on_token: Any, on_progress: Any) -> Any:
        return await ctx.app.models.chat(
            spec,
            messages,
            on_token=on_token,
            on_progress=on_progress,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            stop=params.stop,
        )

    return await _answer(ctx, text[-ROUTE_TEXT_CHARS:], params.model, "chat", params.stream, call)


async def code_complete(ctx: CallContext, params: CodeParams) -> dict[str, Any]:
    header = f"[{params.language}] " if params.language else ""
    context = params.prefix[-ROUTE_TEXT_CHARS:] or params.suffix[:ROUTE_TEXT_CHARS]
    text = header + context if context.strip() else f"{params.language or 'code'} completion"

    async def call(spec: Any, on_token: Any, on_progress: Any) -> Any:
        return await ctx.app.models.complete_code(
            spec,
            params.prefix,
            params.suffix,
            on_token=on_token,
            on_progress=on_progress,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            stop=params.stop,
        )

    return await _answer(
        ctx, text, _completion_model(ctx, params.model), "code", params.stream, call
    )


def _completion_model(ctx: CallContext, requested: str) -> str:
    """The model a completion asks for, else the configured completion model, else "auto"."""
    configured = ctx.app.settings.residency.completion_model
    if requested != "auto" or configured is None:
        return requested
    try:
        ctx.app.registry.get(configured)
    except NotFound as exc:
        raise NotFound(
            f"residency.completion_model: {exc.message}; set it to one of them, or unset it "
            "to route completions like chat"
        ) from exc
    return configured


def load_progress(send: Callable[[dict[str, Any]], None], model: str) -> Callable[[float], None]:
    """An ``on_progress`` callback that sends a model's loading as ``load`` notifications."""

    def on_progress(progress: float) -> None:
        send({"type": "load", "model": model, "progress": round(progress, 3)})

    return on_progress


async def models_load(ctx: CallContext, params: NameParams) -> dict[str, Any]:
    result: dict[str, Any] = await ctx.app.models.load(
        params.name, load_progress(ctx.stream, params.name)
    )
    return result


async def models_unload(ctx: CallContext, params: NameParams) -> dict[str, Any]:
    unloaded = await ctx.app.models.unload(params.name)
    return {"name": params.name, "unloaded": unloaded}


async def models_pin(ctx: CallContext, params: PinParams) -> dict[str, Any]:
    result: dict[str, Any] = ctx.app.models.pin(params.name, params.on)
    if params.on and not result["resident"]:
        await ctx.app.models.load(params.name, load_progress(ctx.stream, params.name))
        result["resident"] = True
    return result


def methods() -> list[Method[Any]]:
    return [
        Method(
            "chat.complete",
            ChatParams,
            chat_complete,
            "route (or use the named model), load it if needed, and answer; streams tokens",
            streams=True,
        ),
        Method(
            "code.complete",
            CodeParams,
            code_complete,
            "fill in the middle at the cursor (FIM when the model has FIM tokens)",
            streams=True,
        ),
        Method(
            "models.load",
            NameParams,
            models_load,
            "load a model now; streams load progress",
            streams=True,
        ),
        Method("models.unload", NameParams, models_unload, "unload a model once it is idle"),
        Method(
            "models.pin",
            PinParams,
            models_pin,
            "keep a model resident (loads it), or unpin it with on=false",
            streams=True,
        ),
    ]


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
