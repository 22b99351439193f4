"""chat.complete, code.complete: answers from the serving core, streamed as ``$/stream``.

Streaming notifications (``$/stream`` data) carry a ``type``:
  route  {request_id, model, task_type, confidence}   first, once the model is chosen
  load   {model, progress}                            while the model loads (0.0 … 1.0)
  token  {text}                                       each piece of the answer
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from localforge.rpc.dispatch import CallContext, Method, Params
from localforge.rpc.streaming import relay
from localforge.serving.requests import ChatRequest, CodeRequest, ContextChunk


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
    trace: bool = Field(False, description="add the routing decision's trace as 'decision'")


class ContextChunkParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str | None = None
    text: str


class PrefillParams(Params):
    prefix: str = Field(description="text before the cursor")
    suffix: str = Field("", description="text after the cursor")
    language: str | None = None
    path: str | None = None
    extra: list[ContextChunkParams] = Field(
        default_factory=list,
        max_length=64,
        description="chunks of other files ({path, text}), used where the model's context allows",
    )
    model: str = Field(
        "auto",
        description='"auto" uses residency.completion_model, or the resident model; a name '
        "uses that model",
    )
    max_tokens: int = Field(128, ge=1, le=8192, description="room kept for the answer")


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
    extra: list[ContextChunkParams] = Field(
        default_factory=list,
        max_length=64,
        description="chunks of other files ({path, text}), used where the model's context allows",
    )
    stop_pattern: str | None = Field(
        None,
        max_length=200,
        description="a regular expression: generation stops where it first matches, and the "
        "match is dropped (local models; e.g. the end of the cursor's block)",
    )
    trace: bool = Field(False, description="add the routing decision's trace as 'decision'")

    @field_validator("stop_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from exc
        return value


def _code_request(params: CodeParams | PrefillParams) -> CodeRequest:
    fields = params.model_dump(exclude={"extra"})
    extra = tuple(ContextChunk(chunk.path, chunk.text) for chunk in params.extra)
    return CodeRequest(**fields, extra=extra)


async def chat_complete(ctx: CallContext, params: ChatParams) -> dict[str, Any]:
    request = ChatRequest(
        messages=[message.model_dump() for message in params.messages],
        **params.model_dump(exclude={"messages"}),
    )
    events = ctx.services.serving.chat(request)
    result: dict[str, Any] = await relay(ctx, events, stream=params.stream)
    return result


async def code_complete(ctx: CallContext, params: CodeParams) -> dict[str, Any]:
    events = ctx.services.serving.complete_code(_code_request(params))
    result: dict[str, Any] = await relay(ctx, events, stream=params.stream)
    return result


async def code_prefill(ctx: CallContext, params: PrefillParams) -> dict[str, Any]:
    return await ctx.services.serving.prefill_code(_code_request(params))


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
            "code.prefill",
            PrefillParams,
            code_prefill,
            "evaluate a completion's prompt into the idle, resident completion model's KV cache "
            "without generating, so the next completion at this context starts sooner",
        ),
    ]
