"""What a door asks the serving core for, independent of how the door spells it."""

from __future__ import annotations

from dataclasses import dataclass, field

from localforge.models.runtime.fim import ContextChunk

__all__ = ["ChatRequest", "CodeRequest", "ContextChunk", "EvalRequest"]

ROUTE_TEXT_CHARS = 2000  # the tail of the conversation routed


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, str]]
    model: str = "auto"  # "auto" routes; a name forces that model
    stream: bool = True  # emit load progress and tokens as events
    max_tokens: int = 512
    temperature: float = 0.7
    stop: list[str] = field(default_factory=list)
    trace: bool = False  # put the routing decision's trace in the result

    @property
    def route_text(self) -> str:
        """The last user message (the last message when none is from the user), its tail."""
        text = next(
            (m["content"] for m in reversed(self.messages) if m["role"] == "user"),
            self.messages[-1]["content"],
        )
        return text[-ROUTE_TEXT_CHARS:]


@dataclass(frozen=True)
class CodeRequest:
    prefix: str
    suffix: str = ""
    language: str | None = None
    path: str | None = None
    model: str = "auto"  # "auto": residency.completion_model, else routed
    stream: bool = False
    max_tokens: int = 128
    temperature: float = 0.2
    stop: list[str] = field(default_factory=list)
    extra: tuple[ContextChunk, ...] = ()  # chunks of other files, when the context allows
    trace: bool = False  # put the routing decision's trace in the result

    @property
    def route_text(self) -> str:
        """A bounded window around the cursor, tagged with the language."""
        header = f"[{self.language}] " if self.language else ""
        context = self.prefix[-ROUTE_TEXT_CHARS:] or self.suffix[:ROUTE_TEXT_CHARS]
        return header + context if context.strip() else f"{self.language or 'code'} completion"


@dataclass(frozen=True)
class EvalRequest:
    name: str
    categories: tuple[str, ...] | None = None
    limit: int | None = None
    temperature: float = 0.0
    max_tokens_scale: float = 1.0
