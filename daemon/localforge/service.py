"""What every long-lived part of the daemon looks like to the composition root."""

from __future__ import annotations

from typing import Any, Protocol


class Service(Protocol):
    """Started in order after storage, stopped in reverse; ``status`` feeds ``lfctl status``."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def status(self) -> dict[str, Any]:
        """At least ``{"state": "ready" | "starting" | "degraded" | "stopped", "detail": str}``."""
        ...
