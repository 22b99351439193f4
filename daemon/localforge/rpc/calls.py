"""What a connection tracks for each call it was sent, and for each batch."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from localforge.rpc import messages


@dataclass(eq=False)
class Batch:
    """A batch's calls, parsed one at a time as slots free, and its answer as it fills."""

    items: list[Any]
    taken: int = 0
    parts: list[bytes | None] = field(default_factory=list)
    waiting: int = 0  # reserved parts not filled yet
    full: bool = False  # an answer did not fit under the cap: the calls left are not run
    size: int = 2  # bytes of the answer so far: "[" and "]" plus parts and commas

    @property
    def exhausted(self) -> bool:
        return self.taken >= len(self.items)

    def take(self) -> Any:
        item = self.items[self.taken]
        self.items[self.taken] = None  # parsed now: no need to keep the JSON
        self.taken += 1
        return item

    def reserve(self) -> int:
        self.parts.append(None)
        self.waiting += 1
        return len(self.parts) - 1

    def fill(self, slot: int, body: bytes) -> None:
        self.parts[slot] = body
        self.waiting -= 1
        self.size += len(body) + (1 if self.size > 2 else 0)

    @property
    def complete(self) -> bool:
        return self.exhausted and self.waiting == 0

    def body(self) -> bytes | None:
        """The answer; None when every call was a notification."""
        parts = [part for part in self.parts if part is not None]
        return b"[" + b",".join(parts) + b"]" if parts else None


@dataclass(eq=False)
class Call:
    """One request or notification; ``answered`` once its one answer is sent or put in its batch."""

    request: messages.Request
    batch: Batch | None = None
    slot: int = -1  # its part of the batch's answer
    task: asyncio.Task[Any] | None = None
    answered: bool = False
