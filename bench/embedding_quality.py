"""The static embedding against MiniLM: speed, and what routing loses (memory and classifier).

    .venv/bin/python bench/embedding_quality.py [--loso] [--queries 300]

Both embeddings embed the same texts in the same run. Speed: one query per call, by length
(cache off). Memory quality: the training texts play the memory; for each held-out and dev
query the 10 nearest memories vote for a task label (how often the vote is right is what
the memory signal can learn from), and the overlap of the two embeddings' neighbour lists is
shown. Classifier quality: the same TF-IDF + embedding classifier trained on each embedding
(``lfd train``'s code), scored on the dev file and the held-out files; ``--loso`` adds the
leave-one-source-out estimate (several minutes per embedding). The MiniLM vectors are cached
under the data dir as ``lfd train`` caches them.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from localforge.memory.embedder import CACHE_DIR, DEFAULT_MODEL, Embedder
from localforge.memory.static_embedding import STATIC_MODEL
from localforge.paths import Paths
from localforge.routing import training
from localforge.routing.corpus import Example
from localforge.routing.embedding_cache import EmbeddingCache, embedding_cache_path

LENGTHS = ((0, 100), (100, 300), (300, 1000), (1000, 10**9))
K = 10


def timed(embedder: Embedder, texts: list[str]) -> dict[tuple[int, int], np.ndarray]:
    spans: dict[tuple[int, int], list[float]] = {span: [] for span in LENGTHS}
    for text in texts[:20]:
        embedder.embed_one(text)
    for text in texts:
        started = time.perf_counter()
        embedder.embed_one(text)
        elapsed = (time.perf_counter() - started) * 1000
        spans[next(s for s in LENGTHS if s[0] <= len(text) < s[1])].append(elapsed)
    return {span: np.array(v) for span, v in spans.items() if v}


def knn_accuracy(
    memory: np.ndarray, labels: list[str], queries: np.ndarray, truth: list[str]
) -> tuple[float, np.ndarray]:
    sims = queries @ memory.T
    top = np.argpartition(-sims, K, axis=1)[:, :K]
    right = 0
    for row, want in zip(top, truth, strict=True):
        vote = Counter(labels[i] for i in row).most_common(1)[0][0]
        right += vote == want
    return right / len(truth), top


def corpus_rows() -> tuple[list[Example], list[Example]]:
    """The training corpus (the memory) and the dev + held-out files (the queries judged)."""
    memory = [e for p in training.default_data_files() for e in training.read_examples(p)]
    queries = [
        e
        for p in [training.default_eval_file(), *training.heldout_files()]
        if p.is_file()
        for e in training.read_examples(p)
    ]
    return memory, queries


def classifier_metrics(embed: Any, loso: bool) -> dict[str, Any]:
    config = training.TrainConfig(features="tfidf+embedding", loso=loso)
    result = training.train(
        training.default_data_files(),
        training.default_eval_file(),
        config,
        embed,
        heldout=training.heldout_files(),
    )
    m = result.metrics
    out = {
        "dev accuracy": m["dev"]["accuracy"],
        "held-out accuracy": m["heldout"]["accuracy"],
        "held-out balanced": m["heldout"]["balanced_accuracy"],
    }
    if "loso" in m:
        out["LOSO balanced"] = m["loso"]["balanced_accuracy"]
    return out


def pct(values: np.ndarray) -> str:
    return " ".join(f"{v:7.3f}" for v in np.percentile(values, [50, 95, 99]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loso", action="store_true", help="also leave-one-source-out (slow)")
    parser.add_argument("--queries", type=int, default=300, help="queries timed per embedding")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    data_dir = Paths.from_env().data_dir
    memory_rows, query_rows = corpus_rows()
    memory_texts = [e.text for e in memory_rows]
    rng = np.random.default_rng(0)
    timing_texts = [memory_texts[i] for i in rng.permutation(len(memory_texts))[: args.queries]]
    long_text = " ".join(memory_texts[:200])[:1990] + " Why?"
    timing_texts += [long_text + f" ({i})" for i in range(20)]

    results: dict[str, dict[str, Any]] = {}
    neighbours: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="lf-quality-") as tmp:
        for name in (DEFAULT_MODEL, STATIC_MODEL):
            started = time.perf_counter()
            embedder = Embedder(name, data_dir / CACHE_DIR, cache_size=0)
            load_s = time.perf_counter() - started
            cache_path = (
                embedding_cache_path(data_dir, name, embedder.max_tokens, embedder.graph_build)
                if name == DEFAULT_MODEL
                else Path(tmp) / "static.npz"  # microseconds to recompute: not worth a file
            )
            embed = EmbeddingCache(embedder.embed, cache_path)
            started = time.perf_counter()
            memory = embed(memory_texts)
            queries = embed([e.text for e in query_rows])
            embed_all_s = time.perf_counter() - started
            accuracy, top = knn_accuracy(
                memory, [e.label for e in memory_rows], queries, [e.label for e in query_rows]
            )
            neighbours[name] = top
            results[name] = {
                "load_s": load_s,
                "embed_all_s": embed_all_s,
                "timing": timed(embedder, timing_texts),
                "knn": accuracy,
                "classifier": classifier_metrics(embed, args.loso),
            }
    overlap = np.mean(
        [
            len(set(a) & set(b)) / K
            for a, b in zip(neighbours[DEFAULT_MODEL], neighbours[STATIC_MODEL], strict=True)
        ]
    )
    print(f"{len(memory_texts)} memory texts, {len(query_rows)} queries (dev + held-out)\n")
    print("embedding one query, ms (p50 p95 p99), cache off, same run")
    for name, r in results.items():
        print(f"  {name}  (load {r['load_s']:.2f} s)")
        for (low, high), values in r["timing"].items():
            label = f"{low}-{high} chars" if high < 10**9 else f"{low}+ chars"
            print(f"    {label:<16}{pct(values)}  ({len(values)} queries)")
    base = results[DEFAULT_MODEL]["timing"]
    fast = results[STATIC_MODEL]["timing"]
    ratios = ", ".join(
        f"{low}+: {np.percentile(base[s], 50) / np.percentile(fast[s], 50):.0f}x"
        for s in base
        if s in fast
        for low in [s[0]]
    )
    print(f"  static is faster at p50 by {ratios}")
    print(f"\nmemory: {K} nearest memories vote a label")
    for name, r in results.items():
        print(f"  {name:<40} right {r['knn']:.4f}")
    print(f"  neighbours shared by the two embeddings: {overlap:.1%}")
    print("\nclassifier trained on each embedding (TF-IDF + embedding, same data and settings)")
    for name, r in results.items():
        shown = ", ".join(f"{k} {v:.4f}" for k, v in r["classifier"].items())
        print(f"  {name:<40} {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
