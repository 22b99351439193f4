"""Bad input over the real socket: the exact error, and every other client still served.

One daemon serves the whole module. A witness connection is opened before any
test and stays open; after each bad input it must still get answers, proving
that a broken or malicious client only ever hurts its own connection.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.daemon import DaemonProcess, run_daemon, temp_home
from tests.support.raw import Pinger, Raw, frame

pytestmark = pytest.mark.e2e

HELP = "each message must start with 'Content-Length: N\\r\\n\\r\\n' followed by N bytes of JSON"
CAP = 16 * 1024 * 1024
DIGITS = "invalid JSON: a number has more than 4300 digits; send very large numbers as strings"


def surrogate_error(method: str, field: str, got: str, code: str = "D800", at: int = 0) -> str:
    return (
        f"invalid params for {method}: param '{field}': text is not valid Unicode: lone "
        f"surrogate U+{code} at index {at}; send UTF-16 surrogates only in pairs (or replace "
        f"them with U+FFFD) (got {got})"
    )


@pytest.fixture(scope="module")
def lfd() -> Iterator[DaemonProcess]:
    lean = {"LOCALFORGE_RESIDENCY_SPARE_WORKER": "false"}  # no idle model worker: less CPU
    with temp_home(lean) as home, run_daemon(home, ["--set", "daemon.idle_frame_timeout_s=1"]) as d:
        yield d


@pytest.fixture(scope="module")
def witness(lfd: DaemonProcess) -> Iterator[Raw]:
    with Raw(lfd.home.paths.socket, timeout=5) as raw:
        yield raw


@pytest.fixture
def others_served(lfd: DaemonProcess, witness: Raw) -> Callable[[], None]:
    """Assert that the long-lived witness connection and a brand-new one both get answers."""
    pid = lfd.process.pid if lfd.process else -1

    def check() -> None:
        answer = witness.call("daemon.status", rid="witness")
        assert answer["id"] == "witness" and answer["result"]["pid"] == pid
        assert lfd.call("daemon.status")["pid"] == pid

    return check


@pytest.fixture
def raw(lfd: DaemonProcess) -> Iterator[Raw]:
    with Raw(lfd.home.paths.socket, timeout=5) as conn:
        yield conn


def error_of(message: dict[str, Any]) -> tuple[Any, int, str]:
    assert message["jsonrpc"] == "2.0"
    assert "result" not in message
    return message["id"], message["error"]["code"], message["error"]["message"]


# --- framing: answered with id null, then only that connection is closed ------------


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        pytest.param(
            b'{"jsonrpc":"2.0","id":1,"method":"daemon.status"}',
            -32700,
            f"missing Content-Length header: {HELP}",
            id="no-header",
        ),
        pytest.param(
            b"Content-Type: application/json\r\n\r\n{}",
            -32700,
            f"missing Content-Length header: {HELP}",
            id="header-without-length",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            -32700,
            f"malformed header line 'GET / HTTP/1.1': {HELP}",
            id="bad-header",
        ),
        pytest.param(
            b"Content-Length: -1\r\n\r\n{}",
            -32700,
            "Content-Length must be a non-negative integer, got '-1'",
            id="negative-length",
        ),
        pytest.param(
            b"Content-Length: twelve\r\n\r\n{}",
            -32700,
            "Content-Length must be a non-negative integer, got 'twelve'",
            id="non-numeric-length",
        ),
        pytest.param(
            b"Content-Length: 1000000000000\r\n\r\n",
            -32600,
            f"message of 1000000000000 bytes exceeds the {CAP}-byte cap "
            "(daemon.max_frame_bytes); send smaller messages or raise the cap",
            id="huge-length",
        ),
        pytest.param(
            b"Content-Length: %d\r\n\r\n" % (CAP + 1),
            -32600,
            f"message of {CAP + 1} bytes exceeds the {CAP}-byte cap "
            "(daemon.max_frame_bytes); send smaller messages or raise the cap",
            id="one-byte-over-the-cap",
        ),
    ],
)
def test_broken_framing_closes_only_that_connection(
    raw: Raw, others_served: Callable[[], None], data: bytes, code: int, message: str
) -> None:
    raw.send(data)
    assert error_of(raw.read()) == (None, code, message)
    raw.expect_closed()
    others_served()


def test_calls_that_arrived_before_broken_framing_are_still_answered(raw: Raw) -> None:
    before = frame(
        {"jsonrpc": "2.0", "id": "before", "method": "daemon.ticks", "params": {"count": 2}}
    )
    raw.send(before + b"Content-Length: nope\r\n\r\n" + frame({"jsonrpc": "2.0", "id": "after"}))
    answers = raw.answers(2)
    assert {"id": "before", "jsonrpc": "2.0", "result": {"ticks": 2}} in answers
    assert (None, -32700, "Content-Length must be a non-negative integer, got 'nope'") in [
        error_of(a) for a in answers if "error" in a
    ]
    raw.expect_closed()


def test_truncated_body_then_eof(raw: Raw, others_served: Callable[[], None]) -> None:
    raw.send(b'Content-Length: 100\r\n\r\n{"jsonrpc":"2.0",')
    raw.sock.shutdown(socket.SHUT_WR)
    assert error_of(raw.read()) == (
        None,
        -32700,
        "connection closed in the middle of a message (truncated body)",
    )
    raw.expect_closed()
    others_served()


def test_truncated_body_then_silence(raw: Raw, others_served: Callable[[], None]) -> None:
    started = time.monotonic()
    raw.send(b'Content-Length: 100\r\n\r\n{"jsonrpc":"2.0",')
    others_served()  # while this client stalls mid-frame
    assert error_of(raw.read()) == (
        None,
        -32700,
        "incomplete message: no bytes for 1s in the middle of a frame",
    )
    assert 0.9 <= time.monotonic() - started < 4
    raw.expect_closed()


# --- bodies: answered, and the connection stays usable ------------------------------


@pytest.mark.parametrize(
    ("body", "rid", "code", "message"),
    [
        pytest.param(
            b'{"jsonrpc": "2.0", "id": 1, "method": ',
            None,
            -32700,
            "invalid JSON: Expecting value at line 1 column 39",
            id="invalid-json",
        ),
        pytest.param(
            b"", None, -32700, "invalid JSON: Expecting value at line 1 column 1", id="empty"
        ),
        pytest.param(
            b'{"jsonrpc":"2.0","id":1,"method":"daemon.status","params":{"x":"\xff\xfe"}}',
            None,
            -32700,
            "message is not valid UTF-8 (byte 64): encode JSON as UTF-8",
            id="invalid-utf8",
        ),
        pytest.param(
            b"[" * 200_000 + b"]" * 200_000,
            None,
            -32700,
            "JSON is nested too deeply: flatten the message",
            id="deeply-nested",
        ),
        pytest.param(b"42", None, -32600, "a request must be a JSON object, got int", id="number"),
        pytest.param(
            b'"hi"', None, -32600, "a request must be a JSON object, got str", id="string"
        ),
        pytest.param(
            b"null", None, -32600, "a request must be a JSON object, got NoneType", id="null"
        ),
        pytest.param(
            b'{"jsonrpc":"1.0","id":5,"method":"daemon.status"}',
            5,
            -32600,
            "'jsonrpc' must be exactly \"2.0\"",
            id="wrong-jsonrpc",
        ),
        pytest.param(
            b'{"id":6,"method":"daemon.status"}',
            6,
            -32600,
            "'jsonrpc' must be exactly \"2.0\"",
            id="missing-jsonrpc",
        ),
        pytest.param(
            b'{"jsonrpc":"2.0","id":7}',
            7,
            -32600,
            "'method' must be a non-empty string",
            id="missing-method",
        ),
        pytest.param(
            b'{"jsonrpc":"2.0","id":8,"method":["daemon.status"]}',
            8,
            -32600,
            "'method' must be a non-empty string",
            id="method-not-a-string",
        ),
        pytest.param(
            b'{"jsonrpc":"2.0","id":{"a":1},"method":"daemon.status"}',
            None,
            -32600,
            "'id' must be a string, an integer or null",
            id="object-id",
        ),
        pytest.param(
            b'{"jsonrpc":"2.0","id":9,"method":"daemon.status","params":"all"}',
            9,
            -32600,
            "'params' must be an object or an array",
            id="params-not-structured",
        ),
        pytest.param(
            b"[]", None, -32600, "empty batch: send at least one request", id="empty-batch"
        ),
    ],
)
def test_bad_messages_get_an_error_and_the_connection_stays_open(
    raw: Raw, others_served: Callable[[], None], body: bytes, rid: Any, code: int, message: str
) -> None:
    raw.send(frame(body))
    assert error_of(raw.read()) == (rid, code, message)
    # The same connection still works.
    assert raw.call("daemon.status", rid="after")["id"] == "after"
    others_served()


def test_unknown_method(raw: Raw, others_served: Callable[[], None]) -> None:
    rid, code, message = error_of(raw.call("nope.nothing", rid=10))
    assert (rid, code) == (10, -32601)
    assert re.fullmatch(
        r"unknown method 'nope.nothing'; daemon.methods lists the \d+ known ones", message
    )
    others_served()


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        (
            "daemon.ticks",
            {"count": "many"},
            "invalid params for daemon.ticks: param 'count': Input should be a valid integer, "
            "unable to parse string as an integer (got 'many')",
        ),
        (
            "daemon.ticks",
            {"count": -1},
            "invalid params for daemon.ticks: param 'count': "
            "Input should be greater than or equal to 0 (got -1)",
        ),
        (
            "daemon.status",
            {"verbose": True},
            "invalid params for daemon.status: unknown param 'verbose'",
        ),
        ("daemon.status", [1], "daemon.status takes at most 0 positional params"),
        (
            "daemon.status",
            {
                "deep": [
                    [
                        [
                            [
                                [
                                    [
                                        [
                                            [
                                                [
                                                    [
                                                        [
                                                            [
                                                                [
                                                                    [
                                                                        [
                                                                            [
                                                                                [
                                                                                    [
                                                                                        [
                                                                                            [
                                                                                                [
                                                                                                    [
                                                                                                        [
                                                                                                            [
                                                                                                                [
                                                                                                                    [
                                                                                                                        [
                                                                                                                            [
                                                                                                                                [
                                                                                                                                    [
                                                                                                                                        [
                                                                                                                                            [
                                                                                                                                                [
                                                                                                                                                    [
                                                                                                                                                        [
                                                                                                                                                            [
                                                                                                                                                                [
                                                                                                                                                                    [
                                                                                                                                                                        [
                                                                                                                                                                            [
                                                                                                                                                                                [
                                                                                                                                                                                    [
                                                                                                                                                                                        [
                                                                                                                                                                                            [
                                                                                                                                                                                                [
                                                                                                                                                                                                    [
                                                                                                                                                                                                        [
                                                                                                                                                                                                            [
                                                                                                                                                                                                                [
                                                                                                                                                                                                                    []
                                                                                                                                                                                                                ]
                                                                                                                                                                                                            ]
                                                                                                                                                                                                        ]
                                                                                                                                                                                                    ]
                                                                                                                                                                                                ]
                                                                                                                                                                                            ]
                                                                                                                                                                                        ]
                                                                                                                                                                                    ]
                                                                                                                                                                                ]
                                                                                                                                                                            ]
                                                                                                                                                                        ]
                                                                                                                                                                    ]
                                                                                                                                                                ]
                                                                                                                                                            ]
                                                                                                                                                        ]
                                                                                                                                                    ]
                                                                                                                                                ]
                                                                                                                                            ]
                                                                                                                                        ]
                                                                                                                                    ]
                                                                                                                                ]
                                                                                                                            ]
                                                                                                                        ]
                                                                                                                    ]
                                                                                                                ]
                                                                                                            ]
                                                                                                        ]
                                                                                                    ]
                                                                                                ]
                                                                                            ]
                                                                                        ]
                                                                                    ]
                                                                                ]
                                                                            ]
                                                                        ]
                                                                    ]
                                                                ]
                                                            ]
                                                        ]
                                                    ]
                                                ]
                                            ]
                                        ]
                                    ]
                                ]
                            ]
                        ]
                    ]
                ]
            },
            "invalid params for daemon.status: unknown param 'deep'",
        ),
    ],
)
def test_wrong_params_name_the_field(
    raw: Raw, others_served: Callable[[], None], method: str, params: Any, message: str
) -> None:
    assert error_of(raw.call(method, params, rid=11)) == (11, -32602, message)
    others_served()


def test_params_nested_near_the_parser_limit(raw: Raw, others_served: Callable[[], None]) -> None:
    deep = "[" * 900 + "]" * 900
    raw.send(
        frame('{"jsonrpc":"2.0","id":12,"method":"daemon.ticks","params":{"count":' + deep + "}}")
    )
    assert error_of(raw.read()) == (
        12,
        -32602,
        "invalid params for daemon.ticks: param 'count': Input should be a valid integer "
        "(got [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[)",
    )
    others_served()


# --- batches ---------------------------------------------------------------------------


def test_batch_of_garbage(raw: Raw, others_served: Callable[[], None]) -> None:
    raw.send(frame(b'[1, "x", null, {"foo": "bar"}]'))
    answers = raw.read()
    assert isinstance(answers, list) and len(answers) == 4
    assert [error_of(a) for a in answers] == [
        (None, -32600, "a request must be a JSON object, got int"),
        (None, -32600, "a request must be a JSON object, got str"),
        (None, -32600, "a request must be a JSON object, got NoneType"),
        (None, -32600, "'jsonrpc' must be exactly \"2.0\""),
    ]
    others_served()


def test_mixed_batch_answers_calls_and_skips_notifications(
    raw: Raw, others_served: Callable[[], None]
) -> None:
    raw.send(
        frame(
            [
                {"jsonrpc": "2.0", "id": "s", "method": "daemon.status"},
                {"jsonrpc": "2.0", "method": "daemon.status"},
                {"jsonrpc": "2.0", "id": "u", "method": "no.such"},
                {"jsonrpc": "2.0", "id": "t", "method": "daemon.ticks", "params": {"count": 0}},
                {"jsonrpc": "2.0", "id": "p", "method": "daemon.ticks", "params": {"count": "x"}},
                5,
            ]
        )
    )
    answers = raw.read()
    assert isinstance(answers, list)
    by_id = {a["id"]: a for a in answers if a["id"] is not None}
    assert sorted(by_id) == ["p", "s", "t", "u"]
    assert len(answers) == 5  # four calls and the invalid element; no answer for the notification
    assert by_id["s"]["result"]["pid"] > 0
    assert by_id["u"]["error"]["code"] == -32601
    assert by_id["t"]["result"] == {"ticks": 0}
    assert by_id["p"]["error"]["code"] == -32602
    assert [error_of(a) for a in answers if a["id"] is None] == [
        (None, -32600, "a request must be a JSON object, got int")
    ]
    others_served()


def test_batch_of_notifications_gets_no_answer(raw: Raw) -> None:
    raw.send(
        frame([{"jsonrpc": "2.0", "method": "daemon.status"}, {"jsonrpc": "2.0", "method": "x.y"}])
    )
    raw.request("daemon.status", rid="next")
    assert raw.read()["id"] == "next"


# --- notifications, cancellation, streaming -------------------------------------------


def test_notifications_get_no_answer_even_when_wrong(raw: Raw) -> None:
    raw.send(frame({"jsonrpc": "2.0", "method": "daemon.status"}))
    raw.send(frame({"jsonrpc": "2.0", "method": "no.such.method"}))
    raw.send(frame({"jsonrpc": "2.0", "method": "daemon.ticks", "params": {"count": "x"}}))
    raw.send(frame({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 999}}))
    raw.request("daemon.status", rid="only")
    assert raw.read()["id"] == "only"


def test_streaming_notifications_then_the_result(raw: Raw) -> None:
    raw.request("daemon.ticks", {"count": 3}, rid=20)
    messages = [raw.read() for _ in range(4)]
    assert messages[:3] == [
        {"jsonrpc": "2.0", "method": "$/stream", "params": {"id": 20, "data": {"tick": i}}}
        for i in range(3)
    ]
    assert messages[3] == {"jsonrpc": "2.0", "id": 20, "result": {"ticks": 3}}


def test_cancel_request(raw: Raw, others_served: Callable[[], None]) -> None:
    raw.request("daemon.ticks", {"count": 10_000, "interval_ms": 20}, rid=30)
    assert raw.read()["params"] == {"id": 30, "data": {"tick": 0}}
    raw.send(frame({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 30}}))
    while (message := raw.read()).get("method") == "$/stream":
        pass
    assert error_of(message) == (30, -32800, "request 30 was cancelled")
    others_served()


def test_cancel_one_call_of_a_batch(raw: Raw) -> None:
    raw.send(
        frame(
            [
                {
                    "jsonrpc": "2.0",
                    "id": "long",
                    "method": "daemon.ticks",
                    "params": {"count": 10_000, "interval_ms": 20},
                },
                {
                    "jsonrpc": "2.0",
                    "id": "short",
                    "method": "daemon.ticks",
                    "params": {"count": 2, "interval_ms": 20},
                },
            ]
        )
    )
    assert raw.read()["method"] == "$/stream"
    raw.send(frame({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": "long"}}))
    while isinstance(message := raw.read(), dict):
        assert message["method"] == "$/stream"
    by_id = {a["id"]: a for a in message}
    assert error_of(by_id["long"]) == ("long", -32800, "request 'long' was cancelled")
    assert by_id["short"]["result"] == {"ticks": 2}


# --- slow and greedy clients ------------------------------------------------------------


def test_one_byte_per_write(raw: Raw, others_served: Callable[[], None]) -> None:
    data = frame({"jsonrpc": "2.0", "id": "slow", "method": "daemon.status"})
    for i in range(len(data)):
        raw.send(data[i : i + 1])
        time.sleep(0.002)
        if i == len(data) // 2:
            others_served()  # while this client is halfway through its message
    assert raw.read()["id"] == "slow"


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_client_that_never_reads(lfd: DaemonProcess, others_served: Callable[[], None]) -> None:
    """Its answers back up; the daemon stops reading it, memory stays flat, others are served."""
    assert lfd.process is not None
    before = rss_kib(lfd.process.pid)
    request = frame({"jsonrpc": "2.0", "id": 1, "method": "daemon.status"})
    greedy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    greedy.connect(str(lfd.home.paths.socket))
    greedy.setblocking(False)
    sent = 0
    blocked_since: float | None = None
    deadline = time.monotonic() + 20
    try:
        # Keep writing until the daemon has stopped reading us for a while.
        while time.monotonic() < deadline:
            try:
                sent += greedy.send(request * 64)
                blocked_since = None
            except BlockingIOError:
                blocked_since = blocked_since or time.monotonic()
                if time.monotonic() - blocked_since > 0.5:
                    break
                time.sleep(0.01)
        assert blocked_since is not None, "the daemon kept reading a client that never reads"
        requests = sent // len(request)
        assert requests > 1000
        t0 = time.monotonic()
        others_served()
        assert time.monotonic() - t0 < 1.0
        # Answering everything it sent would take well over 1 MB per 1,500 requests.
        assert rss_kib(lfd.process.pid) - before < 64 * 1024
    finally:
        greedy.close()
    others_served()


def test_many_clients_at_once(lfd: DaemonProcess) -> None:
    errors: list[BaseException] = []
    pids: list[int] = []

    def worker() -> None:
        try:
            with Raw(lfd.home.paths.socket) as conn:
                for i in range(20):
                    answer = conn.call("daemon.status", rid=i)
                    assert answer["id"] == i
                    pids.append(answer["result"]["pid"])
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert len(pids) == 600 and len(set(pids)) == 1


def test_a_flood_runs_at_most_64_requests_at_a_time(
    raw: Raw, others_served: Callable[[], None]
) -> None:
    flood = b"".join(
        frame(
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "daemon.ticks",
                "params": {"count": 1, "interval_ms": 300},
            }
        )
        for i in range(100)
    )
    started = time.monotonic()
    raw.send(flood)  # one write: the daemon reads all 100 frames at once
    others_served()  # while this client's requests occupy the daemon
    answered: set[int] = set()
    while len(answered) < 100:
        message = raw.read()
        if "id" in message:
            assert message["result"] == {"ticks": 1}
            answered.add(message["id"])
    # Requests 65..100 could only start once the first ones had finished.
    assert time.monotonic() - started >= 0.6


# --- frames a fuzzer found: each is answered, and only its own connection can suffer ----------


def test_an_integer_of_4301_digits_in_an_id_is_a_parse_error_and_the_connection_stays_open(
    raw: Raw, others_served: Callable[[], None]
) -> None:
    raw.send(frame('{"jsonrpc":"2.0","id":' + "1" * 4301 + ',"method":"daemon.status"}'))
    assert error_of(raw.read()) == (None, -32700, DIGITS)
    assert raw.call("daemon.status", rid="after")["id"] == "after"
    others_served()


def test_an_integer_of_4301_digits_in_params_is_a_parse_error_too(raw: Raw) -> None:
    raw.send(
        frame('{"jsonrpc":"2.0","id":1,"method":"daemon.ticks","params":[' + "9" * 5000 + "]}")
    )
    assert error_of(raw.read()) == (None, -32700, DIGITS)
    assert raw.call("daemon.status", rid="after")["id"] == "after"


def test_a_content_length_of_4301_digits_is_over_the_cap_like_any_other_length(
    raw: Raw, others_served: Callable[[], None]
) -> None:
    raw.send(b"Content-Length: " + b"1" * 4301 + b"\r\n\r\n")
    assert error_of(raw.read()) == (
        None,
        -32600,
        f"message of a 4301-digit number of bytes exceeds the {CAP}-byte cap "
        "(daemon.max_frame_bytes); send smaller messages or raise the cap",
    )
    raw.expect_closed()
    others_served()


def test_a_lone_surrogate_id_is_answered_with_that_same_id(
    raw: Raw, others_served: Callable[[], None]
) -> None:
    raw.send(frame(b'{"jsonrpc":"2.0","id":"\\ud800","method":"daemon.status"}'))
    answer = raw.read()
    assert answer["id"] == "\ud800" and answer["result"]["pid"] > 0
    others_served()


def test_an_invalid_request_with_a_lone_surrogate_id_is_answered_and_the_connection_kept(
    raw: Raw,
) -> None:
    raw.send(frame(b'{"jsonrpc":"1.0","id":"x\\udc00","method":"daemon.status"}'))
    assert error_of(raw.read()) == ("x\udc00", -32600, "'jsonrpc' must be exactly \"2.0\"")
    assert raw.call("daemon.status", rid="after")["id"] == "after"


def test_a_batch_with_lone_surrogate_ids_answers_every_call(raw: Raw) -> None:
    raw.send(
        frame(
            b'[{"jsonrpc":"2.0","id":"\\ud800","method":"daemon.status"},'
            b'{"jsonrpc":"2.0","id":2,"method":"daemon.status"},'
            b'{"jsonrpc":"1.0","id":"\\udfff","method":"daemon.status"}]'
        )
    )
    answers = raw.read()
    assert [a["id"] for a in answers] == ["\ud800", 2, "\udfff"]
    assert "result" in answers[0] and "result" in answers[1]
    assert error_of(answers[2])[1] == -32600


def test_a_lone_surrogate_that_would_reach_the_answer_is_invalid_params_naming_the_field(
    raw: Raw,
) -> None:
    answer = raw.call("route.explain", {"text": "hi", "kind": "\ud800"}, rid=13)
    assert error_of(answer) == (13, -32602, surrogate_error("route.explain", "kind", "'\\ud800'"))


def test_a_lone_surrogate_in_query_text_is_invalid_params_naming_the_field(
    raw: Raw, others_served: Callable[[], None]
) -> None:
    answer = raw.call("route.classify", {"text": "fix this \udc01 bug"}, rid=14)
    assert error_of(answer) == (
        14,
        -32602,
        surrogate_error("route.classify", "text", "'fix this \\udc01 bug'", code="DC01", at=9),
    )
    # A surrogate pair is one valid character (U+1F600) and is classified as usual.
    paired = (
        b'{"jsonrpc":"2.0","id":15,"method":"route.classify","params":{"text":"\\ud83d\\ude00"}}'
    )
    raw.send(frame(paired))
    assert raw.read()["result"]["task_type"]
    others_served()


@pytest.mark.parametrize("bad_id", [[40], {"id": 40}], ids=["array", "object"])
def test_a_cancel_naming_an_array_or_object_is_ignored_and_the_stream_goes_on(
    raw: Raw, others_served: Callable[[], None], bad_id: Any
) -> None:
    raw.request("daemon.ticks", {"count": 5, "interval_ms": 20}, rid=40)
    raw.send(frame({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": bad_id}}))
    raw.request("daemon.status", rid="next")
    by_id = {a["id"]: a for a in raw.answers(2)}
    assert by_id[40]["result"] == {"ticks": 5}
    assert "result" in by_id["next"]
    others_served()


def test_a_cancel_naming_an_array_in_a_batch_is_invalid_params_and_the_rest_answered(
    raw: Raw,
) -> None:
    raw.send(
        frame(
            [
                {"jsonrpc": "2.0", "id": "s", "method": "daemon.status"},
                {"jsonrpc": "2.0", "id": "c", "method": "$/cancelRequest", "params": {"id": [1]}},
                {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": {}}},
            ]
        )
    )
    answers = raw.read()
    assert [a["id"] for a in answers] == ["s", "c"]
    assert "result" in answers[0]
    assert error_of(answers[1]) == (
        "c",
        -32602,
        "invalid params for $/cancelRequest: 'id' must be the integer or string id of a request "
        "sent on this connection, got an array",
    )


def test_a_cancel_in_the_same_write_as_its_request_still_gets_the_request_answered(
    raw: Raw, others_served: Callable[[], None]
) -> None:
    ticks = {"jsonrpc": "2.0", "id": 1, "method": "daemon.ticks", "params": {"count": 10_000}}
    cancel = {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 1}}
    raw.send(frame(ticks) + frame(cancel))
    [answer] = raw.answers(1)
    assert error_of(answer) == (1, -32800, "request 1 was cancelled")
    others_served()


def test_a_batch_that_cancels_its_own_call_answers_that_call_with_32800(raw: Raw) -> None:
    raw.send(
        frame(
            [
                {
                    "jsonrpc": "2.0",
                    "id": "b1",
                    "method": "daemon.ticks",
                    "params": {"count": 10_000, "interval_ms": 20},
                },
                {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": "b1"}},
                {"jsonrpc": "2.0", "id": "b2", "method": "daemon.status"},
            ]
        )
    )
    [answers] = raw.answers(1)
    by_id = {a["id"]: a for a in answers}
    assert error_of(by_id["b1"]) == ("b1", -32800, "request 'b1' was cancelled")
    assert "result" in by_id["b2"]


def test_a_call_cancelled_while_it_waits_for_a_slot_is_answered_without_running(
    raw: Raw,
) -> None:
    slow = {"count": 1, "interval_ms": 1500}
    flood = b"".join(
        frame({"jsonrpc": "2.0", "id": i, "method": "daemon.ticks", "params": slow})
        for i in range(64)
    )
    queued = {"jsonrpc": "2.0", "id": "queued", "method": "daemon.ticks", "params": slow}
    cancel = {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": "queued"}}
    started = time.monotonic()
    raw.send(flood + frame(queued) + frame(cancel))
    first = raw.answers(1)[0]
    assert error_of(first) == ("queued", -32800, "request 'queued' was cancelled")
    assert time.monotonic() - started < 1.2  # before any of the 64 ahead of it finished
    assert sorted(a["id"] for a in raw.answers(64)) == list(range(64))


def test_a_cancel_sent_with_an_id_is_answered_with_null(
    raw: Raw, others_served: Callable[[], None]
) -> None:
    raw.send(frame({"jsonrpc": "2.0", "id": 7, "method": "$/cancelRequest", "params": {"id": 99}}))
    assert raw.read() == {"jsonrpc": "2.0", "id": 7, "result": None}
    raw.send(frame({"jsonrpc": "2.0", "id": 8, "method": "$/cancelRequest", "params": {}}))
    assert error_of(raw.read())[:2] == (8, -32602)
    others_served()


def test_a_client_that_never_reads_its_streams_is_closed_with_a_logged_reason(
    lfd: DaemonProcess, others_served: Callable[[], None]
) -> None:
    assert lfd.process is not None
    before = rss_kib(lfd.process.pid)
    ticks = [
        frame({"jsonrpc": "2.0", "id": i, "method": "daemon.ticks", "params": {"count": 10_000}})
        for i in range(64)
    ]
    greedy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    greedy.connect(str(lfd.home.paths.socket))
    peak = before
    try:
        greedy.sendall(b"".join(ticks))
        deadline = time.monotonic() + 20
        while "closing a connection that stopped reading" not in lfd.output():
            assert time.monotonic() < deadline, "a client that never reads was never closed"
            peak = max(peak, rss_kib(lfd.process.pid))
            time.sleep(0.01)
        others_served()
    finally:
        greedy.close()
    # 64 x 10,000 notifications are 40 MB; the daemon held at most its 4 MiB output budget.
    assert peak - before < 24 * 1024
    assert "over the 4194304-byte output budget of a connection" in lfd.output()


def test_a_batch_counts_every_call_against_the_64_in_flight_cap(
    raw: Raw, others_served: Callable[[], None]
) -> None:
    slow = {"count": 1, "interval_ms": 300}
    batch = [
        {"jsonrpc": "2.0", "id": i, "method": "daemon.ticks", "params": slow} for i in range(100)
    ]
    started = time.monotonic()
    raw.send(frame(batch))
    others_served()
    [answers] = raw.answers(1)
    assert sorted(a["id"] for a in answers) == list(range(100))
    assert all(a["result"] == {"ticks": 1} for a in answers)
    assert time.monotonic() - started >= 0.6  # calls 65..100 waited for the first 64


def test_a_batch_of_20000_calls_neither_stalls_others_nor_answers_past_the_cap(
    lfd: DaemonProcess, raw: Raw
) -> None:
    batch = [{"jsonrpc": "2.0", "id": i, "method": "daemon.status"} for i in range(20_000)]
    pinger = Pinger(lfd.home.paths.socket)
    time.sleep(0.2)
    raw.send(frame(batch))
    [answers] = raw.answers(1)
    time.sleep(0.2)
    healthy = pinger.stop()
    assert [a["id"] for a in answers] == list(range(20_000))
    answered = [a for a in answers if "result" in a]
    over = [a for a in answers if "error" in a]
    assert len(answered) > 1000 and len(over) > 1000 and answered == answers[: len(answered)]
    assert {a["error"]["code"] for a in over} == {-32012}
    assert over[-1]["error"]["message"] == (
        f"daemon.status was not run: the batch's answer had reached the {CAP}-byte cap "
        "(daemon.max_frame_bytes) before it; send fewer calls per batch or raise the cap"
    )
    assert healthy["errors"] == []
    slowest = max(healthy["latencies_ms"])
    assert slowest < 500, f"another client waited {slowest:.0f} ms"  # 802 ms before the cap


SMALL_CAP = 4096


@pytest.fixture(scope="module")
def small_cap() -> Iterator[DaemonProcess]:
    lean = {"LOCALFORGE_RESIDENCY_SPARE_WORKER": "false"}
    args = ["--set", f"daemon.max_frame_bytes={SMALL_CAP}"]
    with temp_home(lean) as home, run_daemon(home, args) as d:
        yield d


def test_an_answer_over_the_cap_becomes_an_error_naming_the_cap(small_cap: DaemonProcess) -> None:
    with Raw(small_cap.home.paths.socket) as conn:
        rid, code, message = error_of(conn.call("daemon.methods", rid=1))
        assert (rid, code) == (1, -32012)
        assert re.fullmatch(
            rf"the answer to daemon.methods is \d+ bytes, over the {SMALL_CAP}-byte cap "
            r"\(daemon.max_frame_bytes\); ask for less at a time or raise the cap",
            message,
        )
        assert "result" in conn.call("daemon.status", rid=2)  # small answers still pass


def test_a_batch_answer_stops_at_the_cap_and_the_calls_after_it_do_not_run(
    small_cap: DaemonProcess,
) -> None:
    with Raw(small_cap.home.paths.socket) as conn:
        conn.send(
            frame(
                ",".join(
                    f'{{"jsonrpc":"2.0","id":{i},"method":"daemon.status"}}' for i in range(80)
                ).join("[]")
            )
        )
        answers = conn.read()
    assert [a["id"] for a in answers] == list(range(80))
    assert "result" in answers[0]
    messages = {a["error"]["message"] for a in answers[1:]}
    assert messages == {
        f"the answer to daemon.status would take the batch's answer over the {SMALL_CAP}-byte "
        "cap (daemon.max_frame_bytes); send fewer calls per batch or raise the cap",
        f"daemon.status was not run: the batch's answer had reached the {SMALL_CAP}-byte cap "
        "(daemon.max_frame_bytes) before it; send fewer calls per batch or raise the cap",
    }


def test_no_client_input_left_a_traceback_in_the_log(lfd: DaemonProcess) -> None:
    assert "Traceback" not in lfd.output()
    assert "Traceback" not in lfd.home.paths.log_file.read_text()
