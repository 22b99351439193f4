"""The opt-in static embedding: a token table distilled from MiniLM, and how a text reads it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from localforge.errors import ConfigError, Unavailable
from localforge.memory.embedder import (
    DEFAULT_MODEL,
    DEFAULT_MODEL_DIR,
    Embedder,
    assemble_default_model,
)
from localforge.memory.static_embedding import (
    MAP_FILE,
    STATIC_MODEL,
    STATIC_VECTORS,
    TABLE_FILE,
    StaticTable,
    configured_name,
    distil,
    fit_map,
    load_map,
    vectors_name,
)
from localforge.routing.query import embedding_mismatch


class OneHotSession:
    """Stands in for MiniLM: the hidden state of a position is one-hot on its token id."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.batches = 0

    def run(self, _: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        ids = feeds["input_ids"]
        assert feeds["attention_mask"].shape == ids.shape and not feeds["token_type_ids"].any()
        self.batches += 1
        return [np.eye(self.dim, dtype=np.float32)[ids % self.dim]]


def test_distil_mean_pools_each_token_between_cls_and_sep() -> None:
    session = OneHotSession(dim=8)
    table = distil(session, vocab_size=1030, cls_id=1, sep_id=2)
    assert table.shape == (1030, 8) and session.batches == 3  # 512 tokens a batch
    expected = (np.eye(8)[1] + np.eye(8)[5 % 8] + np.eye(8)[2]) / 3
    assert np.allclose(table[5], expected)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble_default_model(tmp_path_factory.mktemp("minilm") / DEFAULT_MODEL_DIR)


def test_a_text_is_the_normalised_sum_of_its_token_rows(model_dir: Path) -> None:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((tokenizer.get_vocab_size(), 6)).astype(np.float32)
    table = StaticTable(rows, tokenizer)
    [vector, empty] = table.embed(["sort a list", ""])
    ids = tokenizer.encode("sort a list", add_special_tokens=False).ids
    want = rows[ids].sum(axis=0)
    assert np.allclose(vector, want / np.linalg.norm(want), atol=1e-6)
    unknown = rows[tokenizer.token_to_id("[UNK]")]
    assert np.allclose(empty, unknown / np.linalg.norm(unknown), atol=1e-6)  # never a zero vector
    assert table.token_count(["sort a list"]) == len(ids)

    projection = rng.standard_normal((6, 4)).astype(np.float32)
    [mapped] = StaticTable(rows, tokenizer, projection).embed(["sort a list"])
    pooled = want / np.linalg.norm(want) @ projection
    assert mapped.shape == (4,) and np.allclose(mapped, pooled / np.linalg.norm(pooled), atol=1e-5)


def test_the_map_is_the_least_squares_fit_from_pooled_to_target_vectors() -> None:
    rng = np.random.default_rng(1)
    pooled = rng.standard_normal((500, 8)).astype(np.float32)
    truth = rng.standard_normal((8, 5)).astype(np.float32)
    noise = 0.01 * rng.standard_normal((500, 5)).astype(np.float32)
    assert np.allclose(fit_map(pooled, pooled @ truth + noise, ridge=1e-6), truth, atol=0.01)
    shrunk = fit_map(pooled, pooled @ truth, ridge=1e4)  # the ridge pulls it towards zero
    assert np.linalg.norm(shrunk) < 0.5 * np.linalg.norm(truth)


def test_the_static_vectors_are_named_with_their_map() -> None:
    assert vectors_name(STATIC_MODEL) == STATIC_VECTORS != STATIC_MODEL
    assert configured_name(STATIC_VECTORS) == STATIC_MODEL
    assert vectors_name(DEFAULT_MODEL) == DEFAULT_MODEL == configured_name(DEFAULT_MODEL)
    shipped = load_map()
    assert MAP_FILE.is_file() and shipped.shape == (384, 384) and np.isfinite(shipped).all()
    with pytest.raises(Unavailable, match="reinstall"):
        load_map(MAP_FILE.with_name("absent.npz"))


@pytest.mark.slow
def test_the_real_table_is_distilled_once_and_ranks_like_meaning(tmp_path: Path) -> None:
    embedder = Embedder(STATIC_MODEL, tmp_path, cache_size=0)  # distils MiniLM (about a minute)
    assert (tmp_path / TABLE_FILE).is_file() and embedder.dim == 384
    started = time.perf_counter()
    again = Embedder(STATIC_MODEL, tmp_path, cache_size=0)
    assert time.perf_counter() - started < 10  # loaded, not distilled again
    a, b, c = again.embed(
        [
            "how do I reverse a list in python",
            "reverse the order of a python list",
            "what is the capital of france",
        ]
    )
    assert np.allclose(np.linalg.norm([a, b, c], axis=1), 1.0, atol=1e-5)
    assert a @ b > a @ c + 0.1
    counted = again.embed_counted(["reverse a list", "x " * 3000])  # no window: every token
    assert counted.model == again.model_name == STATIC_VECTORS and counted.tokens > 900
    assert counted.answers_to(STATIC_MODEL) and counted.answers_to("all-MiniLM-L6-v2+map-v1")
    assert not counted.answers_to(DEFAULT_MODEL)


@pytest.mark.slow
def test_the_map_brings_static_vectors_near_minilms(tmp_path: Path) -> None:
    texts = [
        "how many ways can eight people sit around a round table",
        "write a bash script that renames every .jpeg file to .jpg",
        "what year did the berlin wall fall",
        "explain why the sky looks blue in the afternoon and red at sunset",
    ]
    minilm = Embedder(DEFAULT_MODEL, tmp_path, cache_size=0).embed(texts)
    static = Embedder(STATIC_MODEL, tmp_path, cache_size=0)
    assert static._static is not None
    mapped, pooled = static.embed(texts), static._static.pooled(texts)
    cosine_mapped = np.sum(mapped * minilm, axis=1)
    cosine_pooled = np.sum(pooled * minilm, axis=1)
    assert cosine_mapped.mean() > cosine_pooled.mean() + 0.2 and cosine_mapped.min() > 0.5


def test_a_minilm_classifier_refuses_static_vectors() -> None:
    class Artifact:
        needs_embedding = True
        version = "clf-1"
        metadata: ClassVar[dict[str, Any]] = {"embedding": {"model": DEFAULT_MODEL, "dim": 384}}

    assert embedding_mismatch(Artifact(), DEFAULT_MODEL) is None
    reason = embedding_mismatch(Artifact(), STATIC_VECTORS)
    assert reason is not None and 'classifier.features = "tfidf"' in reason
    with pytest.raises(ConfigError):
        raise ConfigError(reason)
