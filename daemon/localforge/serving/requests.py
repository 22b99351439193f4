"""What a door asks the serving core for, independent of how the door spells it."""

from __future__ import annotations

from dataclasses import dataclass, field

from localforge.models.runtime.fim import ContextChunk

__all__ = ["ChatRequest", "CodeRequest", "ContextChunk", "EvalRequest"]

ROUTE_TEXT_CHARS = 2000  # the tail of the conversation routed
CODE_ROUTE_CHARS = 512  # at most this much code around the cursor is embedded to route
CODE_ROUTE_LINES = 8


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
    stop_pattern: str | None = None  # a regex; generation stops where it first matches
    trace: bool = False  # put the routing decision's trace in the result

    @property
    def route_text(self) -> str:
        """The whole lines before the cursor's line (a few, bounded), tagged with the language.

        Typing on a line leaves this text unchanged, so its embedding is reused keystroke
        after keystroke, and a keystroke never embeds a whole file. On the first line of a
        document the line itself (or the text after the cursor) stands in.
        """
        header = f"[{self.language}] " if self.language else ""
        before = self.prefix[: self.prefix.rfind("\n") + 1]
        lines = before[-CODE_ROUTE_CHARS:].splitlines(keepends=True)
        if len(before) > CODE_ROUTE_CHARS and lines:
            lines = lines[1:]  # the first one is cut: leave it out
        context = "".join(lines[-CODE_ROUTE_LINES:])
        if not context.strip():
            context = self.prefix[-CODE_ROUTE_CHARS:] or self.suffix[:CODE_ROUTE_CHARS]
        return header + context if context.strip() else f"{self.language or 'code'} completion"


@dataclass(frozen=True)
class EvalRequest:
    name: str
    categories: tuple[str, ...] | None = None
    limit: int | None = None
    temperature: float = 0.0
    max_tokens_scale: float = 1.0
