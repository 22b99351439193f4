"""Serving events onto the socket: ``$/stream`` notifications, then the result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from localforge.rpc.dispatch import CallContext
from localforge.serving.events import Done, Event


async def relay(ctx: CallContext, events: AsyncIterator[Event], *, stream: bool = True) -> Any:
    """Send each event as ``$/stream`` data (when ``stream``) and return the ``Done`` result."""
    async for event in events:
        if isinstance(event, Done):
            return event.result
        if stream:
            ctx.stream(event.as_dict())
    raise RuntimeError("a serving call ended without its result")
