"""`lfd lsp` driven by pytest-lsp, against a real daemon and the bundled model.

Each test starts its own language server (one per editor window) on one shared daemon.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.support.daemon import DaemonProcess, lfctl, run_daemon, temp_home
from tests.support.lsp import (
    LSP_COMMAND,
    bundled_gguf,
    completion_daemon,
    completion_params,
    interaction,
    newest_code_interaction,
    newest_code_interactions,
    open_document,
    plain,
    wait_for,
    wait_idle,
)

pytestmark = pytest.mark.e2e

SIGNATURE = "def add(a, b):\n    return "
FAST = {"lsp.max_tokens": 12, "lsp.prefill_idle_ms": 0}


@pytest.fixture(scope="module")
def gemma() -> Path:
    return bundled_gguf()


@pytest.fixture(scope="module")
def daemon(gemma: Path) -> Iterator[DaemonProcess]:
    with completion_daemon(gemma) as running:
        yield running


@asynccontextmanager
async def lsp(
    daemon: DaemonProcess,
    capabilities: types.ClientCapabilities | None = None,
    **settings: Any,
) -> AsyncIterator[LanguageClient]:
    """A language server for one editor window, shut down (exit status 0) at the end."""
    config = ClientServerConfig(
        server_command=LSP_COMMAND,
        server_env=daemon.home.env,
    )
    client = await config.start()
    client.statuses = []  # type: ignore[attr-defined]

    @client.feature("localforge/status")
    def on_status(params: Any) -> None:
        client.statuses.append(plain(params))  # type: ignore[attr-defined]

    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities or types.ClientCapabilities(),
            initialization_options={"settings": {**FAST, **settings}},
        )
    )
    try:
        yield client
    finally:
        await client.shutdown_session()
        assert client.error is None, f"the server broke the protocol: {client.error}"
        assert client._server is not None and client._server.returncode == 0
        await client.stop()


async def suggest(client: LanguageClient, uri: str, text: str, **kw: Any) -> Any:
    """Open ``text`` and ask for an inline suggestion at its end."""
    open_document(client, uri, text)
    return await client.text_document_inline_completion_async(completion_params(uri, text, **kw))


def notify(client: LanguageClient, method: str, params: dict[str, Any]) -> None:
    client.protocol.notify(method, params)


@pytest.mark.asyncio
async def test_initialize_advertises_inline_completion_incremental_sync_and_commands(
    daemon: DaemonProcess,
) -> None:
    config = ClientServerConfig(
        server_command=LSP_COMMAND,
        server_env=daemon.home.env,
    )
    client = await config.start()
    result = await client.initialize_session(
        types.InitializeParams(capabilities=types.ClientCapabilities())
    )
    capabilities = result.capabilities
    assert capabilities.inline_completion_provider is not None
    assert capabilities.completion_provider is not None
    assert capabilities.code_action_provider is not None
    sync = capabilities.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions)
    assert sync.change == types.TextDocumentSyncKind.Incremental
    assert capabilities.execute_command_provider is not None
    assert "localforge.accept" in capabilities.execute_command_provider.commands
    assert result.server_info is not None and result.server_info.name == "localforge"
    await client.shutdown_session()
    assert client._server is not None and client._server.returncode == 0
    await client.stop()


@pytest.mark.asyncio
async def test_inline_completion_comes_from_the_bundled_model_through_the_daemon(
    daemon: DaemonProcess,
) -> None:
    async with lsp(daemon) as client:
        result = await suggest(client, "file:///w/add.py", SIGNATURE)
        [item] = result.items
        assert item.insert_text.strip()
        assert item.command.command == "localforge.accept"
        [request_id] = item.command.arguments
        assert item.range.start == item.range.end == types.Position(1, 11)
        row = interaction(daemon.home, request_id)
        assert row["kind"] == "code" and row["model"] == "gemma"
        assert row["query_text"].startswith("[python]")
        # The live decisions label it as the editors' (lfd lsp says daemon.hello).
        assert daemon.call("route.decision", {"request_id": request_id})["summary"]["door"] == "lsp"
        await wait_for(lambda: client.statuses, "a localforge/status notification")
        status = client.statuses[-1]
        assert status["state"] == "ready" and status["mode"] == "cpu"
        assert status["model"] == "gemma"


@pytest.mark.asyncio
async def test_cancel_mid_generation_stops_the_worker(daemon: DaemonProcess) -> None:
    text = "# the numbers from 1 to 300, one per line\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n"
    async with lsp(daemon, **{"lsp.max_tokens": 400}) as client:
        uri = "file:///w/count.py"
        open_document(client, uri, text)
        pending = asyncio.wrap_future(
            client.protocol.send_request(
                types.TEXT_DOCUMENT_INLINE_COMPLETION, completion_params(uri, text), msg_id="long"
            )
        )
        models = await wait_for(lambda: _busy(daemon), "the worker to start generating", timeout=30)
        assert models
        cancelled_at = time.monotonic()
        client.cancel_request(types.CancelParams(id="long"))
        with pytest.raises(Exception, match="cancel"):
            await pending
        wait_idle(daemon, "gemma", timeout=3.0)
        assert time.monotonic() - cancelled_at < 3.0  # 400 tokens would take ~10 s here
        row = await wait_for(
            lambda: _cancelled_row(daemon), "the cancelled request to be recorded", timeout=10
        )
        assert row["ok"] == 0


@pytest.mark.asyncio
async def test_a_newer_request_for_the_document_supersedes_and_stops_the_older_one(
    daemon: DaemonProcess,
) -> None:
    counting = "# the numbers from 1 to 300, one per line\n" + "".join(
        f"{n}\n" for n in range(1, 11)
    )
    text = counting + "\ntotal = len()\n"
    async with lsp(daemon, **{"lsp.max_tokens": 400}) as client:
        uri = "file:///w/supersede.py"
        open_document(client, uri, text)
        older = asyncio.ensure_future(
            client.text_document_inline_completion_async(
                _at(uri, types.Position(11, 0))  # the empty line: a long list would follow
            )
        )
        await wait_for(lambda: _busy(daemon), "the older request to generate", timeout=30)
        started = time.monotonic()
        newer = await client.text_document_inline_completion_async(
            _at(uri, types.Position(12, 12))  # inside len(): one short line
        )
        superseded = await older
        assert not superseded.items  # answered empty, not an error
        assert time.monotonic() - started < 5.0  # the 400-token generation did not run out
        assert newer.items and "\n" not in newer.items[0].insert_text
        rows = await wait_for(lambda: _two_newest(daemon), "both requests recorded")
        assert rows[1]["error"] == "cancelled by the client" and rows[0]["ok"] == 1


def _at(uri: str, position: types.Position) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked
        ),
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=position,
    )


def _two_newest(daemon: DaemonProcess) -> list[dict[str, Any]] | None:
    rows = newest_code_interactions(daemon.home, 2)
    return rows if len(rows) == 2 and all(row["ok"] is not None for row in rows) else None


def _busy(daemon: DaemonProcess) -> bool:
    resident = daemon.call("daemon.status")["services"]["models"]["resident"]
    return any(slot["state"] == "busy" for slot in resident)


def _cancelled_row(daemon: DaemonProcess) -> dict[str, Any] | None:
    row = newest_code_interaction(daemon.home)
    return row if row and row["error"] == "cancelled by the client" else None


@pytest.mark.asyncio
async def test_the_accept_command_records_accepted(daemon: DaemonProcess) -> None:
    async with lsp(daemon) as client:
        [item] = (await suggest(client, "file:///w/accept.py", SIGNATURE)).items
        [request_id] = item.command.arguments
        notify(client, "localforge/didShow", {"requestId": request_id})
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="localforge.accept", arguments=[request_id])
        )
        row = await wait_for(lambda: _outcome(daemon, request_id), "the accept to be recorded")
        assert (row["outcome_kind"], row["outcome"]) == ("accepted", 1.0)


@pytest.mark.asyncio
async def test_show_and_reject_record_rejected_and_a_suggestion_shown_under_250_ms_counts_nothing(
    daemon: DaemonProcess,
) -> None:
    async with lsp(daemon) as client:
        [quick] = (await suggest(client, "file:///w/quick.py", "import os\n\n\ndef main(")).items
        [glimpsed] = quick.command.arguments
        [seen] = (await suggest(client, "file:///w/seen.py", SIGNATURE)).items
        [rejected] = seen.command.arguments
        notify(client, "localforge/didShow", {"requestId": glimpsed})
        notify(client, "localforge/didReject", {"requestId": glimpsed})  # typed through it
        notify(client, "localforge/didShow", {"requestId": rejected})
        await asyncio.sleep(0.3)
        notify(client, "localforge/didReject", {"requestId": rejected})
        row = await wait_for(lambda: _outcome(daemon, rejected), "the reject to be recorded")
        assert (row["outcome_kind"], row["outcome"]) == ("rejected", 0.0)
        assert interaction(daemon.home, glimpsed)["outcome"] is None


@pytest.mark.asyncio
async def test_partial_accept_records_the_share_accepted(daemon: DaemonProcess) -> None:
    async with lsp(daemon) as client:
        [item] = (await suggest(client, "file:///w/partial.py", SIGNATURE)).items
        [request_id] = item.command.arguments
        length = len(item.insert_text.encode("utf-16-le")) // 2
        notify(client, "localforge/didShow", {"requestId": request_id})
        notify(
            client,
            "localforge/didPartiallyAccept",
            {"requestId": request_id, "acceptedLength": 1},
        )
        row = await wait_for(lambda: _outcome(daemon, request_id), "the partial to be recorded")
        assert row["outcome_kind"] == "partial"
        assert row["outcome"] == pytest.approx(1 / length, abs=1e-4)


@pytest.mark.asyncio
async def test_a_suggestion_shown_without_acceptance_is_rejected_after_the_timeout(
    daemon: DaemonProcess,
) -> None:
    async with lsp(daemon, **{"lsp.reject_after_s": 1.0}) as client:
        [item] = (await suggest(client, "file:///w/ignored.py", SIGNATURE)).items
        [request_id] = item.command.arguments
        notify(client, "localforge/didShow", {"requestId": request_id})
        row = await wait_for(lambda: _outcome(daemon, request_id), "the timeout reject")
        assert (row["outcome_kind"], row["outcome"]) == ("rejected", 0.0)


@pytest.mark.asyncio
async def test_typed_ahead_serves_the_rest_of_the_suggestion_without_a_model_call(
    daemon: DaemonProcess,
) -> None:
    async with lsp(daemon) as client:
        uri = "file:///w/typed.py"
        [item] = (await suggest(client, uri, SIGNATURE)).items
        suggestion = item.insert_text
        if len(suggestion) < 2:
            pytest.skip(f"the model suggested {suggestion!r}: too short to type ahead")
        before = newest_code_interaction(daemon.home)
        typed = suggestion[0]
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(types.Position(1, 11), types.Position(1, 11)), text=typed
                    )
                ],
            )
        )
        started = time.perf_counter()
        result = await client.text_document_inline_completion_async(
            completion_params(uri, SIGNATURE + typed)
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        [rest] = result.items
        assert rest.insert_text == suggestion[1:]
        assert rest.command.arguments == item.command.arguments
        after = newest_code_interaction(daemon.home)
        assert before and after and after["request_id"] == before["request_id"]  # no model call
        assert elapsed_ms < 200


@pytest.mark.asyncio
async def test_completion_is_the_fallback_for_editors_without_inline_completion(
    daemon: DaemonProcess,
) -> None:
    async with lsp(daemon) as client:
        uri = "file:///w/fallback.py"
        open_document(client, uri, SIGNATURE)
        result = await client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(1, 11),
            )
        )
        [item] = result.items
        assert item.text_edit is not None and item.text_edit.new_text.strip()
        assert item.command is not None and item.command.command == "localforge.accept"

    inline = types.ClientCapabilities(
        text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities()
        )
    )
    async with lsp(daemon, capabilities=inline) as client:
        open_document(client, "file:///w/both.py", SIGNATURE)
        result = await client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri="file:///w/both.py"),
                position=types.Position(1, 11),
            )
        )
        assert not result.items  # it shows inline completions: no second model call


def _outcome(daemon: DaemonProcess, request_id: str) -> dict[str, Any] | None:
    row = interaction(daemon.home, request_id)
    return row if row["outcome_kind"] is not None else None


def _frames(data: bytes, *, partial: bool = False) -> list[dict[str, Any]]:
    """Split raw stdout into LSP frames; anything else in it fails the test.

    With ``partial`` a frame still arriving at the end is left for later.
    """
    frames = []
    while data:
        header, sep, rest = data.partition(b"\r\n\r\n")
        if partial and not sep:
            break
        assert sep, f"stdout has bytes that are not an LSP frame: {data[:80]!r}"
        lengths = [
            int(line.split(b":", 1)[1])
            for line in header.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ]
        assert lengths, f"a frame without Content-Length: {header!r}"
        if partial and len(rest) < lengths[0]:
            break
        body, data = rest[: lengths[0]], rest[lengths[0] :]
        message = json.loads(body)
        assert message["jsonrpc"] == "2.0"
        frames.append(message)
    return frames


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def test_stdout_carries_only_lsp_frames_and_exit_after_shutdown_is_status_0(
    daemon: DaemonProcess,
) -> None:
    uri = "file:///w/raw.py"
    session = b"".join(
        [
            _frame({"id": 1, "method": "initialize", "params": {"capabilities": {}}}),
            _frame({"method": "initialized", "params": {}}),
            _frame(
                {
                    "method": "textDocument/didOpen",
                    "params": {
                        "textDocument": {
                            "uri": uri,
                            "languageId": "python",
                            "version": 1,
                            "text": SIGNATURE,
                        }
                    },
                }
            ),
            _frame(
                {
                    "id": 2,
                    "method": "textDocument/inlineCompletion",
                    "params": {
                        "textDocument": {"uri": uri},
                        "position": {"line": 1, "character": 11},
                        "context": {"triggerKind": 1},
                    },
                }
            ),
        ]
    )
    command = [*LSP_COMMAND, "--set", "lsp.max_tokens=8"]
    process = subprocess.Popen(
        command,
        env=daemon.home.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    out = b""

    def send_and_wait(data: bytes, rid: int) -> None:
        nonlocal out
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(data)
        process.stdin.flush()
        while not any(frame.get("id") == rid for frame in _frames(out, partial=True)):
            chunk = process.stdout.read1(65536)
            assert chunk, f"the server closed stdout before answering request {rid}"
            out += chunk

    send_and_wait(session, 2)
    send_and_wait(_frame({"id": 3, "method": "shutdown"}), 3)  # exit only after that answer
    rest, err = process.communicate(_frame({"method": "exit"}), timeout=30)
    assert process.returncode == 0, err.decode()
    answers = {frame["id"]: frame for frame in _frames(out + rest) if "id" in frame}
    assert answers[1]["result"]["capabilities"]["inlineCompletionProvider"] is not None
    assert answers[2]["result"]["items"][0]["command"]["command"] == "localforge.accept"
    assert answers[3]["result"] is None

    without_shutdown = subprocess.run(
        command,
        env=daemon.home.env,
        input=_frame({"method": "exit"}),
        capture_output=True,
        timeout=30,
    )
    assert without_shutdown.returncode == 1
    assert without_shutdown.stdout == b""


@pytest.mark.asyncio
async def test_an_accept_whose_text_is_mostly_deleted_later_is_revised_down(
    daemon: DaemonProcess,
) -> None:
    async with lsp(daemon, **{"lsp.persistence_check_s": 1.0}) as client:
        uri = "file:///w/persist.py"
        [item] = (await suggest(client, uri, SIGNATURE)).items
        [request_id] = item.command.arguments
        accepted = SIGNATURE + item.insert_text
        client.text_document_did_change(_full_change(uri, 2, accepted))
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="localforge.accept", arguments=[request_id])
        )
        await wait_for(lambda: _outcome(daemon, request_id), "the accept")
        client.text_document_did_change(_full_change(uri, 3, SIGNATURE + "0\n"))  # deleted
        row = await wait_for(
            lambda: _revised(daemon, request_id), "the accept to be revised", timeout=10
        )
        assert row["outcome_kind"] == "partial" and row["outcome"] < 0.5


def _full_change(uri: str, version: int, text: str) -> types.DidChangeTextDocumentParams:
    return types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
    )


def _revised(daemon: DaemonProcess, request_id: str) -> dict[str, Any] | None:
    row = interaction(daemon.home, request_id)
    return row if row["outcome_kind"] == "partial" else None


@pytest.mark.asyncio
async def test_chat_streams_partial_results_and_explain_shows_its_decision(
    daemon: DaemonProcess,
) -> None:
    async with lsp(daemon) as client:
        pieces: list[str] = []  # partial results: pytest-lsp only knows work-done progress

        def on_progress(params: types.ProgressParams) -> None:
            if params.token == "t1":
                pieces.append(plain(params.value)["delta"])

        client.protocol.fm.features[types.PROGRESS] = on_progress
        answer = plain(
            await client.protocol.send_request_async(
                "localforge/chat",
                {
                    "text": "What is the capital of France?",
                    "maxTokens": 12,
                    "partialResultToken": "t1",
                },
            )
        )
        assert answer["model"] == "gemma" and answer["requestId"]
        assert pieces and "".join(pieces).strip() == answer["text"].strip()
        decision = plain(await client.protocol.send_request_async("localforge/explain", {}))
        assert decision["requestId"] == answer["requestId"]
        assert decision["winner"] == "gemma" and decision["candidates"]
        assert decision["kind"] == "chat"
        rated = plain(
            await client.protocol.send_request_async("localforge/feedback", {"kind": "thumbs_up"})
        )
        assert rated
        row = interaction(daemon.home, answer["requestId"])
        assert (row["outcome_kind"], row["outcome"]) == ("thumbs_up", 1.0)
        status = plain(await client.protocol.send_request_async("localforge/status", {}))
        assert status["state"] == "ready" and "gemma" in status["resident"]


@pytest.mark.asyncio
async def test_a_selection_offers_the_ask_localforge_code_action(daemon: DaemonProcess) -> None:
    async with lsp(daemon) as client:
        uri = "file:///w/action.py"
        open_document(client, uri, SIGNATURE + "a + b\n")
        selected = types.Range(types.Position(0, 0), types.Position(0, 14))
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=selected,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        [action] = actions
        assert isinstance(action, types.Command)
        assert action.title == "Ask LocalForge about the selection"
        assert action.command == "localforge.askSelection"
        [argument] = [plain(arg) for arg in action.arguments]
        assert argument["text"] == "def add(a, b):" and argument["languageId"] == "python"


@pytest.mark.asyncio
async def test_the_server_starts_the_daemon_when_none_runs(gemma: Path) -> None:
    with temp_home() as home:
        home.write_config(f'[[models]]\nname = "gemma"\npath = "{gemma}"\nn_ctx = 512\n')
        config = ClientServerConfig(
            server_command=[sys.executable, "-m", "localforge", "lsp"], server_env=home.env
        )
        client = await config.start()
        try:
            await client.initialize_session(
                types.InitializeParams(capabilities=types.ClientCapabilities())
            )
            status = await wait_for(
                lambda: home.paths.socket.exists(), "the daemon's socket", timeout=60
            )
            assert status
            answer = plain(await client.protocol.send_request_async("localforge/status", {}))
            assert answer["state"] in ("ready", "degraded") and answer["mode"] == "cpu"
            await client.shutdown_session()
            assert client._server is not None and client._server.returncode == 0
        finally:
            await client.stop()
            stopped = lfctl(home, "--no-start", "stop")
            assert stopped.returncode == 0, stopped.stderr
            assert (home.paths.state_dir / "lfd.out").exists()  # its output, not our stdout


@pytest.mark.asyncio
async def test_a_daemon_error_is_shown_once_with_its_fix(gemma: Path) -> None:
    with temp_home() as home:
        home.write_config(
            f'[residency]\ncompletion_model = "missing"\nspare_worker = false\n'
            f'[[models]]\nname = "gemma"\npath = "{gemma}"\nn_ctx = 512\n'
        )
        with run_daemon(home) as running:
            async with lsp(running) as client:
                for attempt in range(2):
                    text = SIGNATURE + "x" * attempt
                    result = await suggest(client, f"file:///w/broken{attempt}.py", text)
                    assert not result.items
                await wait_for(lambda: client.messages, "a window/showMessage")
                [message] = client.messages  # the second failure repeats no message
                assert message.type == types.MessageType.Warning
                assert "residency.completion_model" in message.message
                assert "set it to one of them" in message.message
