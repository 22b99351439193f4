"""llama-server's /infill and /health, as llama.vim and llama.vscode call them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.support.http import HttpDaemon, http_daemon

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def door() -> Iterator[HttpDaemon]:
    with http_daemon() as running:
        yield running


def llama_vim_request(**changes: object) -> dict[str, object]:
    """The body llama.vim's llama#fim() sends (its field names and values)."""
    body: dict[str, object] = {
        "input_prefix": "def add(a, b):\n",
        "input_suffix": "\n\nprint(add(1, 2))\n",
        "input_extra": [
            {"text": "def sub(a, b):\n    return a - b\n", "time": [0, 0], "filename": "util.py"}
        ],
        "prompt": "    return",
        "n_predict": 8,
        "n_indent": 4,
        "top_k": 40,
        "top_p": 0.90,
        "stream": False,
        "samplers": ["top_k", "top_p", "infill"],
        "cache_prompt": True,
        "t_max_prompt_ms": 500,
        "t_max_predict_ms": 250,
        "response_fields": [
            "content",
            "timings/prompt_n",
            "timings/prompt_ms",
            "timings/prompt_per_token_ms",
            "timings/prompt_per_second",
            "timings/predicted_n",
            "timings/predicted_ms",
            "timings/predicted_per_token_ms",
            "timings/predicted_per_second",
            "truncated",
            "tokens_cached",
        ],
    }
    body.update(changes)
    return body


def test_infill_answers_llama_vims_request_with_the_fields_it_asks_for(door: HttpDaemon) -> None:
    # llama.vim posts with curl, reading the request from stdin.
    done = subprocess.run(
        [
            "curl",
            "--silent",
            "--no-buffer",
            "--request",
            "POST",
            "--url",
            door.base + "/infill",
            "--header",
            "Content-Type: application/json",
            "--data",
            "@-",
            "--include",
        ],
        input=json.dumps(llama_vim_request()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    head, _, payload = done.stdout.partition("\n\n")
    while payload.startswith("HTTP/"):  # after "100 Continue" (curl expects it for big bodies)
        head, _, payload = payload.partition("\n\n")
    answer = json.loads(payload)
    assert answer["content"].strip()
    assert set(answer) <= set(llama_vim_request()["response_fields"])  # type: ignore[arg-type]
    assert answer["timings/predicted_n"] <= 8 and answer["timings/prompt_n"] > 0
    assert "x-localforge-request-id:" in head.lower() and "x-localforge-model: gemma" in head


def test_infill_without_response_fields_is_llama_servers_whole_answer(door: HttpDaemon) -> None:
    answer = httpx.post(
        door.base + "/infill", json=llama_vim_request(response_fields=None), timeout=120
    ).json()
    assert answer["stop"] is True and answer["model"] == "gemma"
    assert answer["timings"]["predicted_n"] == answer["tokens_predicted"]
    assert answer["request_id"]


def test_a_context_update_with_n_predict_0_generates_nothing(door: HttpDaemon) -> None:
    body = llama_vim_request(input_prefix="", input_suffix="", prompt="", n_predict=0)
    answer = httpx.post(door.base + "/infill", json=body, timeout=10)
    assert answer.status_code == 200 and answer.json()["content"] == ""


def test_health_is_ok_and_errors_use_llama_servers_shape(door: HttpDaemon) -> None:
    assert httpx.get(door.base + "/health", timeout=10).json() == {"status": "ok"}
    bad = httpx.post(door.base + "/infill", json={"n_predict": "many"}, timeout=10)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == 400 and "n_predict" in bad.json()["error"]["message"]
