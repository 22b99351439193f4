"""The Ollama API: tags, ps, show, chat, generate, embed, version, with Ollama's field names.

Streaming is Ollama's default (``stream`` absent means true): newline-delimited
JSON objects, the last one with ``done: true`` and the durations in nanoseconds.
``auto`` is listed as a model and routes; ``name:latest`` finds ``name``. A
generate with an empty prompt loads the model (``keep_alive: 0`` unloads it), as
Ollama does.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from localforge.errors import InvalidParams, NotFound
from localforge.http.relay import answered, finish, services, tag
from localforge.http.schemas import OllamaError, Open, errors, streamed
from localforge.http.streams import ndjson_line, route_first, stream_answer
from localforge.serving.context import Services
from localforge.serving.events import Event
from localforge.serving.requests import ChatRequest, CodeRequest

router = APIRouter(prefix="/api", tags=["Ollama"])
ERRORS = errors(OllamaError)
API_VERSION = "0.6.3"  # the Ollama API these endpoints follow
NS = 1_000_000  # nanoseconds per millisecond


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _model_name(found: Services, name: str) -> str:
    """The registered name a request means (``auto`` stays; ``x:latest`` finds ``x``)."""
    if name == "auto":
        return name
    known = {m["name"] for m in found.serving.list_models()["models"]}
    if name in known:
        return name
    base = name.removesuffix(":latest")
    if base in known:
        return base
    names = ", ".join(["auto", *sorted(known)])
    raise NotFound(f"model {name!r} not found; known models: {names}")


class Details(Open):
    format: str = "gguf"
    family: str = ""
    parameter_size: str = ""
    quantization_level: str = ""


class ModelEntry(Open):
    name: str
    model: str
    modified_at: str
    size: int
    digest: str
    details: Details


class TagList(BaseModel):
    models: list[ModelEntry]


def _entry(model: dict[str, Any]) -> dict[str, Any]:
    params = model.get("parameters")
    family = model.get("family") or model.get("architecture") or ""
    return {
        "name": model["name"],
        "model": model["name"],
        "modified_at": _now(),
        "size": int(model.get("memory_bytes") or 0),
        "digest": "",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family] if family else None,
            "parameter_size": f"{params / 1e6:.0f}M" if isinstance(params, int | float) else "",
            "quantization_level": str(model.get("quantization") or ""),
        },
    }


def _auto() -> dict[str, Any]:
    entry = _entry({"name": "auto", "family": "localforge"})
    entry["details"]["format"] = "router"
    return entry


@router.get("/tags", response_model=None, responses={200: {"model": TagList}, **ERRORS})
async def tags(request: Request) -> Response:
    """Every registered model, and ``auto`` (LocalForge routes each request)."""
    models = services(request).serving.list_models()["models"]
    return JSONResponse({"models": [_auto(), *(_entry(m) for m in models)]})


class RunningEntry(ModelEntry):
    expires_at: str
    size_vram: int


class RunningList(BaseModel):
    models: list[RunningEntry]


@router.get("/ps", response_model=None, responses={200: {"model": RunningList}, **ERRORS})
async def ps(request: Request) -> Response:
    """The models loaded now."""
    models = services(request).serving.list_models()["models"]
    running = []
    for model in models:
        if model.get("resident") and not model.get("url"):
            entry = _entry(model)
            entry.update(expires_at=_now(), size_vram=0)
            running.append(entry)
    return JSONResponse({"models": running})


class ShowRequest(Open):
    model: str | None = Field(None, description="the model to describe")
    name: str | None = Field(None, description="older clients send the model here")


class ShowResult(Open):
    details: Details
    model_info: dict[str, Any]
    capabilities: list[str]


@router.post("/show", response_model=None, responses={200: {"model": ShowResult}, **ERRORS})
async def show(request: Request, body: ShowRequest) -> Response:
    found = services(request)
    name = body.model or body.name
    if not name:
        raise InvalidParams("send the model to show in 'model'", data={"param": "model"})
    name = _model_name(found, name)
    if name == "auto":
        return JSONResponse(
            {"details": _auto()["details"], "model_info": {}, "capabilities": ["completion"]}
        )
    model = found.serving.show_model(name)
    capabilities = ["completion"] + (["insert"] if model.get("fim") else [])
    return JSONResponse(
        {
            "modelfile": "",
            "parameters": "",
            "template": "",
            "details": _entry(model)["details"],
            "model_info": {"general.architecture": model.get("architecture")},
            "capabilities": capabilities,
        }
    )


@router.get("/version")
async def version() -> dict[str, str]:
    from localforge import __version__

    return {"version": API_VERSION, "localforge": __version__}


class Options(Open):
    temperature: float | None = Field(None, ge=0, le=2)
    num_predict: int | None = Field(None, ge=-2, le=32768)
    stop: list[str] | None = None


class ChatMessage(Open):
    role: str
    content: str = ""


class ChatBody(Open):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = True
    options: Options | None = None


class ChatAnswer(Open):
    model: str
    created_at: str
    message: ChatMessage
    done: bool


def _limits(options: Options | None, default_tokens: int, default_temp: float) -> dict[str, Any]:
    options = options or Options()
    tokens = options.num_predict
    return {
        "max_tokens": default_tokens if tokens is None or tokens <= 0 else tokens,
        "temperature": default_temp if options.temperature is None else options.temperature,
        "stop": list(options.stop or []),
    }


def _final(result: dict[str, Any]) -> dict[str, Any]:
    timings, usage = result.get("timings") or {}, result.get("usage") or {}
    total, ttft = float(timings.get("total_ms", 0)), float(timings.get("ttft_ms", 0))
    return {
        "done": True,
        "done_reason": "length" if result.get("finish_reason") == "length" else "stop",
        "total_duration": int(total * NS),
        "load_duration": int(float(timings.get("queue_ms", 0)) * NS),
        "prompt_eval_count": int(usage.get("prompt_tokens", 0)),
        "prompt_eval_duration": int(ttft * NS),
        "eval_count": int(usage.get("completion_tokens", 0)),
        "eval_duration": int(max(total - ttft, 0) * NS),
    }


@router.post(
    "/chat",
    response_model=None,
    responses={200: streamed(ChatAnswer, "application/x-ndjson", "the answer"), **ERRORS},
)
async def chat(request: Request, body: ChatBody) -> Response:
    """Answer a conversation (streamed as NDJSON unless ``stream`` is false)."""
    found = services(request)
    messages = [{"role": m.role, "content": m.content} for m in body.messages]
    events = found.serving.chat(
        ChatRequest(
            messages=messages,
            model=_model_name(found, body.model),
            stream=body.stream,
            **_limits(body.options, 512, 0.7),
        )
    )

    def part(model: str, text: str) -> dict[str, Any]:
        return {
            "model": model,
            "created_at": _now(),
            "message": {"role": "assistant", "content": text},
            "done": False,
        }

    return await _reply(request, events, body.stream, part)


class GenerateBody(Open):
    model: str
    prompt: str = ""
    suffix: str | None = None
    system: str | None = None
    raw: bool = False
    stream: bool = True
    options: Options | None = None
    keep_alive: int | float | str | None = None


class GenerateAnswer(Open):
    model: str
    created_at: str
    response: str
    done: bool


@router.post(
    "/generate",
    response_model=None,
    responses={200: streamed(GenerateAnswer, "application/x-ndjson", "the answer"), **ERRORS},
)
async def generate(request: Request, body: GenerateBody) -> Response:
    """Complete a prompt: as a chat turn, raw with ``raw``, fill-in-the-middle with ``suffix``."""
    found = services(request)
    model = _model_name(found, body.model)
    if not body.prompt and not body.suffix:
        return JSONResponse(await _load_or_unload(request, found, model, body.keep_alive))
    limits = _limits(body.options, 128, 0.7)
    if body.suffix is not None or body.raw:
        events = found.serving.complete_code(
            CodeRequest(
                prefix=body.prompt,
                suffix=body.suffix or "",
                model=model,
                stream=body.stream,
                **limits,
            )
        )
    else:
        messages = [{"role": "system", "content": body.system}] if body.system else []
        messages.append({"role": "user", "content": body.prompt})
        events = found.serving.chat(
            ChatRequest(messages=messages, model=model, stream=body.stream, **limits)
        )

    def part(name: str, text: str) -> dict[str, Any]:
        return {"model": name, "created_at": _now(), "response": text, "done": False}

    return await _reply(request, events, body.stream, part, {"context": []})


async def _load_or_unload(
    request: Request, found: Services, model: str, keep_alive: Any
) -> dict[str, Any]:
    answer = {"model": model, "created_at": _now(), "response": "", "done": True}
    if model == "auto":
        return {**answer, "done_reason": "load"}
    tag(request, "none", model, "load")
    if keep_alive in (0, "0", "0s", "0m"):
        await found.serving.unload(model)
        return {**answer, "done_reason": "unload"}
    await finish(request, found.serving.load(model))
    return {**answer, "done_reason": "load"}


async def _reply(
    request: Request,
    events: AsyncIterator[Event],
    stream: bool,
    part: Callable[[str, str], dict[str, Any]],
    last: dict[str, Any] | None = None,
) -> Response:
    """The answer whole, or Ollama's stream: one JSON object a line, the last ``done: true``.

    ``part(model, text)`` is one object with ``done: false``; the last one adds the
    durations (``_final``) and the fields of ``last`` (a streamed answer's only).
    """
    if not stream:
        result = await answered(request, events)
        return JSONResponse({**part(result["model"], result["text"]), **_final(result)})
    route = await route_first(request, events)
    return stream_answer(
        request,
        events,
        encode=ndjson_line,
        media_type="application/x-ndjson",
        piece=lambda text: part(route.model, text),
        closing=lambda result: [{**part(route.model, ""), **_final(result), **(last or {})}],
    )


class EmbedBody(Open):
    model: str
    input: str | list[str]


class EmbedAnswer(Open):
    model: str
    embeddings: list[list[float]]


@router.post("/embed", response_model=None, responses={200: {"model": EmbedAnswer}, **ERRORS})
async def embed(request: Request, body: EmbedBody) -> Response:
    """Sentence vectors from the daemon's embedding model (``auto`` or its name)."""
    started = time.perf_counter()
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    embedded = await services(request).serving.embed(texts)
    if not embedded.answers_to(body.model):
        raise NotFound(
            f"model {body.model!r} not found; this daemon embeds with {embedded.model!r} "
            '(or send "auto")'
        )
    tag(request, "none", embedded.model, "embedding")
    return JSONResponse(
        {
            "model": embedded.model,
            "embeddings": [[float(x) for x in row] for row in embedded.vectors],
            "total_duration": int((time.perf_counter() - started) * 1e9),
            "prompt_eval_count": embedded.tokens,
        }
    )
