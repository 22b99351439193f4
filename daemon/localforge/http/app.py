"""The ASGI app of the HTTP door: the three APIs and /metrics behind one set of guards.

From the outside in: ``Guard`` (Host, Origin, token, body size), CORS (only
when ``http.cors_origins`` names origins), request metrics, the routing
headers, then FastAPI with one router per API. Handlers reach the daemon
through the typed ``Services`` in ``app.state``; errors become each dialect's
error body in ``http/errors.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response

from localforge import __version__
from localforge.errors import InternalError, InvalidParams, LocalForgeError, MethodNotFound
from localforge.http import dashboard, llama_server, metrics, ollama, openai
from localforge.http.errors import Refused, response
from localforge.http.relay import EXPOSED, Tagging
from localforge.http.security import ASGIApp, Guard, Message, Receive, Scope, Send
from localforge.serving.context import MetricsView, Services
from localforge.serving.decisions import ORIGIN, Origin
from localforge.settings import HttpSettings

log = logging.getLogger(__name__)
HTTP_ORIGIN = Origin("http")


def build_app(
    services: Services, settings: Callable[[], HttpSettings], listen_host: str
) -> ASGIApp:
    api = FastAPI(
        title="LocalForge",
        version=__version__,
        description="OpenAI, Ollama and llama-server APIs onto LocalForge's router",
        docs_url=None,  # the docs pages load scripts from a CDN; /openapi.json is the document
        redoc_url=None,
    )
    api.state.services = services
    for module in (openai, ollama, llama_server, metrics, dashboard):
        api.include_router(module.router)
    api.add_exception_handler(LocalForgeError, _typed)
    api.add_exception_handler(RequestValidationError, _invalid)
    api.add_exception_handler(HTTPException, _http)
    api.add_exception_handler(Exception, _unexpected)
    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]
    app: ASGIApp = Tagging(api)
    app = Counting(app, services.metrics)
    origins = settings().cors_origins
    if origins:
        app = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["authorization", "content-type"],
            expose_headers=EXPOSED,
        )
    return Guard(app, settings, listen_host)


class Counting:
    """Counts every request by endpoint (the route's path template), method and status."""

    def __init__(self, app: ASGIApp, metrics: MetricsView) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ORIGIN.set(HTTP_ORIGIN)  # the live decisions label what this request routes "http"
        started = time.perf_counter()
        status = 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            route = scope.get("route")
            endpoint = str(getattr(route, "path", "other"))
            self.metrics.http_request(
                endpoint, str(scope.get("method")), status, time.perf_counter() - started
            )


async def _typed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LocalForgeError)
    if not isinstance(exc, Refused):
        log.info("%s %s: %s", request.method, request.url.path, exc.message)
    return response(exc, request.url.path)


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    param = None
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part != "body"]
        field = ".".join(loc) or "body"
        param = param or field
        if err.get("type") == "missing":
            problems.append(f"'{field}' is required")
        elif err.get("type") == "json_invalid":
            problems.append(f"the body is not valid JSON ({err.get('msg')})")
        else:
            problems.append(f"'{field}': {err.get('msg')} (got {err.get('input')!r:.60})")
    error = InvalidParams("invalid request: " + "; ".join(problems), data={"param": param})
    return response(error, request.url.path)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        error: LocalForgeError = MethodNotFound(
            f"no endpoint {request.url.path}; GET /openapi.json lists every endpoint"
        )
    elif exc.status_code == 405:
        error = Refused(405, f"{request.method} is not allowed on {request.url.path}")
    else:
        error = Refused(exc.status_code, str(exc.detail))
    return response(error, request.url.path)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("internal error in %s %s", request.method, request.url.path, exc_info=exc)
    services: Services = request.app.state.services
    error = InternalError(
        f"internal error in {request.method} {request.url.path}; the daemon log "
        f"({services.log_file}) has the details"
    )
    return response(error, request.url.path)


def _openapi(api: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with validation errors documented as the 400 they are."""
    if api.openapi_schema is not None:
        return api.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(
        title=api.title, version=api.version, description=api.description, routes=api.routes
    )
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    api.openapi_schema = schema
    return schema
