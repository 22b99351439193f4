"""Errors onto HTTP, in one place: the status for each typed error, the body in each dialect.

A ``LocalForgeError`` keeps its message (cause and fix) and gets the status its
code stands for. The door's own refusals (token, Host, Origin, body size) are
``Refused`` with their status. The body takes the shape of the API the path
belongs to: OpenAI ``{"error": {message, type, param, code}}`` under ``/v1``,
Ollama ``{"error": message}`` under ``/api``, llama-server's
``{"error": {code, message, type}}`` elsewhere. Nothing else reaches a client:
an unexpected exception is logged and answered 500 naming the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

from localforge import errors as e

STATUS: dict[int, int] = {
    e.PARSE_ERROR: 400,
    e.INVALID_REQUEST: 400,
    e.INVALID_PARAMS: 400,
    e.METHOD_NOT_FOUND: 404,
    e.NOT_FOUND: 404,
    e.BUSY: 429,
    e.UNAVAILABLE: 503,
    e.BUDGET_EXCEEDED: 503,
    e.TIMEOUT: 504,
    e.WORKER_CRASHED: 502,
    e.REQUEST_CANCELLED: 499,
    e.MODEL_ERROR: 500,
    e.CONFIG_ERROR: 500,
    e.STORAGE_ERROR: 500,
    e.INTERNAL_ERROR: 500,
}

OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    421: "permission_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}


class Refused(e.LocalForgeError):
    """A refusal by the door itself, with its own HTTP status."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


@dataclass(frozen=True)
class Problem:
    status: int
    message: str
    code: str  # a short name: the error class (NotFound, Busy, …)
    param: str | None = None
    headers: dict[str, str] | None = None


def problem(exc: e.LocalForgeError) -> Problem:
    headers: dict[str, str] = {}
    if isinstance(exc, Refused):
        status, headers = exc.status, dict(exc.headers)
    else:
        status = STATUS.get(exc.code, 500)
    retry = (exc.data or {}).get("retry_after_s")
    if retry is None and status in (429, 503):
        retry = 1
    if retry is not None:
        headers["Retry-After"] = str(int(retry))
    param = (exc.data or {}).get("param")
    return Problem(status, exc.message, type(exc).__name__, param, headers)


def dialect(path: str) -> str:
    if path.startswith("/v1/") or path == "/v1":
        return "openai"
    if path.startswith("/api/"):
        return "ollama"
    return "llama-server"


def body(found: Problem, path: str) -> dict[str, Any]:
    kind = dialect(path)
    if kind == "ollama":
        return {"error": found.message}
    if kind == "openai":
        error_type = OPENAI_TYPES.get(found.status, "server_error")
        return {
            "error": {
                "message": found.message,
                "type": error_type,
                "param": found.param,
                "code": found.code,
            }
        }
    return {
        "error": {
            "code": found.status,
            "message": found.message,
            "type": OPENAI_TYPES.get(found.status, "server_error"),
        }
    }


def stream_error(exc: e.LocalForgeError, path: str) -> dict[str, Any]:
    """What an error that ends a stream already under way looks like, as one event."""
    return body(problem(exc), path)


def response(exc: e.LocalForgeError, path: str) -> JSONResponse:
    found = problem(exc)
    return JSONResponse(body(found, path), status_code=found.status, headers=found.headers)
