"""Shapes shared by the three APIs: error bodies (documented as each operation's default)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    """A body that accepts fields it does not know (clients send many we ignore)."""

    model_config = ConfigDict(extra="allow")


class OpenAIErrorDetail(BaseModel):
    message: str = Field(description="the cause and the fix")
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail


class OllamaError(BaseModel):
    error: str = Field(description="the cause and the fix")


class LlamaServerErrorDetail(BaseModel):
    code: int
    message: str = Field(description="the cause and the fix")
    type: str


class LlamaServerError(BaseModel):
    error: LlamaServerErrorDetail


def errors(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """Every error status of an operation, documented as its default response."""
    return {
        "default": {
            "model": model,
            "description": "an error (400 bad field, 401, 403, 404, 413, 421, 429 / 503 with "
            "Retry-After, 5xx); the message names the cause and the fix",
        }
    }


def streamed(model: type[BaseModel], media_type: str, description: str) -> dict[str, Any]:
    """A 200 that is JSON, or a stream of events when the request asks for one."""
    return {
        "model": model,
        "description": description,
        "content": {media_type: {"schema": {"type": "string"}}},
    }
