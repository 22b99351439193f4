"""The web dashboard in a real browser (Debian's Chromium, headless) against a real daemon.

A chat sent through the Unix socket shows up on the page as it is routed, pushed over the
event stream; the resident model and its memory bar show; a click opens the decision's
four signals; feedback fills in its outcome. With ``http.token`` set, the page asks for
the token once and never puts it in a URL. A screenshot is kept in ``tests/artifacts/``.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.daemon import DaemonProcess
from tests.support.http import GEMMA_CONFIG, HttpDaemon, gemma_path, http_daemon
from tests.support.vscode import CHROMIUM, SETUP, headless_chromium

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
TOKEN = "dashboard-test-token-7f3a"


def missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed: make setup (pip install -e '.[dev]')"
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM}: run {SETUP} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    reason = missing()
    if reason:
        pytest.skip(reason)
    with headless_chromium(tmp_path_factory.mktemp("chromium")) as launched:
        yield launched


@pytest.fixture(scope="module")
def door() -> Iterator[HttpDaemon]:
    with http_daemon() as running:
        yield running


class Chat(threading.Thread):
    """A streamed chat over the socket; ``routed`` is set when its route event arrives."""

    def __init__(self, daemon: DaemonProcess) -> None:
        super().__init__(daemon=True)
        self.daemon = daemon
        self.routed = threading.Event()
        self.route: dict[str, Any] = {}
        self.routed_at = 0.0
        self.result: dict[str, Any] = {}

    def run(self) -> None:
        def on_stream(data: Any) -> None:
            if data.get("type") == "route" and not self.routed.is_set():
                self.route, self.routed_at = data, time.monotonic()
                self.routed.set()

        params = {"messages": QUESTION, "max_tokens": 8, "stream": True}
        with self.daemon.client(timeout=120) as client:
            self.result = client.call("chat.complete", params, on_stream=on_stream)


def test_the_dashboard_follows_a_socket_chat_live_and_opens_its_trace(
    browser: Any, door: HttpDaemon
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    try:
        page.goto(door.base + "/")
        page.wait_for_selector('[data-testid="live"].on', timeout=10_000)
        page.wait_for_selector('tr[data-testid="model"][data-model="gemma"]', timeout=5_000)

        chat = Chat(door.daemon)
        chat.start()
        assert chat.routed.wait(60), "the chat was never routed"
        rid = chat.route["request_id"]
        row = f'tr[data-request-id="{rid}"]'
        # Pushed, not polled: on the page within 2 s of the routing decision.
        left_ms = max(0.0, 2000 - (time.monotonic() - chat.routed_at) * 1000)
        page.wait_for_selector(row, timeout=left_ms)
        assert page.inner_text(f'{row} [data-field="model"]') == "gemma"
        assert page.inner_text(f'{row} [data-field="task"]').startswith(chat.route["task_type"])
        assert page.inner_text(f'{row} [data-field="door"]') == "socket"
        assert page.locator(f'{row} [data-testid="signal-bars"] rect').count() >= 4
        chat.join(120)
        assert chat.result["request_id"] == rid

        # The answer's latency arrives as its own event; then the model is resident.
        # (Waits through locators: the page's CSP forbids the eval wait_for_function uses.)
        expect(page.locator(f'{row} [data-field="latency"]')).to_have_text(
            re.compile(r"\d+ ms$"), timeout=5_000
        )
        resident = 'tr[data-testid="model"][data-model="gemma"][data-state="idle"]'
        page.wait_for_selector(resident, timeout=5_000)
        assert "idle, unloads in" in page.inner_text(resident)
        bar = page.locator('svg[data-testid="memory-bar"] rect[data-model="gemma"]')
        bar.wait_for(timeout=5_000)
        assert float(bar.get_attribute("width") or 0) >= 1

        page.click(row)
        signals = '[data-testid="trace"] [data-testid="trace-signals"] tr[data-model="gemma"]'
        page.wait_for_selector(signals, timeout=5_000)
        shown = {
            cell.get_attribute("data-signal"): cell.inner_text()
            for cell in page.locator(f"{signals} td[data-signal]").all()
        }
        assert set(shown) == {"benchmark", "memory", "latency", "feedback"}
        assert all(text.strip() for text in shown.values())

        door.daemon.call("feedback.record", {"request_id": rid, "kind": "thumbs_up"})
        expect(page.locator(f'{row} [data-field="outcome"]')).to_have_text(
            re.compile(r"^thumbs_up"), timeout=2_000
        )
        page.wait_for_selector('[data-testid="feedback-bars"]', timeout=20_000)
        page.wait_for_selector('[data-testid="points-bars"]', timeout=20_000)

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert problems == []
        assert requested and all(url.startswith(door.base) for url in requested)  # offline
    finally:
        page.close()


def test_each_door_labels_its_decisions(door: HttpDaemon) -> None:
    chat = {"messages": QUESTION, "max_tokens": 2, "stream": False}
    with door.daemon.client(timeout=120) as client:
        socket_id = client.call("chat.complete", chat)["request_id"]
        client.call("daemon.hello", {"client": "an editor's language server", "door": "lsp"})
        lsp_id = client.call("chat.complete", chat)["request_id"]
    body = {**chat, "model": "auto"}
    answer = httpx.post(door.base + "/v1/chat/completions", json=body, timeout=120)
    http_id = answer.headers["x-localforge-request-id"]
    doors = {}
    for rid in (socket_id, lsp_id, http_id):
        found = httpx.get(f"{door.base}/dashboard/api/decisions/{rid}").json()
        assert found["request_id"] == rid and found["candidates"]  # the full trace
        doors[rid] = found["summary"]["door"]
    assert doors == {socket_id: "socket", lsp_id: "lsp", http_id: "http"}


def test_a_slow_reader_of_the_event_stream_does_not_hold_routing_up(door: HttpDaemon) -> None:
    with (
        httpx.Client(timeout=30) as http,
        http.stream("GET", door.base + "/dashboard/api/events") as stream,
    ):
        assert stream.status_code == 200  # connected, and never read from here on
        started = time.monotonic()
        for _ in range(20):
            door.daemon.call(
                "chat.complete", {"messages": QUESTION, "max_tokens": 1, "stream": False}
            )
        assert time.monotonic() - started < 60
        snapshot = httpx.get(door.base + "/dashboard/api/snapshot").json()
        assert snapshot["feed"]["subscribers"] >= 1
    deadline = time.monotonic() + 5
    while httpx.get(door.base + "/dashboard/api/snapshot").json()["feed"]["subscribers"]:
        assert time.monotonic() < deadline, "the closed stream's subscription was not freed"
        time.sleep(0.1)


def test_the_readme_curl_examples_answer_with_json(door: HttpDaemon) -> None:
    text = README.read_text().split("\n## Watching the routing", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    commands = blocks[1].strip().splitlines()
    assert len(commands) == 3 and all(c.startswith("curl -s ") for c in commands)
    for command in commands:
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command.replace("8010", str(door.port))],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (command, done.stderr)
        answer = json.loads(done.stdout)
        assert "error" not in answer, (command, answer)
    assert "http://127.0.0.1:8010/" in text


def test_with_a_token_the_page_asks_for_it_once_and_never_puts_it_in_a_url(
    browser: Any,
) -> None:
    config = f'[http]\ntoken = "{TOKEN}"\n' + GEMMA_CONFIG.format(
        gemma=gemma_path(), residency="", extra=""
    )
    with http_daemon(config) as guarded:
        assert httpx.get(guarded.base + "/").status_code == 200  # the page holds no data
        assert httpx.get(guarded.base + "/dashboard/api/snapshot").status_code == 401
        events = httpx.get(guarded.base + "/dashboard/api/events", timeout=5)
        assert events.status_code == 401
        page = browser.new_page()
        urls: list[str] = []
        authorized: list[str] = []

        def seen(request: Any) -> None:
            urls.append(request.url)
            if request.headers.get("authorization") == f"Bearer {TOKEN}":
                authorized.append(request.url)

        page.on("request", seen)
        try:
            page.goto(guarded.base + "/")
            page.wait_for_selector('[data-testid="login"]:not([hidden])', timeout=10_000)
            page.fill("#token", TOKEN)
            page.click('[data-testid="login"] button')
            page.wait_for_selector('[data-testid="live"].on', timeout=10_000)
            page.wait_for_selector('tr[data-testid="model"][data-model="gemma"]', timeout=5_000)
            assert page.evaluate("sessionStorage.getItem('localforge.token')") == TOKEN
            assert any("/dashboard/api/events" in url for url in authorized)
            assert all(TOKEN not in url for url in urls)
            page.reload()  # kept for the tab: no second prompt
            page.wait_for_selector('[data-testid="live"].on', timeout=10_000)
            assert page.is_hidden('[data-testid="login"]')
        finally:
            page.close()
