"""Method registry: params validated by their model, errors that name the field, discovery."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import Field

from localforge.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    InvalidParams,
    MethodNotFound,
)
from localforge.rpc.dispatch import CallContext, Method, MethodTable, NoParams, Params, bind_params
from localforge.rpc.framing import FrameDecoder, encode
from localforge.rpc.methods import all_methods
from localforge.rpc.server import RpcServer


class EchoParams(Params):
    text: str = Field(description="what to echo")
    times: int = Field(1, ge=1, le=5, description="how often")


async def echo(ctx: CallContext, params: EchoParams) -> dict[str, Any]:
    ctx.stream({"echoing": params.text})
    return {"echo": params.text * params.times, "id": ctx.request_id}


async def nothing(ctx: CallContext, _: NoParams) -> str:
    return "ok"


ECHO = Method("test.echo", EchoParams, echo, "echo text", streams=True)
NOTHING = Method("test.nothing", NoParams, nothing, "no params")


def call(registry: MethodTable, name: str, raw: Any) -> tuple[Any, list[Any]]:
    streamed: list[Any] = []
    ctx = CallContext(services=None, request_id=9, stream=streamed.append)  # type: ignore[arg-type]
    return asyncio.run(registry.call(ctx, name, raw)), streamed


def test_call_validates_and_streams() -> None:
    registry = MethodTable([ECHO, NOTHING])
    result, streamed = call(registry, "test.echo", {"text": "ab", "times": 2})
    assert result == {"echo": "abab", "id": 9}
    assert streamed == [{"echoing": "ab"}]
    assert call(registry, "test.echo", ["x", 3])[0]["echo"] == "xxx"
    assert call(registry, "test.nothing", None)[0] == "ok"
    assert call(registry, "test.nothing", {})[0] == "ok"


def test_unknown_method() -> None:
    registry = MethodTable([ECHO, NOTHING])
    with pytest.raises(MethodNotFound) as err:
        call(registry, "test.missing", None)
    assert err.value.code == METHOD_NOT_FOUND
    assert (
        err.value.message == "unknown method 'test.missing'; daemon.methods lists the 2 known ones"
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "invalid params for test.echo: missing param 'text'"),
        (
            {"text": 5},
            "invalid params for test.echo: param 'text': Input should be a valid string (got 5)",
        ),
        (
            {"text": "a", "times": "many"},
            "param 'times': Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            {"text": "a", "times": 9},
            "param 'times': Input should be less than or equal to 5 (got 9)",
        ),
        ({"text": "a", "colour": "red"}, "invalid params for test.echo: unknown param 'colour'"),
        (["a", 1, 2], "test.echo takes at most 2 positional params"),
    ],
)
def test_bad_params_name_the_field(raw: Any, message: str) -> None:
    with pytest.raises(InvalidParams) as err:
        call(MethodTable([ECHO]), "test.echo", raw)
    assert err.value.code == INVALID_PARAMS
    assert message in err.value.message


def test_params_for_a_method_without_params() -> None:
    with pytest.raises(InvalidParams, match="unknown param 'x'"):
        bind_params(NOTHING, {"x": 1})


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        MethodTable([ECHO, ECHO])


def test_describe_lists_params_with_types_defaults_and_descriptions() -> None:
    described = MethodTable([NOTHING, ECHO]).describe()
    assert [m["name"] for m in described] == ["test.echo", "test.nothing"]
    echo_desc = described[0]
    assert echo_desc["streams"] is True
    assert echo_desc["params"]["text"] == {
        "type": "str",
        "required": True,
        "description": "what to echo",
    }
    assert echo_desc["params"]["times"] == {
        "type": "int",
        "required": False,
        "description": "how often",
        "default": 1,
    }
    assert described[1]["params"] == {}


def test_every_registered_method_is_discoverable() -> None:
    registry = MethodTable(all_methods())  # raises on duplicate names across groups
    described = registry.describe()
    names = [m["name"] for m in described]
    for required in ("daemon.status", "daemon.shutdown", "daemon.reload", "daemon.methods"):
        assert required in names
    for method in described:
        assert method["summary"], f"{method['name']} needs a summary"
        assert "." in method["name"] or method["name"].startswith("$/")
    json.dumps(described)  # daemon.methods must be able to send it


# --- a real server on a real socket, in this process -------------------------------------


class Unencodable:
    pass


async def boom(ctx: CallContext, _: NoParams) -> None:
    raise RuntimeError("secret detail from deep inside")


async def odd_types(ctx: CallContext, _: NoParams) -> dict[str, Any]:
    import numpy as np

    return {"path": Path("/x/y"), "score": np.float32(0.5), "vec": np.arange(3), "tags": {"a"}}


async def unencodable(ctx: CallContext, _: NoParams) -> object:
    return Unencodable()


async def bad_stream(ctx: CallContext, _: NoParams) -> str:
    ctx.stream(Unencodable())
    return "not reached"


SERVER_METHODS = [
    Method("test.boom", NoParams, boom, "raises"),
    Method("test.odd", NoParams, odd_types, "numpy and paths"),
    Method("test.unencodable", NoParams, unencodable, "returns an object"),
    Method("test.bad_stream", NoParams, bad_stream, "streams an object", streams=True),
]


def ask(tmp_path: Path, messages: list[Any]) -> list[Any]:
    """Start an RpcServer on a socket in tmp_path, send messages, collect one answer each."""
    log_file = tmp_path / "lfd.log"
    services = SimpleNamespace(log_file=log_file)

    async def main() -> list[Any]:
        server = RpcServer(
            services,  # type: ignore[arg-type]
            MethodTable(SERVER_METHODS),
            tmp_path / "s.sock",
            max_frame_bytes=1 << 20,
            idle_frame_timeout_s=5,
        )
        await server.start()
        try:
            reader, writer = await asyncio.open_unix_connection(str(tmp_path / "s.sock"))
            decoder = FrameDecoder(1 << 20)
            answers: list[Any] = []
            for message in messages:
                writer.write(encode(message))
                await writer.drain()
                while True:
                    bodies = decoder.feed(await asyncio.wait_for(reader.read(65536), 5))
                    answers += [json.loads(body) for body in bodies]
                    if bodies:
                        break
            writer.close()
            return answers
        finally:
            await server.close(1)

    return asyncio.run(main())


def request(method: str, rid: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method}


def test_internal_errors_are_logged_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    [answer] = ask(tmp_path, [request("test.boom", 4)])
    assert answer == {
        "jsonrpc": "2.0",
        "id": 4,
        "error": {
            "code": INTERNAL_ERROR,
            "message": f"internal error in test.boom; the daemon log ({tmp_path / 'lfd.log'}) "
            "has the details",
        },
    }
    logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert "secret detail from deep inside" in logged


def test_common_python_values_are_sent_as_json(tmp_path: Path) -> None:
    [answer] = ask(tmp_path, [request("test.odd")])
    assert answer["result"] == {"path": "/x/y", "score": 0.5, "vec": [0, 1, 2], "tags": ["a"]}


def test_an_answer_json_cannot_carry_is_an_internal_error(tmp_path: Path) -> None:
    answers = ask(
        tmp_path,
        [request("test.unencodable", 5), [request("test.unencodable", 6), request("test.odd", 7)]],
    )
    assert answers[0]["id"] == 5
    assert answers[0]["error"]["code"] == INTERNAL_ERROR
    assert answers[0]["error"]["message"].startswith(
        "internal error: the answer to test.unencodable could not be encoded"
    )
    # In a batch only that call's answer is lost; the others are answered as usual.
    assert [a["id"] for a in answers[1]] == [6, 7]
    assert answers[1][0]["error"]["code"] == INTERNAL_ERROR
    assert answers[1][1]["result"]["path"] == "/x/y"


def test_stream_data_json_cannot_carry_fails_the_request(tmp_path: Path) -> None:
    [answer] = ask(tmp_path, [request("test.bad_stream", 8)])
    assert (answer["id"], answer["error"]["code"]) == (8, INTERNAL_ERROR)
    assert answer["error"]["message"].startswith("internal error in test.bad_stream")
