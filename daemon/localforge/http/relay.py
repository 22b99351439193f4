"""Serving events onto HTTP: the routing headers, the first event, the answer, disconnects.

Every response carries ``x-localforge-request-id``, ``x-localforge-model`` and
``x-localforge-task``. A handler that routed a request names them with
``tag``; ``Tagging`` adds them to every response start (``none`` where nothing
was routed, with a fresh request id so a log line can still be found).

A handler waits for serving events with ``first`` and ``finish``: both race the
wait against the client going away, and a client that disconnects cancels the
serving call, which stops the generation in the worker and frees it. A stream
under way is cancelled by Starlette itself when the client disconnects.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import StreamingResponse

from localforge.errors import RequestCancelled
from localforge.http.security import ASGIApp, Message, Receive, Scope, Send
from localforge.serving.context import Services
from localforge.serving.events import Done, Event, RouteDecided

T = TypeVar("T")

REQUEST_ID = "x-localforge-request-id"
MODEL = "x-localforge-model"
TASK = "x-localforge-task"
EXPOSED = [REQUEST_ID, MODEL, TASK]
STATE_KEY = "localforge_tags"


def services(request: Request) -> Services:
    """The typed service context the app was built with (``app.state.services``)."""
    found: Services = request.app.state.services
    return found


def tag(request: Request, request_id: str, model: str, task: str) -> None:
    request.scope.setdefault("state", {})[STATE_KEY] = (request_id, model, task)


def tag_route(request: Request, route: RouteDecided) -> None:
    tag(request, route.request_id, route.model, route.task_type)


def tag_result(request: Request, result: dict[str, Any]) -> None:
    tag(
        request,
        str(result.get("request_id", "none")),
        str(result.get("model", "none")),
        str(result.get("task_type", "none")),
    )


class Tagging:
    """Adds the three routing headers to every response of the app it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                request_id, model, task = state.get(STATE_KEY) or (uuid.uuid4().hex, "none", "none")
                headers = list(message.get("headers", ()))
                headers += [
                    (REQUEST_ID.encode(), request_id.encode()),
                    (MODEL.encode(), model.encode()),
                    (TASK.encode(), task.encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_tagged)


class EventStream(StreamingResponse):
    """A streamed answer that stops its serving call however the response ends.

    Starlette stops sending when the client disconnects but leaves the body
    iterator suspended; closing it here closes the serving call, which stops the
    generation and frees the worker.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()


async def aclose(events: AsyncIterator[Event]) -> None:
    """Close a serving call (an async generator) that is not drained: it stops the model."""
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()


async def _disconnected(request: Request) -> None:
    """Return once the client has gone (the body is read already, so only that can come)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def watch(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``; cancel it (and raise ``RequestCancelled``) if the client goes away."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})  # cancelled once: it stops the model on its own
    if task.cancelled():
        raise RequestCancelled("the client closed the connection before the answer")
    return task.result()


async def first(request: Request, events: AsyncIterator[Event]) -> Event:
    """The first event of a serving call (the route, for a streamed answer)."""
    return await watch(request, anext(events))


async def finish(request: Request, events: AsyncIterator[Event]) -> dict[str, Any]:
    """Drain a serving call to its ``Done`` result."""

    async def last() -> dict[str, Any]:
        async for event in events:
            if isinstance(event, Done):
                return event.result
        raise RuntimeError("a serving call ended without its result")

    return await watch(request, last())


async def answered(request: Request, events: AsyncIterator[Event]) -> dict[str, Any]:
    """Drain a serving call to its result, and name its route in the response headers."""
    result = await finish(request, events)
    tag_result(request, result)
    return result
