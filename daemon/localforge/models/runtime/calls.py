"""The shape of a call to the model manager: the options it takes and the answer it gives.

Declared once, here, for the manager and for the serving core's ``Runner`` port.
Every option may be left out; the manager says what an unset one means
(``CODE_MAX_TOKENS``, ``CODE_TEMPERATURE``, or the model's ``spec.generation``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypedDict

from localforge.models.runtime.fim import ContextChunk
from localforge.models.runtime.worker import OnProgress, OnToken

CODE_MAX_TOKENS = 128
CODE_TEMPERATURE = 0.2


class Streaming(TypedDict, total=False):
    on_token: OnToken | None  # told each piece of text as it is generated
    on_progress: OnProgress | None  # told the load's progress (0..1) when the model loads


class ChatOptions(Streaming, total=False):
    max_tokens: int | None  # None: the model's default (spec.generation)
    temperature: float | None
    stop: Sequence[str]


class CodeContext(TypedDict, total=False):
    """What shapes a code-completion prompt."""

    extra: Sequence[ContextChunk]  # chunks of other files
    language: str | None
    path: str | None
    max_tokens: int  # CODE_MAX_TOKENS when unset


class CodeOptions(Streaming, CodeContext, total=False):
    temperature: float  # CODE_TEMPERATURE when unset
    stop: Sequence[str]
    stop_pattern: str | None  # a regex; generation stops where it first matches


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_format: str
    finish_reason: str
    usage: dict[str, int]
    timings: dict[str, float]
    loaded: bool  # this request paid for loading the model
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
