"""The default embedder: assembled offline from PyPI packages, unit vectors, truncation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from localforge.memory import embedder as embedder_module
from localforge.memory.embedder import DEFAULT_MODEL, MARKER, Embedder, assemble_default_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    return Embedder(DEFAULT_MODEL, tmp_path_factory.mktemp("emb"), max_chars=200)


def test_assemble_puts_onnx_and_tokenizer_in_one_dir(tmp_path: Path) -> None:
    target = assemble_default_model(tmp_path / "minilm")
    names = {p.name for p in target.iterdir()}
    assert {
        "model.onnx",
        "tokenizer.json",
        "config.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
        MARKER,
    } <= names
    assert (target / "model.onnx").stat().st_size > 20_000_000
    # Idempotent: a second call reuses the directory without rebuilding it.
    mtime = (target / "model.onnx").stat().st_mtime_ns
    assert assemble_default_model(target) == target
    assert (target / "model.onnx").stat().st_mtime_ns == mtime
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".assemble-")]


def test_vectors_are_unit_float32_and_similar_texts_are_close(embedder: Embedder) -> None:
    vectors = embedder.embed(
        [
            "write a python function that sorts a list",
            "sort a list in python",
            "the capital of France",
        ]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert similar > 0.7 > 0.3 > unrelated


def test_embed_one_matches_batch_and_empty_input(embedder: Embedder) -> None:
    one = embedder.embed_one("reverse a linked list")
    batch = embedder.embed(["reverse a linked list", "other"])
    assert one.shape == (384,)
    assert np.allclose(one, batch[0], atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_long_texts_keep_their_head_and_tail_within_max_chars(embedder: Embedder) -> None:
    head = "explain the difference between TCP and UDP " * 4  # 172 chars; max_chars is 200
    tail = "and when to pick each"
    filler = "x " * 200
    plain = head + filler + tail
    assert embedder.bounded(plain) == plain[:150] + " " + plain[-50:]
    a = embedder.embed_one(head + "totally different middle about cooking pasta " + filler + tail)
    assert np.allclose(a, embedder.embed_one(plain), atol=1e-5)


def test_long_texts_are_cut_to_a_head_and_tail_token_window(tmp_path: Path) -> None:
    small = Embedder(DEFAULT_MODEL, tmp_path, max_chars=4000, max_tokens=32)
    words = [f"word{i}" for i in range(300)]
    text = " ".join(words) + " why does this fail"
    (window,), (tokens,) = small.windows([text])
    assert tokens == 32
    assert window.startswith("word0 word1") and window.endswith("why does this fail")
    assert "word150" not in window
    # What the model reads is bounded: texts that differ only in the middle embed alike.
    other = " ".join(words[:100] + ["pasta"] * 150 + words[-50:]) + " why does this fail"
    assert np.allclose(small.embed_one(text), small.embed_one(other), atol=1e-5)
    # The tail counts: a different question at the end gives a different vector.
    changed = " ".join(words) + " how do I cook rice"
    assert not np.allclose(small.embed_one(text), small.embed_one(changed), atol=1e-3)
    short = "sort a list in python"
    assert small.windows([short]) == ([short], [7])  # five word pieces, [CLS] and [SEP]


def test_a_long_text_tokenised_near_its_ends_gets_the_window_of_the_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        json.loads(line)["text"]
        for path in sorted((ROOT / "data").glob("localforge-*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(lines, size=30))[: int(n)] for n in rng.integers(100, 2000, 120)]
    texts += [
        "é" * 900 + " the question at the end?",  # one long word piece run
        "x" * 1500 + " why",  # a word over the tokenizer's 100 characters: one [UNK]
        "  ".join(["token"] * 400),
        "数学" * 500 + " 为什么?",
        "def f(x):\n    return x  # " * 60 + "why does this return None?",
    ]
    window = Embedder(DEFAULT_MODEL, tmp_path, max_chars=4000)
    sliced = window.windows(texts)
    monkeypatch.setattr(embedder_module, "CHARS_PER_TOKEN", 10**6)  # the whole text, always
    whole = window.windows(texts)
    assert sliced == whole
    assert sum(len(w) < len(t) for w, t in zip(sliced[0], texts, strict=True)) > 80


def test_vectors_are_cached_by_text(tmp_path: Path) -> None:
    cached = Embedder(DEFAULT_MODEL, tmp_path, cache_size=2)
    first = cached.embed_one("reverse a linked list")
    assert cached.cache_hits == 0
    again = cached.embed_one("reverse a linked list")
    assert cached.cache_hits == 1 and np.array_equal(first, again)
    batch = cached.embed(["a", "reverse a linked list", "a", "b"])  # one hit, "a" embedded once
    assert cached.cache_hits == 2
    assert np.array_equal(batch[0], batch[2])
    assert len(cached._cache) == 2  # bounded: the least recently used text went
    batch[1][:] = 0  # a caller's array is its own: the cache is not changed through it
    assert np.allclose(cached.embed_one("reverse a linked list"), first, atol=1e-5)
