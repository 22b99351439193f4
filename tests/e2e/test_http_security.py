"""Who may use the HTTP door, and what no client can do to it or to other clients."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.support.daemon import DaemonProcess, temp_home
from tests.support.http import GEMMA_CONFIG, HttpDaemon, free_port, gemma_path, http_daemon

pytestmark = pytest.mark.e2e

TOKEN = "s3cret-token-for-tests"
GUARDED = """max_queue = 1

[http]
header_timeout_s = 1.0
cors_origins = ["http://trusted.example"]
allowed_hosts = ["forge.internal"]
"""


@pytest.fixture(scope="module")
def door() -> Iterator[HttpDaemon]:
    config = GEMMA_CONFIG.format(gemma=gemma_path(), residency=GUARDED, extra="")
    with http_daemon(config) as running:
        yield running


def refused_at_start(args: list[str], env: dict[str, str] | None = None) -> str:
    with temp_home(env) as home:
        daemon = DaemonProcess(home, ["serve", *args][1:]).start(wait=False)
        assert daemon.process is not None
        assert daemon.process.wait(60) == 1
        return daemon.output()


def test_a_non_loopback_address_is_refused_at_start_without_allow_remote_and_a_token() -> None:
    port = free_port()
    output = refused_at_start(["--http", f"0.0.0.0:{port}"])
    assert "not a loopback address" in output and "http.allow_remote" in output
    output = refused_at_start(["--http", f"0.0.0.0:{port}", "--set", "http.allow_remote=true"])
    assert "needs a bearer token" in output and "LOCALFORGE_HTTP_TOKEN" in output
    output = refused_at_start(["--http", "127.0.0.1:99999"])
    assert "is not HOST:PORT" in output


def test_with_a_token_every_request_needs_it() -> None:
    with http_daemon(env={"LOCALFORGE_HTTP_TOKEN": TOKEN}) as guarded:
        missing = httpx.get(guarded.base + "/v1/models", timeout=10)
        assert missing.status_code == 401 and "no bearer token" in missing.text
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = httpx.get(guarded.base + "/api/tags", headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401 and wrong.json()["error"].startswith("the bearer token")
        client = openai.OpenAI(base_url=guarded.base + "/v1", api_key=TOKEN, max_retries=0)
        assert [m.id for m in client.models.list()] == ["auto", "gemma"]
        shown = guarded.daemon.call("daemon.config")["settings"]
        assert {"key": "http.token", "value": "**********", "source": "env"} in shown


def test_a_foreign_host_header_is_refused(door: HttpDaemon) -> None:
    rebound = httpx.get(door.base + "/v1/models", headers={"Host": f"evil.example:{door.port}"})
    assert rebound.status_code == 421 and "http.allowed_hosts" in rebound.text
    for host in (f"localhost:{door.port}", f"forge.internal:{door.port}"):
        assert httpx.get(door.base + "/health", headers={"Host": host}).status_code == 200


def test_browser_origins_are_refused_unless_allowed_for_cors(door: HttpDaemon) -> None:
    page = httpx.get(door.base + "/v1/models", headers={"Origin": "http://evil.example"})
    assert page.status_code == 403 and "http.cors_origins" in page.text
    trusted = {"Origin": "http://trusted.example"}
    allowed = httpx.get(door.base + "/v1/models", headers=trusted)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://trusted.example"
    assert "x-localforge-model" in allowed.headers["access-control-expose-headers"]
    preflight = httpx.options(
        door.base + "/v1/chat/completions",
        headers={**trusted, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200


def test_a_20_mb_body_is_refused_413_with_or_without_a_length(door: HttpDaemon) -> None:
    body = b'{"model": "auto", "messages": "' + b"x" * 20_000_000 + b'"}'
    sized = httpx.post(door.base + "/v1/chat/completions", content=body, timeout=60)
    assert sized.status_code == 413 and "http.max_body_bytes" in sized.text

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]

    streamed = httpx.post(door.base + "/api/chat", content=chunks(), timeout=60)
    assert streamed.status_code == 413 and streamed.json()["error"].startswith("the request body")


def test_slow_loris_clients_do_not_block_others_and_are_closed(door: HttpDaemon) -> None:
    slow = []
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", door.port), timeout=5)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        slow.append(sock)
    started = time.perf_counter()
    assert httpx.get(door.base + "/health", timeout=5).status_code == 200
    assert time.perf_counter() - started < 1.0
    time.sleep(1.5)  # past http.header_timeout_s
    for sock in slow:
        sock.settimeout(5)
        assert sock.recv(100) == b"", "a connection that never finished its head is closed"
        sock.close()


def models_state(daemon: DaemonProcess) -> dict[str, str]:
    resident = daemon.call("daemon.status")["services"]["models"]["resident"]
    return {slot["name"]: slot["state"] for slot in resident}


# A base model continues a count for as long as it may: a long generation on purpose.
COUNTING = {"model": "gemma", "prompt": "1, 2, 3, 4, 5, 6,", "max_tokens": 400, "stream": True}


def until_first_token(lines: Iterator[str]) -> None:
    for line in lines:
        if line.startswith("data: {") and '"text":""' not in line:
            return
    raise AssertionError("the stream ended before its first token")


def test_a_client_that_disconnects_mid_stream_frees_the_worker(door: HttpDaemon) -> None:
    with httpx.stream("POST", door.base + "/v1/completions", json=COUNTING, timeout=60) as s:
        assert s.status_code == 200
        lines = s.iter_lines()  # held: a dropped line iterator closes the connection
        until_first_token(lines)
        assert models_state(door.daemon)["gemma"] == "busy"
    deadline = time.monotonic() + 5
    while models_state(door.daemon)["gemma"] != "idle":
        assert time.monotonic() < deadline, "the worker is still generating for nobody"
        time.sleep(0.05)
    quick = httpx.post(
        door.base + "/v1/completions",
        json={**COUNTING, "stream": False, "max_tokens": 4},
        timeout=30,
    )
    assert quick.status_code == 200
    metrics = httpx.get(door.base + "/metrics").text
    assert 'localforge_answer_errors_total{error="Cancelled",kind="code"} 1.0' in metrics


def test_beyond_max_queue_requests_get_429_with_retry_after(door: HttpDaemon) -> None:
    with httpx.stream("POST", door.base + "/v1/completions", json=COUNTING, timeout=60) as s:
        lines = s.iter_lines()
        until_first_token(lines)
        refused = httpx.post(
            door.base + "/v1/chat/completions",
            json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
            timeout=10,
        )
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) >= 1
        assert "residency.max_queue" in refused.json()["error"]["message"]
        ollama_refused = httpx.post(
            door.base + "/api/generate", json={"model": "gemma", "prompt": "hi"}, timeout=10
        )
        assert ollama_refused.status_code == 429 and "retry" in ollama_refused.json()["error"]
