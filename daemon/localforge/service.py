"""What every long-lived part of the daemon looks like to the composition root."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Service(Protocol):
    """Started in order after storage, stopped in reverse; ``status`` feeds ``lfctl status``.

    ``restart_keys`` names the settings the service reads only at start (a key, or a
    section ending in ``.``): ``daemon.reload`` reports those as needing a restart.
    ``settings_changed`` is told the keys a reload changed, to apply what it can.
    """

    name: str
    restart_keys: tuple[str, ...]

    def settings_changed(self, changed: Sequence[str]) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def status(self) -> dict[str, Any]:
        """At least ``{"state": "ready" | "starting" | "degraded" | "stopped", "detail": str}``."""
        ...
