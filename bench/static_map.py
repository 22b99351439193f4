"""Fit the static embedding's map: pooled static vectors → MiniLM's vectors of the same texts.

    .venv/bin/python bench/static_map.py [--ridge 1.0] [--write]

The fit reads the training corpus only (``lfd train``'s files, MiniLM vectors cached as
``lfd train`` caches them); the dev and held-out files are the texts it is judged on: the
mean cosine between a text's static and MiniLM vectors, and how often the 10 nearest corpus
texts vote the right task label, before and after the map. ``--write`` replaces the shipped
map (``daemon/localforge/memory/artifacts/``); a changed map needs a new ``MAP_VERSION``, so
that indexes built on the old one's vectors are rebuilt.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter

import numpy as np

from localforge.memory.embedder import (
    CACHE_DIR,
    DEFAULT_MODEL,
    DEFAULT_MODEL_DIR,
    Embedder,
    assemble_default_model,
)
from localforge.memory.static_embedding import (
    MAP_FILE,
    StaticTable,
    fit_map,
    save_map,
)
from localforge.paths import Paths
from localforge.routing import training
from localforge.routing.embedding_cache import EmbeddingCache, embedding_cache_path

K = 10


def knn_vote(memory: np.ndarray, labels: list[str], queries: np.ndarray, truth: list[str]) -> float:
    top = np.argpartition(-(queries @ memory.T), K, axis=1)[:, :K]
    votes = [Counter(labels[i] for i in row).most_common(1)[0][0] for row in top]
    return float(np.mean([v == t for v, t in zip(votes, truth, strict=True)]))


def unit(rows: np.ndarray) -> np.ndarray:
    out: np.ndarray = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ridge", type=float, default=1.0)
    parser.add_argument("--write", action="store_true", help=f"write the map to {MAP_FILE}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    data_dir = Paths.from_env().data_dir
    fit_rows = [e for p in training.default_data_files() for e in training.read_examples(p)]
    judged = [
        e
        for p in [training.default_eval_file(), *training.heldout_files()]
        if p.is_file()
        for e in training.read_examples(p)
    ]
    minilm = Embedder(DEFAULT_MODEL, data_dir / CACHE_DIR, cache_size=0)
    cache = EmbeddingCache(
        minilm.embed,
        embedding_cache_path(data_dir, DEFAULT_MODEL, minilm.max_tokens, minilm.graph_build),
    )
    fit_targets = cache([e.text for e in fit_rows])
    judged_targets = cache([e.text for e in judged])
    model_dir = assemble_default_model(data_dir / CACHE_DIR / DEFAULT_MODEL_DIR)
    static = StaticTable.load_or_build(data_dir / CACHE_DIR, model_dir, mapped=False)
    fit_pooled = static.pooled([e.text for e in fit_rows])
    judged_pooled = static.pooled([e.text for e in judged])
    matrix = fit_map(fit_pooled, fit_targets, args.ridge)
    labels = [e.label for e in fit_rows]
    truth = [e.label for e in judged]
    print(f"fitted on {len(fit_rows)} corpus texts, judged on {len(judged)} dev + held-out texts")
    print(f"  {'vectors':<22}{'cosine to MiniLM':>18}{'10-NN vote right':>18}")
    for name, memory, queries in (
        ("static, no map", fit_pooled, judged_pooled),
        (
            f"static, map (ridge {args.ridge:g})",
            unit(fit_pooled @ matrix),
            unit(judged_pooled @ matrix),
        ),
        ("MiniLM", fit_targets, judged_targets),
    ):
        cosine = float(np.mean(np.sum(queries * judged_targets, axis=1)))
        print(f"  {name:<22}{cosine:>18.3f}{knn_vote(memory, labels, queries, truth):>18.3f}")
    if args.write:
        save_map(matrix)
        print(f"wrote {MAP_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
