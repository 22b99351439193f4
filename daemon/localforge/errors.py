"""Typed errors, each carrying its JSON-RPC code and a message a person can act on.

Services raise these; the RPC layer turns them into error responses without
looking at message text. Anything that is not a ``LocalForgeError`` becomes
-32603 (internal error) and is logged, never shown with a traceback.
"""

from __future__ import annotations

from typing import Any

# JSON-RPC 2.0 spec codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REQUEST_CANCELLED = -32800  # LSP's code for a request cancelled by the client.

# Application codes live in -32000..-32099.
CONFIG_ERROR = -32001
STORAGE_ERROR = -32002
NOT_FOUND = -32003
UNAVAILABLE = -32004
MODEL_ERROR = -32010
WORKER_CRASHED = -32011
BUDGET_EXCEEDED = -32012
TIMEOUT = -32013
BUSY = -32014


class LocalForgeError(Exception):
    """Base of every error a user can meet. ``message`` names the cause and the fix."""

    code: int = INTERNAL_ERROR

    def __init__(self, message: str, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_rpc(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ParseError(LocalForgeError):
    code = PARSE_ERROR


class InvalidRequest(LocalForgeError):
    code = INVALID_REQUEST


class MethodNotFound(LocalForgeError):
    code = METHOD_NOT_FOUND


class InvalidParams(LocalForgeError):
    code = INVALID_PARAMS


class InternalError(LocalForgeError):
    """Something broke inside the daemon; details are in the log, never sent to clients."""

    code = INTERNAL_ERROR


class RequestCancelled(LocalForgeError):
    code = REQUEST_CANCELLED


class ConfigError(LocalForgeError):
    """A setting or config file is invalid; the message names key, value and what is accepted."""

    code = CONFIG_ERROR


class StorageError(LocalForgeError):
    code = STORAGE_ERROR


class NotFound(LocalForgeError):
    """A named thing (request id, model, …) does not exist."""

    code = NOT_FOUND


class Unavailable(LocalForgeError):
    """A service is not ready or was not configured."""

    code = UNAVAILABLE


class ModelError(LocalForgeError):
    """A model could not be loaded or used (missing file, not GGUF, corrupt, …)."""

    code = MODEL_ERROR


class WorkerCrashed(LocalForgeError):
    code = WORKER_CRASHED


class BudgetExceeded(LocalForgeError):
    code = BUDGET_EXCEEDED


class AnswerTooLarge(BudgetExceeded):
    """An answer or stream notification would be larger than the frame cap."""


class Timeout(LocalForgeError):
    code = TIMEOUT


class Busy(LocalForgeError):
    """Too many requests are waiting; ``data["retry_after_s"]`` says when to try again."""

    code = BUSY


class StartupError(LocalForgeError):
    """The daemon cannot start (unsafe directory, already running, …)."""

    code = UNAVAILABLE
