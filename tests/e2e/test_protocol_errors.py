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
from tests.support.raw import Raw, frame

pytestmark = pytest.mark.e2e

HELP = "each message must start with 'Content-Length: N\\r\\n\\r\\n' followed by N bytes of JSON"
CAP = 16 * 1024 * 1024


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
