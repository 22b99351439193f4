"""chat.complete, code.complete: answers from the serving core, streamed as ``$/stream``.

Streaming notifications (``$/stream`` data) carry a ``type``:
  route  {request_id, model, task_type, confidence}   first, once the model is chosen
  load   {model, progress}                            while the model loads (0.0 … 1.0)
  token  {text}                                       each piece of the answer
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from localforge.rpc.dispatch import CallContext, Method, Params
from localforge.rpc.streaming import relay
from localforge.serving.requests import ChatRequest, CodeRequest


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
    max_tokens: int | None = Field(
        None,
        ge=1,
        le=32768,
        description="unset: the model's max_tokens (512; 256 for a base model)",
    )
    temperature: float | None = Field(
        None, ge=0, le=2, description="unset: the model's temperature (0.7; 0.3 for a base model)"
    )
    stop: list[str] = Field(
        default_factory=list, description="stop strings, added to the model's and the format's"
    )


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


async def chat_complete(ctx: CallContext, params: ChatParams) -> dict[str, Any]:
    request = ChatRequest(
        messages=[message.model_dump() for message in params.messages],
        **params.model_dump(exclude={"messages"}),
    )
    events = ctx.services.serving.chat(request)
    result: dict[str, Any] = await relay(ctx, events, stream=params.stream)
    return result


async def code_complete(ctx: CallContext, params: CodeParams) -> dict[str, Any]:
    events = ctx.services.serving.complete_code(CodeRequest(**params.model_dump()))
    result: dict[str, Any] = await relay(ctx, events, stream=params.stream)
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
    ]
