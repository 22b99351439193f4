"""Run a piece of serving work as a stream of events that ends with ``Done``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from localforge.serving.events import Done, Event, LoadProgress
from localforge.serving.ports import OnProgress

Emit = Callable[[Event], None]


def progress_to(emit: Emit, model: str) -> OnProgress:
    def on_progress(progress: float) -> None:
        emit(LoadProgress(model, progress))

    return on_progress


async def run_events(work: Callable[[Emit], Awaitable[dict[str, Any]]]) -> AsyncIterator[Event]:
    """Run ``work`` as a task; yield what it emits as it emits it, then ``Done`` with its result.

    Cancelling the iterating task cancels ``work`` and waits for it, so the model is
    told to stop and its slot is free before the cancellation goes on. ``work`` is
    cancelled once: a caller cancelled again while it waits (as anyio's cancel scopes
    do) stops waiting, and ``work`` still finishes stopping the model on its own.
    """
    queue: asyncio.Queue[Event | None] = asyncio.Queue()
    task = asyncio.ensure_future(work(queue.put_nowait))
    task.add_done_callback(lambda _: queue.put_nowait(None))  # the end, after every event
    try:
        while (item := await queue.get()) is not None:
            yield item
        yield Done(task.result())
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait({task})  # unlike gather, a cancelled wait leaves task alone
