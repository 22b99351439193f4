"""Shapes shared by the three APIs: error bodies (documented as each operation's default)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Body(BaseModel):
    """A request body: its text must be real Unicode (JSON can spell lone surrogates)."""

    @model_validator(mode="before")
    @classmethod
    def _unicode(cls, data: Any) -> Any:
        _check_text(data)
        return data


class Open(Body):
    """A body that accepts fields it does not know (clients send many we ignore)."""

    model_config = ConfigDict(extra="allow")


def _check_text(value: Any) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"text has a lone surrogate ({value[exc.start : exc.end]!r}), which is not "
                "Unicode; send UTF-8 text"
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


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
