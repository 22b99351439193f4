"""Task classifier latency, load time and memory, against scikit-learn in the same run.

    .venv/bin/python bench/classify.py [--n 3000] [--no-embedding]

Queries: the routing corpus dev split when present, else the repository's data/ files,
keeping texts of 10–300 characters. The baseline is scikit-learn's TfidfVectorizer +
LogisticRegression rebuilt from the same artifact arrays (identical predictions), timed
on one query per call as the daemon would call it.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from localforge.routing import artifact as artifacts
from localforge.routing import training
from localforge.routing.classifier import LABELS, TaskClassifier


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * 4096 / 2**20


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = np.array(samples_s) * 1000
    return {f"p{p}": float(np.percentile(ms, p)) for p in (50, 90, 99)} | {"max": float(ms.max())}


def show(name: str, stats: dict[str, float]) -> None:
    parts = "  ".join(f"{key} {value:8.4f}" for key, value in stats.items())
    print(f"{name:<44}{parts}  ms")


def time_each(fn: Callable[[str], Any], texts: list[str], repeat: int = 1) -> list[float]:
    samples = []
    for _ in range(repeat):
        for text in texts:
            start = time.perf_counter()
            fn(text)
            samples.append(time.perf_counter() - start)
    return samples


def queries(limit: int) -> list[str]:
    dev = training.default_eval_file()
    files = [dev] if dev.is_file() else training.own_data_files()
    texts = [
        e.text for path in files for e in training.read_examples(path) if 10 <= len(e.text) <= 300
    ]
    rng = np.random.default_rng(0)
    rng.shuffle(texts)
    print(f"queries: {len(texts)} texts of 10-300 chars from {', '.join(p.name for p in files)}")
    return (texts * (limit // max(len(texts), 1) + 1))[:limit]


def sklearn_baseline(art: artifacts.Artifact) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    tokens = art.metadata["tokenizer"]
    vectorizer = TfidfVectorizer(
        token_pattern=tokens["token_pattern"],
        ngram_range=tuple(tokens["ngram_range"]),
        sublinear_tf=tokens["sublinear_tf"],
        vocabulary={term: i for i, term in enumerate(art.vocabulary.tolist())},
    )
    vectorizer.idf_ = art.idf
    model = LogisticRegression()
    model.classes_ = np.array(LABELS)
    model.coef_ = art.coef[:, : len(art.vocabulary)]
    model.intercept_ = art.intercept
    return make_pipeline(vectorizer, model)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--artifact", type=Path, default=artifacts.bundled_path())
    parser.add_argument("--no-embedding", action="store_true")
    args = parser.parse_args()

    gc.collect()
    before = rss_mib()
    start = time.perf_counter()
    classifier = TaskClassifier.load(args.artifact)
    first_load = time.perf_counter() - start
    added = rss_mib() - before
    loads = time_each(lambda _: TaskClassifier.load(args.artifact), [""] * 10)
    print(f"artifact {classifier.version} ({classifier.features}) from {args.artifact}")
    show("artifact load (first, incl. page cache)", {"time": first_load * 1000})
    show("artifact load (again)", percentiles(loads))
    print(f"{'resident memory added by the classifier':<44}{added:8.2f} MiB")

    texts = queries(args.n)
    if classifier.needs_embedding:
        print("artifact needs embeddings: timing its TF-IDF part with a zero vector")
        zero = np.zeros(int(classifier.metadata["embedding"]["dim"]))
        ours: Callable[[str], Any] = lambda t: classifier.classify(t, zero)  # noqa: E731
    else:
        ours = classifier.classify
    for text in texts[:200]:  # warm-up
        ours(text)
    fast = percentiles(time_each(ours, texts))
    show("hot path classify(), 10-300 chars", fast)

    baseline = sklearn_baseline(artifacts.load(args.artifact))
    if not classifier.needs_embedding:
        worst = 0.0
        for text in texts[:200]:
            logits = classifier.scores(text)
            if logits is not None:
                ours_raw = training.softmax(logits[None, :])[0]
                worst = max(
                    worst, float(np.abs(baseline.predict_proba([text])[0] - ours_raw).max())
                )
        print(f"max |p_sklearn - p_hot| (before temperature) over 200 queries: {worst:.2e}")
    sample = texts[: min(len(texts), 1000)]
    for text in sample[:50]:
        baseline.predict_proba([text])
    slow = percentiles(time_each(lambda t: baseline.predict_proba([t]), sample))
    show("sklearn predict_proba, 1 query/call", slow)
    print(
        f"speed-up at p50: {slow['p50'] / fast['p50']:.1f}x   "
        f"at p99: {slow['p99'] / fast['p99']:.1f}x"
    )

    big = ("def handler(event):\n    return event['body']  # fix this KeyError\n" * 2000)[:100_000]
    show("100 KB input, truncated to max_chars=4000", percentiles(time_each(ours, [big] * 50)))
    unbounded = TaskClassifier.load(args.artifact, max_chars=10**9)
    unbounded_fn: Callable[[str], Any] = (
        (lambda t: unbounded.classify(t, zero))
        if classifier.needs_embedding
        else unbounded.classify  # type: ignore[assignment]
    )
    show("100 KB input, no truncation", percentiles(time_each(unbounded_fn, [big] * 20)))

    if not args.no_embedding:
        bench_embedding(texts[:300], big)
    return 0


def bench_embedding(texts: list[str], big: str) -> None:
    try:
        from localforge.memory.embedder import DEFAULT_MODEL, Embedder

        with tempfile.TemporaryDirectory() as tmp:
            embedder = Embedder(DEFAULT_MODEL, Path(tmp), max_chars=2000)
            for text in texts[:20]:
                embedder.embed_one(text)
            show(
                "embedding (MiniLM int8), 10-300 chars",
                percentiles(time_each(embedder.embed_one, texts)),
            )
            show(
                "embedding, 100 KB input cut to 2000 chars",
                percentiles(time_each(embedder.embed_one, [big] * 10)),
            )
    except Exception as exc:  # the embedder is optional for this benchmark
        print(f"embedding not measured: {exc}")
    median = statistics.median(len(t) for t in texts)
    print(f"median query length {median:.0f} chars")


if __name__ == "__main__":
    sys.exit(main())
