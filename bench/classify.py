"""Task classifier latency, load time and memory, against scikit-learn in the same run.

    .venv/bin/python bench/classify.py [--n 3000] [--no-embedding]
    .venv/bin/python bench/classify.py --batch 1740 [--batch-chars 565]

``--batch N`` times ``lfd classify`` itself (one process, N JSON lines on stdin) for the
default artifact (TF-IDF + embedding, so N embeddings in batches) against the TF-IDF artifact
(no embedding) in the same run: wall time, lines per second and peak resident memory.

Queries: the routing corpus dev split when present, else the repository's data/ files,
keeping texts of 10–300 characters. The baseline is scikit-learn's TfidfVectorizers (word
and character n-grams) + LogisticRegression rebuilt from the same artifact arrays (identical
predictions), timed on one query per call as the daemon would call it. The embedding is timed
by query length, with the bounded token window against the whole text.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import resource
import statistics
import subprocess
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
from localforge.routing.answer_format import split_format
from localforge.routing.classifier import LABELS, TaskClassifier, char_ngrams


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
    """scikit-learn's vectorizers and LogisticRegression holding the artifact's arrays."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    tokens = art.metadata["tokenizer"]
    words = TfidfVectorizer(
        token_pattern=tokens["token_pattern"],
        ngram_range=tuple(tokens["ngram_range"]),
        sublinear_tf=tokens["sublinear_tf"],
        vocabulary={term: i for i, term in enumerate(art.vocabulary.tolist())},
    )
    words.idf_ = art.idf
    parts: list[tuple[str, Any]] = [("words", words)]
    chars = tokens.get("char")
    if chars:
        low, high = chars["ngram_range"]
        char_vectorizer = TfidfVectorizer(
            analyzer=functools.partial(char_ngrams, low=low, high=high, window=chars["window"]),
            sublinear_tf=tokens["sublinear_tf"],
            vocabulary={gram: i for i, gram in enumerate(art.char_vocabulary.tolist())},
        )
        char_vectorizer.idf_ = art.char_idf
        parts.append(("chars", char_vectorizer))
    n_text = len(art.vocabulary) + len(art.char_vocabulary)
    model = LogisticRegression()
    model.classes_ = np.array(LABELS)
    model.coef_ = art.coef[:, :n_text]
    model.intercept_ = art.intercept
    weights = {"chars": chars["weight"]} if chars else None
    steps: list[Any] = [FeatureUnion(parts, transformer_weights=weights), model]
    if tokens.get("format_clauses"):  # the task without its answer-format clauses, as served
        steps.insert(0, FunctionTransformer(lambda texts: [split_format(t)[0] for t in texts]))
    return make_pipeline(*steps)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--artifact", type=Path, default=artifacts.bundled_path())
    parser.add_argument("--no-embedding", action="store_true")
    parser.add_argument("--batch", type=int, help="time `lfd classify` over this many lines")
    parser.add_argument("--batch-chars", type=int, default=565, help="their mean length")
    args = parser.parse_args()
    if args.batch:
        return bench_batch(args.batch, args.batch_chars)

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
    """Embedding latency by query length: the bounded token window against the full model."""
    try:
        from localforge.memory.embedder import DEFAULT_MAX_TOKENS, DEFAULT_MODEL, Embedder

        with tempfile.TemporaryDirectory() as tmp:
            bounded = Embedder(DEFAULT_MODEL, Path(tmp), max_chars=2000, cache_size=0)
            full = Embedder(DEFAULT_MODEL, Path(tmp), max_chars=2000, max_tokens=512, cache_size=0)
            for text in texts[:20]:
                bounded.embed_one(text)
                full.embed_one(text)
            show(
                f"embedding (MiniLM int8, {DEFAULT_MAX_TOKENS} tokens), 10-300 chars",
                percentiles(time_each(bounded.embed_one, texts)),
            )
            prose = " ".join(texts)
            for length in (100, 500, 1000, 2000):
                query = (prose * (length // max(len(prose), 1) + 1))[:length]
                ours = percentiles(time_each(bounded.embed_one, [query] * 15))
                whole = percentiles(time_each(full.embed_one, [query] * 15))
                show(f"embed {length} chars, {DEFAULT_MAX_TOKENS}-token window", ours)
                show(f"embed {length} chars, whole (up to 512 tokens)", whole)
                print(f"{'':<44}window is {whole['p50'] / ours['p50']:.1f}x faster at p50")
            show(
                "embedding, 100 KB input (window)",
                percentiles(time_each(bounded.embed_one, [big] * 10)),
            )
            cached = Embedder(DEFAULT_MODEL, Path(tmp), max_chars=2000)
            cached.embed_one(big)
            show(
                "embedding, 100 KB input again (cache hit)",
                percentiles(time_each(cached.embed_one, [big] * 50)),
            )
    except Exception as exc:  # the embedder is optional for this benchmark
        print(f"embedding not measured: {exc}")
    median = statistics.median(len(t) for t in texts)
    print(f"median query length {median:.0f} chars")


def batch_prompts(n: int, mean_chars: int) -> list[str]:
    """``n`` prompts from the training data, joined up to lengths spread around ``mean_chars``."""
    texts = [e.text for path in training.own_data_files() for e in training.read_examples(path)]
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        want = int(rng.uniform(0.1, 1.9) * mean_chars)
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < want:
            parts.append(texts[int(rng.integers(0, len(texts)))])
        out.append(" ".join(parts)[: max(want, 1)])
    return out


def run_lfd_classify(lines: bytes, artifact: Path | None) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak resident MiB and output lines of one `lfd classify`."""
    command = [sys.executable, "-m", "localforge.cli.main", "classify"]
    if artifact is not None:
        command += ["--artifact", str(artifact)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[1] / "daemon"), env.get("PYTHONPATH", "")]
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, input=lines, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    if result.returncode != 0:
        raise SystemExit(f"lfd classify failed: {result.stderr.decode(errors='replace')[-800:]}")
    return elapsed, cpu, usage.ru_maxrss / 1024, result.stdout.count(b"\n")


def bench_batch(n: int, mean_chars: int) -> int:
    prompts = batch_prompts(n, mean_chars)
    lines = b"".join(json.dumps({"text": p}).encode() + b"\n" for p in prompts)
    mean = statistics.mean(len(p) for p in prompts)
    print(f"`lfd classify` over {n} JSON lines of {mean:.0f} chars on average, one process each")
    # The TF-IDF run goes first: RUSAGE_CHILDREN keeps the largest child's peak so far.
    plain_s, plain_cpu, plain_mib, plain_n = run_lfd_classify(
        lines, artifacts.bundled_path("tfidf")
    )
    full_s, full_cpu, full_mib, full_n = run_lfd_classify(lines, None)
    assert plain_n == full_n == n, (plain_n, full_n)
    print(f"  (load average {os.getloadavg()[0]:.1f}; CPU seconds do not grow with the load)")
    for name, seconds, cpu, mib in (
        ("TF-IDF artifact (no embedding)", plain_s, plain_cpu, plain_mib),
        ("default artifact (TF-IDF + embedding)", full_s, full_cpu, full_mib),
    ):
        print(
            f"  {name:<40}{seconds:7.1f} s  {cpu:7.1f} CPU s  {n / seconds:7.1f} lines/s  "
            f"peak {mib:6.0f} MiB"
        )
    cost = full_s - plain_s
    print(f"  the embeddings cost {cost:.1f} s ({cost / n * 1000:.1f} ms a line)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
