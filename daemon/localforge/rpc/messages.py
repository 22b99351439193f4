"""JSON-RPC 2.0 message rules: turn a frame body into requests or error responses."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Self

from localforge.errors import (
    REQUEST_CANCELLED,
    InvalidParams,
    InvalidRequest,
    LocalForgeError,
    ParseError,
)

RequestId = int | str | None
CANCEL_METHOD = "$/cancelRequest"
STREAM_METHOD = "$/stream"


@dataclass(frozen=True)
class Request:
    method: str
    params: dict[str, Any] | list[Any] | None
    id: RequestId
    is_notification: bool


@dataclass(frozen=True)
class Invalid:
    """A batch element or message that broke the rules; answered with this error."""

    id: RequestId
    error: LocalForgeError


Message = Request | Invalid


def decode_body(body: bytes) -> Any:
    """The JSON value of a frame body; anything that is not JSON in UTF-8 is a ``ParseError``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"message is not valid UTF-8 (byte {exc.start}): encode JSON as UTF-8"
        ) from exc
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ParseError("JSON is nested too deeply: flatten the message") from exc
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ValueError as exc:  # the only other one: Python's limit on integer digits
        raise ParseError(
            f"invalid JSON: a number has more than {sys.get_int_max_str_digits()} digits; "
            "send very large numbers as strings"
        ) from exc


def parse(payload: Any) -> list[Message] | Message:
    """A batch gives a list (never empty), a single message gives one item."""
    if isinstance(payload, list):
        if not payload:
            return Invalid(None, InvalidRequest("empty batch: send at least one request"))
        return [parse_one(item) for item in payload]
    return parse_one(payload)


def parse_one(item: Any) -> Message:
    """One message, or one element of a batch."""
    if not isinstance(item, dict):
        kind = type(item).__name__
        return Invalid(None, InvalidRequest(f"a request must be a JSON object, got {kind}"))
    raw_id = item.get("id")
    id_ok = raw_id is None or _is_id(raw_id)
    rid: RequestId = raw_id if id_ok else None
    if item.get("jsonrpc") != "2.0":
        return Invalid(rid, InvalidRequest("'jsonrpc' must be exactly \"2.0\""))
    if not id_ok:
        return Invalid(None, InvalidRequest("'id' must be a string, an integer or null"))
    method = item.get("method")
    if not isinstance(method, str) or not method:
        return Invalid(rid, InvalidRequest("'method' must be a non-empty string"))
    params = item.get("params")
    if params is not None and not isinstance(params, dict | list):
        return Invalid(rid, InvalidRequest("'params' must be an object or an array"))
    return Request(method, params, rid, is_notification="id" not in item)


def _is_id(value: Any) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)


def cancel_target(params: Any) -> int | str:
    """The id a ``$/cancelRequest`` names: its params are ``{"id": integer | string}``."""
    if not isinstance(params, dict) or "id" not in params:
        got = "no 'id'"
    else:
        target = params["id"]
        if _is_id(target):
            assert isinstance(target, int | str)
            return target
        got = _JSON_KINDS.get(type(target), type(target).__name__)
    raise InvalidParams(
        f"invalid params for {CANCEL_METHOD}: 'id' must be the integer or string id "
        f"of a request sent on this connection, got {got}"
    )


_JSON_KINDS = {
    type(None): "null",
    bool: "a boolean",
    float: "a non-integer number",
    list: "an array",
    dict: "an object",
}


def request(rid: RequestId, method: str, params: Any = None) -> dict[str, Any]:
    """A request message as a client sends it; ``params`` is left out when None."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        message["params"] = params
    return message


def response(rid: RequestId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "result": result}


def error_response(rid: RequestId, error: LocalForgeError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": error.to_rpc()}


def notification(method: str, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


class ErrorAnswer(Exception):
    """An error response, as a client of the daemon raises it; ``message`` is for a person."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    @classmethod
    def from_rpc(cls, error: dict[str, Any]) -> Self:
        """The error object of a JSON-RPC response."""
        return cls(error.get("code", 0), error.get("message", ""), error.get("data"))

    @property
    def cancelled(self) -> bool:
        return self.code == REQUEST_CANCELLED
