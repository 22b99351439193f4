"""llama-server's ``/infill`` and ``/health``, so llama.vim and llama.vscode work unchanged.

``/infill`` takes llama.vim's request: ``input_prefix``, ``prompt`` (the current
line before the cursor), ``input_suffix`` and ``input_extra`` chunks of other
files, which go before the prefix (most recent last, at most ``EXTRA_CHARS``).
The completion model is ``residency.completion_model`` (else routed), or the
request's ``model``. ``n_predict: 0`` (llama.vim's background context updates)
answers at once without generating. ``response_fields`` picks fields by path, as
llama-server does (``"timings/predicted_n"``). Sampler and time-budget fields are
accepted and ignored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from localforge.errors import Unavailable
from localforge.http.relay import answered, services
from localforge.http.schemas import LlamaServerError, Open, errors
from localforge.serving.requests import CodeRequest

router = APIRouter(tags=["llama-server"])
ERRORS = errors(LlamaServerError)
EXTRA_CHARS = 8000  # other files' text put before the prefix, at most
DEFAULT_N_PREDICT = 128


class Health(BaseModel):
    status: str


@router.get("/health", response_model=None, responses={200: {"model": Health}, **ERRORS})
async def health(request: Request) -> Response:
    """``{"status": "ok"}`` once a model is registered; 503 otherwise."""
    if not services(request).serving.list_models()["models"]:
        raise Unavailable("no models are registered: add one with `lfctl models add PATH`")
    return JSONResponse({"status": "ok"})


class Chunk(Open):
    text: str = ""
    filename: str | None = None


class InfillRequest(Open):
    input_prefix: str = Field("", description="the lines before the cursor")
    input_suffix: str = Field("", description="the text after the cursor")
    input_extra: list[Chunk] = Field(default_factory=list, description="other files' chunks")
    prompt: str = Field("", description="the current line before the cursor")
    n_predict: int = Field(-1, ge=-1, le=8192, description="-1: 128 tokens; 0: no generation")
    temperature: float | None = Field(None, ge=0, le=2)
    stop: list[str] = Field(default_factory=list)
    model: str = Field("auto", description="LocalForge: a model name, or auto")
    response_fields: list[str] | None = None


class InfillAnswer(Open):
    content: str = Field(
        "", description="the completion; absent when response_fields leaves it out"
    )


def _prefix(body: InfillRequest) -> str:
    extra = "".join(
        chunk.text if chunk.text.endswith("\n") else chunk.text + "\n"
        for chunk in body.input_extra
        if chunk.text
    )
    return extra[-EXTRA_CHARS:] + body.input_prefix + body.prompt


def _pick(answer: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    picked: dict[str, Any] = {}
    for path in fields:
        value: Any = answer
        for part in path.split("/"):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            picked[path] = value
    return picked


@router.post("/infill", response_model=None, responses={200: {"model": InfillAnswer}, **ERRORS})
async def infill(request: Request, body: InfillRequest) -> Response:
    """Fill in the middle at the cursor, on LocalForge's completion model."""
    if body.n_predict == 0:
        return JSONResponse({"content": "", "stop": True, "tokens_predicted": 0})
    code = CodeRequest(
        prefix=_prefix(body),
        suffix=body.input_suffix,
        model=body.model,
        stream=False,
        max_tokens=DEFAULT_N_PREDICT if body.n_predict < 0 else body.n_predict,
        temperature=0.2 if body.temperature is None else body.temperature,
        stop=list(body.stop),
    )
    result = await answered(request, services(request).serving.complete_code(code))
    answer = _answer(result)
    if body.response_fields:
        answer = _pick(answer, body.response_fields)
    return JSONResponse(answer)


def _answer(result: dict[str, Any]) -> dict[str, Any]:
    timings, usage = result.get("timings") or {}, result.get("usage") or {}
    prompt_n = int(usage.get("prompt_tokens", 0))
    predicted_n = int(usage.get("completion_tokens", 0))
    prompt_ms = max(float(timings.get("ttft_ms", 0)) - float(timings.get("queue_ms", 0)), 0.0)
    predicted_ms = max(float(timings.get("generate_ms", 0)) - prompt_ms, 0.0)
    length = result.get("finish_reason") == "length"
    return {
        "content": result["text"],
        "model": result["model"],
        "stop": True,
        "stop_type": "limit" if length else "eos",
        "tokens_predicted": predicted_n,
        "tokens_evaluated": prompt_n,
        "tokens_cached": 0,
        "truncated": False,
        "timings": {
            "prompt_n": prompt_n,
            "prompt_ms": round(prompt_ms, 3),
            "prompt_per_token_ms": round(prompt_ms / prompt_n, 3) if prompt_n else 0.0,
            "prompt_per_second": round(prompt_n / (prompt_ms / 1000), 3) if prompt_ms else 0.0,
            "predicted_n": predicted_n,
            "predicted_ms": round(predicted_ms, 3),
            "predicted_per_token_ms": round(predicted_ms / predicted_n, 3) if predicted_n else 0.0,
            "predicted_per_second": round(predicted_n / (predicted_ms / 1000), 3)
            if predicted_ms
            else 0.0,
        },
        "request_id": result["request_id"],
        "task_type": result.get("task_type"),
    }
