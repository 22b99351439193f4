"""`lfd classify` and `lfd train`: the classifier without a daemon.

``lfd classify`` reads JSON Lines (``{"text": ...}``, other fields passed
through) or plain text lines on stdin and writes one JSON object per line. A
line that cannot be classified (invalid UTF-8, a JSON object without text, a
line over the size cap) gets ``{"line": N, "error": ...}`` and the batch goes on;
the exit status is 1 when any line failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from localforge.errors import ConfigError, InvalidParams, LocalForgeError
from localforge.memory.static_embedding import vectors_name
from localforge.paths import Paths
from localforge.routing import artifact as artifacts
from localforge.routing.classifier import TaskClassifier, artifact_path
from localforge.routing.query import embedding_mismatch
from localforge.settings import Settings, load_settings, parse_flag_assignments

if TYPE_CHECKING:
    from localforge.memory.embedder import Embedder

MAX_LINE_BYTES = 16 * 1024 * 1024
# Lines read before their embeddings are computed: the embedder sorts each batch by length,
# so a larger batch pads less; what is held stays bounded (texts plus one vector each).
EMBED_BATCH = 256


@dataclass
class Item:
    line: int
    text: str | None = None
    extra: dict[str, Any] | None = None
    error: str | None = None


def _settings(args: argparse.Namespace) -> tuple[Paths, Settings]:
    paths = Paths.from_env()
    flags = parse_flag_assignments(args.assignments)
    return paths, load_settings(paths, flags=flags, config_file=args.config).settings


def make_embedder(settings: Settings, paths: Paths) -> Embedder:
    """The configured sentence embedder, set up as the daemon sets up its own."""
    from localforge.memory.embedder import CACHE_DIR, Embedder

    return Embedder.from_settings(settings.embedding, paths.data_dir / CACHE_DIR)


def make_embed(settings: Settings, paths: Paths) -> Callable[[Sequence[str]], np.ndarray]:
    """The configured sentence embedder, as a batch function (loaded once)."""
    return make_embedder(settings, paths).embed


# --- lfd classify -------------------------------------------------------------


def read_items(stream: IO[bytes], max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Item]:
    number = 0
    while True:
        raw = stream.readline(max_line_bytes)
        if not raw:
            return
        number += 1
        if len(raw) == max_line_bytes and not raw.endswith(b"\n"):
            while (rest := stream.readline(max_line_bytes)) and not rest.endswith(b"\n"):
                pass
            yield Item(number, error=f"line is longer than {max_line_bytes} bytes; split it")
            continue
        yield parse_line(number, raw.rstrip(b"\r\n"))


def parse_line(number: int, raw: bytes) -> Item:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Item(number, error=f"line is not valid UTF-8 (byte {exc.start}); send UTF-8 text")
    if line.lstrip().startswith("{"):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None  # text that merely starts with a brace, e.g. code
        if isinstance(row, dict):
            text = row.get("text")
            if not isinstance(text, str):
                return Item(number, error='JSON object needs a "text" string')
            return Item(number, text=text, extra=row)
    return Item(number, text=line)


def classify_items(
    classifier: TaskClassifier,
    items: Sequence[Item],
    embed: Callable[[Sequence[str]], np.ndarray] | None,
) -> list[dict[str, Any]]:
    good = [item for item in items if item.error is None and item.text is not None]
    vectors: dict[int, np.ndarray] = {}
    if classifier.needs_embedding and good:
        if embed is None:
            raise InvalidParams(
                "this classifier needs sentence embeddings but no embedder is set up"
            )
        # The whole text, as the daemon embeds it: the embedder bounds what it reads.
        texts = [item.text or "" for item in good]
        for item, vector in zip(good, embed(texts), strict=True):
            vectors[item.line] = vector
    out = []
    for item in items:
        if item.error is not None or item.text is None:
            out.append({"line": item.line, "error": item.error})
            continue
        try:
            result = classifier.classify(item.text, vectors.get(item.line)).to_dict()
        except LocalForgeError as exc:
            out.append({"line": item.line, "error": exc.message})
            continue
        base = dict(item.extra) if item.extra is not None else {"text": item.text}
        out.append({**base, **result})
    return out


def write_json_line(stream: IO[bytes], value: Any) -> None:
    try:
        data = json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \ud800-style escapes in the input
        data = json.dumps(value, ensure_ascii=True).encode("ascii")
    stream.write(data + b"\n")


def run_stream(
    classifier: TaskClassifier,
    stdin: IO[bytes],
    stdout: IO[bytes],
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
) -> tuple[int, int]:
    """Classify every line; return (lines, errors)."""
    batch_size = EMBED_BATCH if classifier.needs_embedding else 1
    lines = errors = 0
    batch: list[Item] = []

    def flush() -> None:
        nonlocal errors
        for row in classify_items(classifier, batch, embed):
            errors += "error" in row and "task_type" not in row
            write_json_line(stdout, row)
        stdout.flush()
        batch.clear()

    for item in read_items(stdin):
        lines += 1
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return lines, errors


def cmd_classify(args: argparse.Namespace) -> int:
    paths, settings = _settings(args)
    section = settings.classifier
    path = args.artifact or artifact_path(section)
    classifier = TaskClassifier.load(
        path,
        min_confidence=section.min_confidence
        if args.min_confidence is None
        else args.min_confidence,
        max_chars=section.max_chars,
    )
    mismatch = embedding_mismatch(classifier, vectors_name(settings.embedding.model))
    if mismatch is not None:
        raise ConfigError(mismatch)
    embed = make_embed(settings, paths) if classifier.needs_embedding else None
    if args.text:
        text = " ".join(args.text)
        vector = embed([text])[0] if embed else None
        result = classifier.classify(text, vector)
        if args.json:
            sys.stdout.write(
                json.dumps({"text": text, **result.to_dict()}, ensure_ascii=False, indent=2) + "\n"
            )
        else:
            sys.stdout.write(f"{result.task_type}  {result.confidence:.2f}  ({result.reason})\n")
        return 0
    lines, errors = run_stream(classifier, sys.stdin.buffer, sys.stdout.buffer, embed)
    if errors:
        sys.stderr.write(f"lfd classify: {errors} of {lines} lines could not be classified\n")
        return 1
    return 0


# --- lfd train ----------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from localforge.routing import training
    from localforge.routing.embedding_cache import EmbeddingCache, embedding_cache_path

    paths, settings = _settings(args)
    features = args.features or settings.classifier.features
    data = args.data or training.default_data_files()
    eval_file = None if args.no_eval else (args.eval or training.default_eval_file())
    if eval_file is not None and args.eval is None and not eval_file.is_file():
        sys.stderr.write(f"lfd train: no eval file at {eval_file}; training without one\n")
        eval_file = None
    heldout = [] if args.no_heldout else (args.heldout or training.heldout_files())
    embed = None
    vectors = None  # what makes the vectors the artifact reads (none: TF-IDF alone)
    tokens = None
    graph = "float"
    if features == "tfidf+embedding":
        embedder = make_embedder(settings, paths)
        vectors = embedder.model_name
        tokens = embedder.max_tokens
        graph = embedder.graph_build
        cache = embedding_cache_path(paths.data_dir, vectors, tokens, graph)
        embed = EmbeddingCache(embedder.embed, cache)
    config = training.TrainConfig(
        features=features,
        max_features=args.max_features,
        char_ngram_range=None if args.no_char_ngrams else (2, 4),
        c=args.c,
        loso=not args.no_loso,
        calibrate_by_origin=not args.calibrate_per_row,
        drop_format_clauses=not args.keep_format_clauses,
        embedding_model=vectors,
        embedding_tokens=tokens,
        embedding_graph=graph,
    )
    result = training.train(data, eval_file, config, embed, heldout=heldout)
    out = args.out or paths.data_dir / "classifier" / artifacts.BUNDLED_NAMES[features]
    artifacts.save(result.artifact, out)
    sys.stdout.write(result.report + "\n")
    sys.stdout.write(f'\nwrote {out}; use it with: classifier.artifact = "{out}" in config.toml\n')
    return 0
