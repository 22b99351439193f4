"""A streamed answer on HTTP, in one loop for every wire format (SSE, NDJSON).

A door says how one object is written on the wire (``sse_line``, ``ndjson_line``)
and what each serving event becomes: a generated piece, load progress (optional)
and the closing objects made from the result. An error part-way becomes the
door's error object in the stream (the status line has gone out already), and
the serving call is closed however the stream ends, which stops the model.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from starlette.requests import Request

from localforge.errors import LocalForgeError
from localforge.http.errors import stream_error
from localforge.http.relay import EventStream, aclose, first, tag_route
from localforge.serving.events import Done, Event, LoadProgress, RouteDecided, Token

Encode = Callable[[dict[str, Any]], bytes]
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_line(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def ndjson_line(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


async def route_first(request: Request, events: AsyncIterator[Event]) -> RouteDecided:
    """The route a streamed answer begins with; it names the response's routing headers."""
    route = await first(request, events)
    assert isinstance(route, RouteDecided), "a streamed answer begins with its route"
    tag_route(request, route)
    return route


def stream_answer(
    request: Request,
    events: AsyncIterator[Event],
    *,
    encode: Encode,
    media_type: str,
    piece: Callable[[str], dict[str, Any]],
    closing: Callable[[dict[str, Any]], Sequence[dict[str, Any]]],
    opening: Sequence[dict[str, Any]] = (),
    progress: Callable[[LoadProgress], bytes] | None = None,
    trailer: bytes = b"",
    headers: Mapping[str, str] | None = None,
) -> EventStream:
    """Relay ``events`` (after its route) as a streamed response.

    ``opening`` objects go first; each ``Token`` becomes ``piece(text)``; each
    ``LoadProgress`` becomes ``progress(event)`` when given (else nothing); the
    ``Done`` result becomes the ``closing`` objects; ``trailer`` ends the stream,
    after an error too.
    """
    path = request.url.path

    async def body() -> AsyncIterator[bytes]:
        for data in opening:
            yield encode(data)
        try:
            async for event in events:
                if isinstance(event, Token):
                    yield encode(piece(event.text))
                elif isinstance(event, LoadProgress) and progress is not None:
                    yield progress(event)
                elif isinstance(event, Done):
                    for data in closing(event.result):
                        yield encode(data)
        except LocalForgeError as exc:
            yield encode(stream_error(exc, path))
        finally:
            await aclose(events)
        if trailer:
            yield trailer

    return EventStream(body(), media_type=media_type, headers=headers)
