"""The default embedder: assembled offline from PyPI packages, unit vectors, truncation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from localforge.memory.embedder import DEFAULT_MODEL, MARKER, Embedder, assemble_default_model


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


def test_long_texts_are_truncated_to_max_chars(embedder: Embedder) -> None:
    head = "explain the difference between TCP and UDP " * 5  # 215 chars > max_chars=200
    a = embedder.embed_one(head[:200] + "totally different tail about cooking pasta " * 50)
    b = embedder.embed_one(head[:200])
    assert np.allclose(a, b, atol=1e-5)
