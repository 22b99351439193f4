"""Sentence vectors for training, kept on disk between runs (embedding a corpus takes minutes)."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
Embed = Callable[[Sequence[str]], np.ndarray]


def embedding_cache_path(
    data_dir: Path, model: str, max_tokens: int | None = None, graph: str = "float"
) -> Path:
    """One cache per model, token window and compute graph (a vector depends on all three)."""
    window = f"-{max_tokens}t" if max_tokens else ""
    build = "" if graph == "float" else f"-{graph}"
    return data_dir / "classifier" / f"embeddings-{model.replace('/', '--')}{window}{build}.npz"


class EmbeddingCache:
    """Sentence vectors kept on disk between training runs, keyed by a hash of each text.

    Missing texts are embedded shortest first, so each batch pads to similar lengths.
    """

    def __init__(self, embed: Embed, path: Path, batch: int = 256) -> None:
        self._embed = embed
        self.path = path
        self.batch = batch
        self._vectors: dict[str, np.ndarray] = {}
        if path.is_file():
            with np.load(path, allow_pickle=False) as npz:
                self._vectors = dict(zip(npz["keys"].tolist(), npz["vectors"], strict=True))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = sorted({t for t in texts if self.key(t) not in self._vectors}, key=len)
        for start in range(0, len(missing), self.batch):
            chunk = missing[start : start + self.batch]
            for text, vector in zip(chunk, self._embed(chunk), strict=True):
                self._vectors[self.key(text)] = np.asarray(vector, dtype=np.float32)
            log.info(
                "embedded %d of %d new texts", min(start + self.batch, len(missing)), len(missing)
            )
        if missing:
            self._save()
        return np.stack([self._vectors[self.key(t)] for t in texts]) if texts else np.zeros((0, 0))

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors), dtype=str)
        vectors = np.stack(list(self._vectors.values()))
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors)
        os.replace(tmp, self.path)
