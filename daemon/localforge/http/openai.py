"""The OpenAI API: /v1/models, chat completions, completions (suffix: FIM), embeddings.

``model: "auto"`` routes; a registered name goes to that model; another name is a
404 that lists the known ones. Streaming is server-sent events in OpenAI's
chunk format, with a usage chunk when ``stream_options.include_usage`` is set;
model load progress travels as SSE comments, which clients skip. LocalForge adds
``POST /v1/feedback`` (rate an answer by its request id) and ``POST /v1/route``
(the routing decision alone, as ``lfctl route --explain`` shows it).
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from localforge import __version__
from localforge.errors import InvalidParams, NotFound
from localforge.http.relay import answered, services, tag
from localforge.http.schemas import Body, Open, OpenAIError, errors, streamed
from localforge.http.streams import SSE_HEADERS, route_first, sse_line, stream_answer
from localforge.serving.context import Services
from localforge.serving.events import Event
from localforge.serving.requests import ChatRequest, CodeRequest

router = APIRouter(prefix="/v1", tags=["OpenAI"])
ERRORS = errors(OpenAIError)
FINGERPRINT = f"localforge-{__version__}"
MAX_TOKENS = 32768
FEEDBACK_KINDS = Literal["thumbs_up", "thumbs_down", "accepted", "rejected", "partial"]


# --- models -----------------------------------------------------------------------


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def _cards(found: Services) -> list[dict[str, Any]]:
    now = int(time.time())
    names = ["auto"] + [m["name"] for m in found.serving.list_models()["models"]]
    return [
        {"id": name, "object": "model", "created": now, "owned_by": "localforge"} for name in names
    ]


@router.get("/models", response_model=None, responses={200: {"model": ModelList}, **ERRORS})
async def list_models(request: Request) -> Response:
    """Every registered model, and ``auto`` (LocalForge routes each request)."""
    return JSONResponse({"object": "list", "data": _cards(services(request))})


@router.get("/models/{model}", response_model=None, responses={200: {"model": ModelCard}, **ERRORS})
async def get_model(request: Request, model: str) -> Response:
    cards = _cards(services(request))
    for card in cards:
        if card["id"] == model:
            return JSONResponse(card)
    known = ", ".join(card["id"] for card in cards)
    raise NotFound(f"unknown model {model!r}; known models: {known}")


# --- chat completions --------------------------------------------------------------


class ContentPart(Open):
    type: str
    text: str | None = None


class Message(Open):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None


class StreamOptions(Open):
    include_usage: bool = False


class ChatCompletionRequest(Open):
    model: str = Field(description='"auto" routes; a registered name forces that model')
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    n: int | None = Field(None, ge=1, le=1, description="only one choice is generated")
    stop: str | list[str] | None = None
    tools: list[dict[str, Any]] | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: str


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(Open):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    system_fingerprint: str
    choices: list[ChatChoice]
    usage: Usage


def _text(message: Message, index: int) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise InvalidParams(
                f"messages[{index}].content has a {part.type!r} part; only text parts are "
                "supported by LocalForge's models",
                data={"param": f"messages.{index}.content"},
            )
        parts.append(part.text)
    return "".join(parts)


def _messages(body: ChatCompletionRequest) -> list[dict[str, str]]:
    if body.tools:
        raise InvalidParams(
            "tools (function calling) are not supported by LocalForge yet; send the request "
            "without tools",
            data={"param": "tools"},
        )
    out = []
    for index, message in enumerate(body.messages):
        if message.role == "tool":
            raise InvalidParams(
                f"messages[{index}] has role 'tool'; tool results are not supported, "
                "send them as a user message",
                data={"param": f"messages.{index}.role"},
            )
        role = "system" if message.role == "developer" else message.role
        out.append({"role": role, "content": _text(message, index)})
    if out[-1]["role"] != "user":
        raise InvalidParams("the last message must have role 'user'", data={"param": "messages"})
    return out


def _stops(stop: str | list[str] | None) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def _usage(result: dict[str, Any]) -> dict[str, int]:
    usage = result.get("usage") or {}
    prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _finish(result: dict[str, Any]) -> str:
    reason = str(result.get("finish_reason") or "stop")
    return reason if reason in ("stop", "length") else "stop"


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        200: streamed(ChatCompletion, "text/event-stream", "the answer, or SSE chunks"),
        **ERRORS,
    },
)
async def chat_completions(request: Request, body: ChatCompletionRequest) -> Response:
    """Answer a conversation; ``model: "auto"`` lets LocalForge pick the model."""
    chat = ChatRequest(
        messages=_messages(body),
        model=body.model,
        stream=body.stream,
        max_tokens=body.max_completion_tokens or body.max_tokens or 512,
        temperature=0.7 if body.temperature is None else body.temperature,
        stop=_stops(body.stop),
    )
    return await _answer(
        request,
        services(request).serving.chat(chat),
        body,
        prefix="chatcmpl",
        kinds=("chat.completion", "chat.completion.chunk"),
        whole=lambda text: {"message": {"role": "assistant", "content": text}},
        piece=lambda text: {"delta": {"content": text}},
        end={"delta": {}},
        opening={"delta": {"role": "assistant", "content": ""}},
    )


async def _answer(
    request: Request,
    events: AsyncIterator[Event],
    body: ChatCompletionRequest | CompletionRequest,
    *,
    prefix: str,
    kinds: tuple[str, str],
    whole: Callable[[str], dict[str, Any]],
    piece: Callable[[str], dict[str, Any]],
    end: dict[str, Any],
    opening: dict[str, Any] | None = None,
) -> Response:
    """One answer in OpenAI's envelope, whole or as SSE chunks (``kinds``: their objects).

    ``whole``, ``piece``, ``end`` and ``opening`` give the fields of the one choice
    for the whole text, a generated piece, the last chunk and the first chunk.
    Load progress travels as SSE comments; a usage chunk closes the stream when
    ``stream_options.include_usage``; ``[DONE]`` ends it.
    """
    created = int(time.time())
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def envelope(
        obj: str, model: str, request_id: str, choice: dict[str, Any] | None, reason: str | None
    ) -> dict[str, Any]:
        return {
            "id": f"{prefix}-{request_id}",
            "object": obj,
            "created": created,
            "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": [] if choice is None else [{"index": 0, **choice, "finish_reason": reason}],
        }

    if not body.stream:
        result = await answered(request, events)
        answer = envelope(
            kinds[0], result["model"], result["request_id"], whole(result["text"]), _finish(result)
        )
        return JSONResponse({**answer, "usage": _usage(result)})
    route = await route_first(request, events)

    def chunk(choice: dict[str, Any] | None, reason: str | None = None) -> dict[str, Any]:
        return envelope(kinds[1], route.model, route.request_id, choice, reason)

    def closing(result: dict[str, Any]) -> list[dict[str, Any]]:
        last = [chunk(end, _finish(result))]
        if include_usage:
            last.append({**chunk(None), "usage": _usage(result)})
        return last

    return stream_answer(
        request,
        events,
        encode=sse_line,
        media_type="text/event-stream",
        headers=SSE_HEADERS,
        opening=[] if opening is None else [chunk(opening)],
        piece=lambda text: chunk(piece(text)),
        closing=closing,
        progress=lambda event: f": loading {event.model} {event.progress:.0%}\n\n".encode(),
        trailer=b"data: [DONE]\n\n",
    )


# --- completions (fill in the middle with a suffix) ---------------------------------


class CompletionRequest(Open):
    model: str = Field(description='"auto": residency.completion_model, else routed')
    prompt: str | list[str] = Field(description="the text before the cursor (one prompt)")
    suffix: str | None = Field(None, description="the text after it: fill in the middle")
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(16, ge=1, le=MAX_TOKENS)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    n: int | None = Field(None, ge=1, le=1, description="only one choice is generated")
    stop: str | list[str] | None = None
    echo: bool = False


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: None = None
    finish_reason: str


class Completion(Open):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    system_fingerprint: str
    choices: list[CompletionChoice]
    usage: Usage


def _prompt(prompt: str | list[str]) -> str:
    if isinstance(prompt, str):
        return prompt
    if len(prompt) != 1:
        raise InvalidParams(
            f"prompt has {len(prompt)} entries; send one prompt per request",
            data={"param": "prompt"},
        )
    return prompt[0]


@router.post(
    "/completions",
    response_model=None,
    responses={
        200: streamed(Completion, "text/event-stream", "the completion, or SSE chunks"),
        **ERRORS,
    },
)
async def completions(request: Request, body: CompletionRequest) -> Response:
    """Continue a prompt; with ``suffix``, fill in the middle (FIM) between the two."""
    if body.echo:
        raise InvalidParams("echo is not supported; drop it", data={"param": "echo"})
    code = CodeRequest(
        prefix=_prompt(body.prompt),
        suffix=body.suffix or "",
        model=body.model,
        stream=body.stream,
        max_tokens=body.max_tokens or 16,
        temperature=0.2 if body.temperature is None else body.temperature,
        stop=_stops(body.stop),
    )
    return await _answer(
        request,
        services(request).serving.complete_code(code),
        body,
        prefix="cmpl",
        kinds=("text_completion", "text_completion"),
        whole=_text_choice,
        piece=_text_choice,
        end=_text_choice(""),
    )


def _text_choice(text: str) -> dict[str, Any]:
    return {"text": text, "logprobs": None}


# --- embeddings ---------------------------------------------------------------------


class EmbeddingRequest(Open):
    input: str | list[str] = Field(description="a text or a list of texts")
    model: str = Field(description='"auto" or the daemon\'s embedding model (embedding.model)')
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: EmbeddingUsage


@router.post(
    "/embeddings", response_model=None, responses={200: {"model": EmbeddingList}, **ERRORS}
)
async def embeddings(request: Request, body: EmbeddingRequest) -> Response:
    """Sentence vectors from the model the routing memory uses (unit length, float32)."""
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    embedded = await services(request).serving.embed(texts)
    if not embedded.answers_to(body.model):
        raise NotFound(
            f"unknown embedding model {body.model!r}; this daemon embeds with "
            f'{embedded.model!r} (or send "auto"); set embedding.model to change it'
        )
    dim = int(embedded.vectors.shape[1]) if embedded.vectors.ndim == 2 else 0
    if body.dimensions is not None and body.dimensions != dim:
        raise InvalidParams(
            f"dimensions = {body.dimensions}, but {embedded.model} makes {dim}-dim vectors; "
            "leave dimensions out",
            data={"param": "dimensions"},
        )
    tag(request, "none", embedded.model, "embedding")
    data = []
    for index, vector in enumerate(embedded.vectors):
        value: list[float] | str
        if body.encoding_format == "base64":
            value = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        else:
            value = [float(x) for x in vector]
        data.append({"object": "embedding", "index": index, "embedding": value})
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": embedded.model,
            "usage": {"prompt_tokens": embedded.tokens, "total_tokens": embedded.tokens},
        }
    )


# --- LocalForge's own ------------------------------------------------------------------


class FeedbackRequest(Body):
    request_id: str = Field(description="x-localforge-request-id, or the answer's id")
    kind: FEEDBACK_KINDS = Field(description="what the user did with the answer")
    value: float | None = Field(None, ge=0, le=1, description="outcome in [0, 1]")


class FeedbackResult(Open):
    request_id: str
    model: str
    kind: str
    value: float


@router.post("/feedback", response_model=None, responses={200: {"model": FeedbackResult}, **ERRORS})
async def feedback(request: Request, body: FeedbackRequest) -> Response:
    """Rate an answer; the memory learns which model suits queries like it."""
    request_id = body.request_id
    for prefix in ("chatcmpl-", "cmpl-"):
        request_id = request_id.removeprefix(prefix)
    result = await services(request).serving.feedback(request_id, body.kind, body.value)
    tag(request, request_id, str(result.get("model", "none")), "feedback")
    return JSONResponse(result)


class RouteRequest(Body):
    text: str = Field(min_length=1, description="the query to route")
    kind: Literal["chat", "code"] = "chat"
    model: str | None = Field(None, description="force this model (the trace still scores all)")


class RouteTrace(Open):
    request_id: str
    task_type: str
    confidence: float
    winner: str
    reason: str


@router.post("/route", response_model=None, responses={200: {"model": RouteTrace}, **ERRORS})
async def route(request: Request, body: RouteRequest) -> Response:
    """Which model would answer, and why (nothing is generated or recorded)."""
    decision = await services(request).routing.route(
        body.text, model=body.model, kind=body.kind, record=False
    )
    tag(request, decision.request_id, decision.model, decision.task_type)
    return JSONResponse(decision.trace)
