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

import numpy as np
from embedding_quality import corpus_rows, knn_accuracy  # bench/ is on the path as a script

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
    unit_rows,
)
from localforge.paths import Paths
from localforge.routing.embedding_cache import EmbeddingCache, embedding_cache_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ridge", type=float, default=1.0)
    parser.add_argument("--write", action="store_true", help=f"write the map to {MAP_FILE}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    data_dir = Paths.from_env().data_dir
    fit_rows, judged = corpus_rows()
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
            unit_rows(fit_pooled @ matrix),
            unit_rows(judged_pooled @ matrix),
        ),
        ("MiniLM", fit_targets, judged_targets),
    ):
        cosine = float(np.mean(np.sum(queries * judged_targets, axis=1)))
        vote, _ = knn_accuracy(memory, labels, queries, truth)
        print(f"  {name:<22}{cosine:>18.3f}{vote:>18.3f}")
    if args.write:
        save_map(matrix)
        print(f"wrote {MAP_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
