"""The web dashboard: a static page at ``/`` and the data it reads under ``/dashboard/api``.

The page (``http/static/``: HTML, one script, one stylesheet, no third-party code) is
served without the token: it holds no data. Everything it shows comes from the data
endpoints, which the door's usual rules guard (loopback, Host, Origin, bearer token).
With ``http.token`` set the page asks for the token once, keeps it in the tab's
``sessionStorage`` and sends it as ``Authorization: Bearer`` on every request; it is
never put in a URL. The live decisions arrive as server-sent events read with
``fetch`` (``EventSource`` cannot send a header), each ``data:`` line one JSON batch:
``{"events": [...], "skipped": N}``; a comment line every ``KEEPALIVE_S`` keeps
proxies from closing a quiet stream. The routes are left out of ``/openapi.json``:
they are the page's, not an API for tools.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from localforge.errors import NotFound, Unavailable
from localforge.http.security import Receive, Scope, Send
from localforge.serving.context import Services
from localforge.serving.dashboard import Dashboard
from localforge.serving.decisions import KEEP, LINGER_S, DecisionFeed, Subscription

router = APIRouter(include_in_schema=False)
KEEPALIVE_S = 15.0
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
NO_STORE = {"Cache-Control": "no-store"}


def _dashboard(request: Request) -> Dashboard:
    services: Services = request.app.state.services
    if services.dashboard is None:
        raise Unavailable("this daemon was built without the dashboard")
    return services.dashboard


@cache
def _asset(name: str) -> bytes:
    return (resources.files("localforge.http") / "static" / name).read_bytes()


def _static(name: str) -> Response:
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if name == "index.html":
        headers["Content-Security-Policy"] = PAGE_POLICY
    return Response(_asset(name), media_type=ASSETS[name], headers=headers)


@router.get("/")
async def page() -> Response:
    return _static("index.html")


@router.get("/dashboard/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS or name == "index.html":
        raise NotFound(f"no dashboard file {name!r}; the page is at /")
    return _static(name)


@router.get("/dashboard/api/snapshot")
async def snapshot(request: Request, decisions: int = Query(20, ge=0, le=KEEP)) -> Response:
    return JSONResponse(await _dashboard(request).snapshot(decisions), headers=NO_STORE)


@router.get("/dashboard/api/learning")
async def learning(
    request: Request, days: float = Query(30.0, gt=0, le=365), bucket: str = "auto"
) -> Response:
    return JSONResponse(await _dashboard(request).learning(days, bucket), headers=NO_STORE)


@router.get("/dashboard/api/memory")
async def memory(request: Request) -> Response:
    return JSONResponse(await _dashboard(request).memory(), headers=NO_STORE)


@router.get("/dashboard/api/decisions/{request_id}")
async def decision(request: Request, request_id: str) -> Response:
    return JSONResponse(_dashboard(request).decision(request_id), headers=NO_STORE)


@router.get("/dashboard/api/events")
async def events(
    request: Request,
    after: int = Query(0, ge=0, description="send the kept decisions after this seq first"),
    backlog: int = Query(20, ge=0, le=KEEP),
) -> Response:
    feed = _dashboard(request).feed
    subscription = feed.subscribe()  # Busy (503) when too many already follow
    return EventStream(feed, subscription, _batches(feed, subscription, after, backlog))


async def _batches(feed: DecisionFeed, subscription: Subscription, after: int, backlog: int) -> Any:
    yield _sse({"events": feed.recent(backlog, after=after), "skipped": 0})
    while not subscription.closed:
        batch, skipped = await subscription.take(KEEPALIVE_S, LINGER_S)
        if batch or skipped:
            yield _sse({"events": batch, "skipped": skipped})
        elif not subscription.closed:
            yield b": keep-alive\n\n"


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


class EventStream(StreamingResponse):
    """The event stream; its subscription ends with the response, however it ends."""

    def __init__(self, feed: DecisionFeed, subscription: Subscription, content: Any) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={**NO_STORE, "X-Accel-Buffering": "no"},
        )
        self.feed = feed
        self.subscription = subscription

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.feed.unsubscribe(self.subscription)
