"""The OpenAI API over HTTP, spoken by the official ``openai`` client, on the real Gemma."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.support.http import HttpDaemon, http_daemon

pytestmark = pytest.mark.e2e

QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def door() -> Iterator[HttpDaemon]:
    with http_daemon() as running:
        yield running


@pytest.fixture(scope="module")
def client(door: HttpDaemon) -> openai.OpenAI:
    return openai.OpenAI(base_url=door.base + "/v1", api_key="unused", max_retries=0, timeout=120)


def test_models_lists_auto_and_every_registered_model(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert ids == ["auto", "gemma"]
    assert client.models.retrieve("gemma").owned_by == "localforge"


def test_auto_routes_a_chat_and_the_headers_name_request_model_and_task(
    client: openai.OpenAI,
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=16,
        temperature=0,
    )
    answer = raw.parse()
    assert "Paris" in (answer.choices[0].message.content or "")
    assert answer.model == "gemma" and answer.usage is not None
    assert answer.usage.completion_tokens > 0
    assert raw.headers["x-localforge-model"] == "gemma"
    assert raw.headers["x-localforge-task"] in {"general", "reasoning", "instruction"}
    assert answer.id == "chatcmpl-" + raw.headers["x-localforge-request-id"]


def test_a_streamed_chat_arrives_in_chunks_and_ends_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gemma",
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=16,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Paris" in text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in {"stop", "length"}
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > chunks[-1].usage.completion_tokens > 0


def test_a_completion_with_a_suffix_fills_in_the_middle(client: openai.OpenAI) -> None:
    done = client.completions.create(
        model="gemma",
        prompt="def add(a, b):\n    return",
        suffix="\n\nprint(add(1, 2))\n",
        max_tokens=8,
        temperature=0,
    )
    assert done.choices[0].text.strip() and done.model == "gemma"
    assert done.usage is not None and done.usage.completion_tokens <= 8


def test_embeddings_come_from_the_memory_model_as_floats_or_base64(
    client: openai.OpenAI,
) -> None:
    floats = client.embeddings.create(
        model="auto", input=["reverse a list", "sort a list"], encoding_format="float"
    )
    packed = client.embeddings.create(model="all-MiniLM-L6-v2", input="reverse a list")
    assert len(floats.data) == 2 and len(floats.data[0].embedding) == 384
    assert floats.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert floats.usage.prompt_tokens > 0
    same = packed.data[0].embedding  # the client asks for base64 and decodes it
    assert max(abs(a - b) for a, b in zip(same, floats.data[0].embedding, strict=True)) < 1e-5


def test_an_unknown_model_is_a_404_that_lists_the_known_ones(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert "no-such-model" in str(missing.value) and "gemma" in str(missing.value)
    with pytest.raises(openai.NotFoundError, match="all-MiniLM-L6-v2"):
        client.embeddings.create(model="text-embedding-3-small", input="x")


def test_a_bad_field_is_a_400_that_names_it(client: openai.OpenAI, door: HttpDaemon) -> None:
    with pytest.raises(openai.BadRequestError, match="temperature"):
        client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hi"}], temperature=5
        )
    with pytest.raises(openai.BadRequestError, match="last message must have role 'user'"):
        client.chat.completions.create(
            model="auto", messages=[{"role": "assistant", "content": "hi"}]
        )
    bad = httpx.post(door.base + "/v1/chat/completions", content=b"{not json", timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    assert "Traceback" not in bad.text


def test_feedback_by_request_id_reaches_the_memory(client: openai.OpenAI, door: HttpDaemon) -> None:
    answer = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Say hi"}], max_tokens=4
    )
    rated = httpx.post(
        door.base + "/v1/feedback",
        json={"request_id": answer.id, "kind": "thumbs_up"},
        timeout=10,
    )
    assert rated.status_code == 200, rated.text
    assert rated.json()["model"] == "gemma" and rated.json()["value"] == 1.0
    missing = httpx.post(
        door.base + "/v1/feedback", json={"request_id": "nope", "kind": "thumbs_up"}, timeout=10
    )
    assert missing.status_code == 404


def test_route_explains_the_decision_without_generating(door: HttpDaemon) -> None:
    trace = httpx.post(
        door.base + "/v1/route", json={"text": "reverse a linked list in C"}, timeout=30
    )
    assert trace.status_code == 200
    body = trace.json()
    assert body["winner"] == "gemma" and body["task_type"] == "coding"
    assert trace.headers["x-localforge-task"] == "coding"
    assert body["recorded"] is False


def test_metrics_count_what_the_requests_above_did(door: HttpDaemon) -> None:
    text = httpx.get(door.base + "/metrics", timeout=10).text
    for expected in (
        'localforge_http_requests_total{endpoint="/v1/chat/completions",method="POST",status="200"}',
        'localforge_http_requests_total{endpoint="/v1/chat/completions",method="POST",status="404"}',
        'localforge_routing_decisions_total{kind="chat",model="gemma",task_type="',
        'localforge_model_loads_total{model="gemma"} 1.0',
        'localforge_model_load_seconds_count{model="gemma"} 1.0',
        'localforge_first_token_seconds_bucket{le="0.5",model="gemma"}',
        'localforge_answer_seconds_count{kind="code",model="gemma"} 1.0',
        'localforge_tokens_per_second_count{model="gemma"}',
        "localforge_route_seconds_count ",
        'localforge_feedback_total{kind="thumbs_up"} 1.0',
        'localforge_model_memory_bytes{device="cpu",model="gemma",state="idle"}',
        'localforge_device_budget_bytes{device="cpu"}',
        "localforge_queue_depth 0.0",
        "localforge_memory_points ",
        "localforge_routing_fallbacks_total",
        "localforge_model_swaps_total 0.0",
    ):
        assert expected in text, expected
    status = door.daemon.call("daemon.status")["services"]["http"]
    assert status["state"] == "ready" and status["url"] == door.base
