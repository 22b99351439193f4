"""The Ollama API over HTTP, spoken by the official ``ollama`` client, on the real Gemma."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import ollama
import pytest

from tests.support.http import HttpDaemon, http_daemon

pytestmark = pytest.mark.e2e

QUESTION = "What is the capital of France?"
SHORT = {"temperature": 0, "num_predict": 16}


@pytest.fixture(scope="module")
def door() -> Iterator[HttpDaemon]:
    with http_daemon() as running:
        yield running


@pytest.fixture(scope="module")
def client(door: HttpDaemon) -> ollama.Client:
    return ollama.Client(host=door.base, timeout=120)


def test_list_shows_auto_and_the_registered_models(client: ollama.Client) -> None:
    names = [model.model for model in client.list().models]
    assert names == ["auto", "gemma"]
    assert client.show("gemma").details is not None
    assert httpx.get(client._client.base_url.join("/api/version")).json()["version"]


def test_chat_answers_whole_or_streamed(client: ollama.Client) -> None:
    whole = client.chat(
        model="auto", messages=[{"role": "user", "content": QUESTION}], options=SHORT
    )
    assert "Paris" in whole.message.content and whole.done
    assert whole.model == "gemma" and (whole.eval_count or 0) > 0
    parts = list(
        client.chat(
            model="gemma:latest",
            messages=[{"role": "user", "content": QUESTION}],
            options=SHORT,
            stream=True,
        )
    )
    assert "Paris" in "".join(part.message.content for part in parts)
    assert parts[-1].done and parts[-1].done_reason in {"stop", "length"}
    assert not any(part.done for part in parts[:-1])


def test_generate_completes_a_prompt_and_ps_shows_the_loaded_model(
    client: ollama.Client,
) -> None:
    done = client.generate(model="gemma", prompt=QUESTION, options=SHORT)
    assert "Paris" in done.response and done.done
    streamed = list(client.generate(model="auto", prompt=QUESTION, options=SHORT, stream=True))
    assert "Paris" in "".join(part.response for part in streamed)
    assert [model.model for model in client.ps().models] == ["gemma"]


def test_an_unknown_model_is_a_404_in_ollama_shape(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as missing:
        client.chat(model="llama3:8b", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.status_code == 404
    assert "llama3:8b" in missing.value.error and "gemma" in missing.value.error


def test_embed_uses_the_memory_model(client: ollama.Client) -> None:
    vectors = client.embed(model="auto", input=["one", "two"]).embeddings
    assert len(vectors) == 2 and len(vectors[0]) == 384
