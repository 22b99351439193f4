"""What a serving call yields: typed events, ending with ``Done`` (or a typed error).

``as_dict`` is the event as the socket streams it (``$/stream`` data); other doors
read the fields and speak their own dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RouteDecided:
    """The model is chosen; always the first event of a chat or completion."""

    request_id: str
    model: str
    task_type: str
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": "route",
            "request_id": self.request_id,
            "model": self.model,
            "task_type": self.task_type,
            "confidence": round(self.confidence, 4),
        }


@dataclass(frozen=True)
class LoadProgress:
    model: str
    progress: float  # 0.0 … 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"type": "load", "model": self.model, "progress": round(self.progress, 3)}


@dataclass(frozen=True)
class Token:
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"type": "token", "text": self.text}


@dataclass(frozen=True)
class EvalProgress:
    model: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"type": "eval", "model": self.model, **self.detail}


@dataclass(frozen=True)
class Done:
    """The last event: the answer (or the operation's result) with usage and timings."""

    result: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return self.result


Event = RouteDecided | LoadProgress | Token | EvalProgress | Done
