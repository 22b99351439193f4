"""JSON-RPC 2.0 message rules: what is a request, what is invalid, and with which id."""

from __future__ import annotations

import pytest

from localforge.errors import (
    INVALID_REQUEST,
    PARSE_ERROR,
    REQUEST_CANCELLED,
    InvalidParams,
    InvalidRequest,
    ParseError,
)
from localforge.rpc import messages
from localforge.rpc.messages import ErrorAnswer, Invalid, Request


def test_request_and_notification() -> None:
    req = messages.parse({"jsonrpc": "2.0", "id": 7, "method": "a.b", "params": {"x": 1}})
    assert req == Request("a.b", {"x": 1}, 7, is_notification=False)
    note = messages.parse({"jsonrpc": "2.0", "method": "a.b"})
    assert note == Request("a.b", None, None, is_notification=True)
    # An explicit null id is a request (answered with id null), not a notification.
    null_id = messages.parse({"jsonrpc": "2.0", "id": None, "method": "a.b", "params": [1]})
    assert isinstance(null_id, Request) and not null_id.is_notification


@pytest.mark.parametrize(
    ("payload", "rid", "message"),
    [
        (42, None, "a request must be a JSON object, got int"),
        ("x", None, "a request must be a JSON object, got str"),
        (None, None, "a request must be a JSON object, got NoneType"),
        ({"id": 1, "method": "m"}, 1, "'jsonrpc' must be exactly \"2.0\""),
        ({"jsonrpc": "1.0", "id": "a", "method": "m"}, "a", "'jsonrpc' must be exactly"),
        ({"jsonrpc": 2.0, "id": 1, "method": "m"}, 1, "'jsonrpc' must be exactly"),
        ({"jsonrpc": "2.0", "id": 3}, 3, "'method' must be a non-empty string"),
        ({"jsonrpc": "2.0", "id": 3, "method": 5}, 3, "'method' must be a non-empty string"),
        ({"jsonrpc": "2.0", "id": 3, "method": ""}, 3, "'method' must be a non-empty string"),
        ({"jsonrpc": "2.0", "id": True, "method": "m"}, None, "'id' must be a string"),
        ({"jsonrpc": "2.0", "id": [1], "method": "m"}, None, "'id' must be a string"),
        ({"jsonrpc": "2.0", "id": 4, "method": "m", "params": 5}, 4, "'params' must be an object"),
    ],
)
def test_invalid_requests(payload: object, rid: object, message: str) -> None:
    parsed = messages.parse(payload)
    assert isinstance(parsed, Invalid)
    assert parsed.id == rid
    assert isinstance(parsed.error, InvalidRequest)
    assert parsed.error.code == INVALID_REQUEST
    assert message in parsed.error.message


def test_empty_batch_is_one_invalid_request() -> None:
    parsed = messages.parse([])
    assert isinstance(parsed, Invalid)
    assert parsed.id is None
    assert parsed.error.message == "empty batch: send at least one request"


def test_batch_items_are_judged_one_by_one() -> None:
    parsed = messages.parse([1, {"jsonrpc": "2.0", "id": 1, "method": "m"}, {"foo": "bar"}])
    assert isinstance(parsed, list) and len(parsed) == 3
    assert isinstance(parsed[0], Invalid) and isinstance(parsed[2], Invalid)
    assert parsed[1] == Request("m", None, 1, is_notification=False)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"{",
            "invalid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        ),
        (b"", "invalid JSON: Expecting value at line 1 column 1"),
        (b'{"a": "\xff"}', "message is not valid UTF-8 (byte 7): encode JSON as UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON is nested too deeply: flatten the message"),
    ],
)
def test_decode_errors_are_parse_errors(body: bytes, message: str) -> None:
    with pytest.raises(ParseError) as err:
        messages.decode_body(body)
    assert err.value.code == PARSE_ERROR
    assert err.value.message == message


def test_responses() -> None:
    assert messages.response(1, {"ok": True}) == {"jsonrpc": "2.0", "id": 1, "result": {"ok": True}}
    err = messages.error_response(None, ParseError("bad"))
    assert err == {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "bad"}}
    assert messages.notification("$/stream", {"id": 1}) == {
        "jsonrpc": "2.0",
        "method": "$/stream",
        "params": {"id": 1},
    }


def test_an_integer_longer_than_python_allows_is_a_parse_error() -> None:
    body = b'{"jsonrpc":"2.0","id":' + b"1" * 4301 + b',"method":"daemon.status"}'
    with pytest.raises(ParseError) as err:
        messages.decode_body(body)
    assert err.value.message == (
        "invalid JSON: a number has more than 4300 digits; send very large numbers as strings"
    )


@pytest.mark.parametrize("target", [1, "a", 10**30])
def test_a_cancel_names_an_integer_or_string_id(target: object) -> None:
    assert messages.cancel_target({"id": target}) == target


@pytest.mark.parametrize(
    ("params", "got"),
    [
        ({"id": [1]}, "an array"),
        ({"id": {"a": 1}}, "an object"),
        ({"id": None}, "null"),
        ({"id": True}, "a boolean"),
        ({"id": 1.5}, "a non-integer number"),
        ({}, "no 'id'"),
        (None, "no 'id'"),
        ([1], "no 'id'"),
    ],
)
def test_a_cancel_without_a_usable_id_is_invalid_params(params: object, got: str) -> None:
    with pytest.raises(InvalidParams) as err:
        messages.cancel_target(params)
    assert err.value.message == (
        "invalid params for $/cancelRequest: 'id' must be the integer or string id of a "
        f"request sent on this connection, got {got}"
    )


def test_an_error_answer_keeps_code_message_and_data_and_knows_a_cancel() -> None:
    answer = ErrorAnswer.from_rpc({"code": -32602, "message": "bad n", "data": {"param": "n"}})
    assert (answer.code, answer.message, answer.data, str(answer)) == (
        -32602,
        "bad n",
        {"param": "n"},
        "bad n",
    )
    assert not answer.cancelled
    assert ErrorAnswer.from_rpc({"code": REQUEST_CANCELLED, "message": "cancelled"}).cancelled
    bare = ErrorAnswer.from_rpc({})  # a server that sent an empty error object
    assert (bare.code, bare.message, bare.data) == (0, "", None)
