"""Decision latency per stage, in-process, with 0, 10k and 100k points in memory (1M with --full).

Each size gets a fresh data dir: SQLite holds N interactions with their vectors, the Qdrant Edge
index holds the same N points, optimised in a child process as the daemon does. The points are
corpus embeddings jittered into clusters (so HNSW sees realistic, clustered data), spread over five
models with outcomes. Then real decisions run through Router.route: the real task classifier, a
real fastembed embedding of each query, one Qdrant Edge search for top_k x models, the scorer, and
the SQLite commit of the interaction. The 0-point run is the baseline the ratios refer to.
After them, 50 decisions on pasted snippets of about 2,000 characters time the bounded
embedding window (the embedder reads a head-and-tail window of tokens, not the whole paste).

"decision" is what picks the model (classify + embed + search + score); "record" is the durable
SQLite commit that follows it; "index" is the background upsert of the decision's vector, waited
for before the next decision (a real decision is followed by seconds of generation, so the next
search never queues behind it). The embedding is also broken down by query length, and a second
table times the vector search alone (same store, called directly: no thread hop).

Usage: .venv/bin/python bench/route.py [--decisions 300] [--sizes 0,10000,100000] [--full]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from localforge.memory import interactions as repo
from localforge.memory.embedder import DEFAULT_MODEL, Embedder
from localforge.memory.interactions import Interaction
from localforge.memory.service import MemoryService
from localforge.routing.candidates import Candidate, StaticCandidates
from localforge.routing.router import Router
from localforge.settings import Settings
from localforge.storage.database import Database

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("classify", "embed", "search", "score", "decision", "decision - embed", "record", "index")
LENGTHS = ((0, 100), (100, 300), (300, 10**9))
LONG_DECISIONS = 50
MODELS = [
    Candidate(
        "tiny-1b",
        {"humaneval": 35, "gsm8k": 40, "mmlu_pro": 30, "mt_bench": 5.5},
        300.0,
        0.0,
        True,
    ),
    Candidate(
        "coder-7b",
        {"humaneval": 88, "gsm8k": 70, "mmlu_pro": 45, "mt_bench": 7.0},
        1500.0,
        3000.0,
    ),
    Candidate(
        "math-7b",
        {"humaneval": 55, "gsm8k": 89, "mmlu_pro": 50, "mt_bench": 6.8},
        1500.0,
        3000.0,
    ),
    Candidate(
        "general-8b",
        {"humaneval": 62, "gsm8k": 79, "mmlu_pro": 55, "mt_bench": 8.1},
        1700.0,
        3200.0,
    ),
    Candidate(
        "reasoner-14b",
        {"humaneval": 70, "gsm8k": 85, "mmlu_pro": 63, "mt_bench": 8.0},
        3000.0,
        6000.0,
    ),
]


def corpus() -> list[str]:
    texts = []
    for path in sorted((ROOT / "data").glob("*.jsonl")):
        texts.extend(
            json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()
        )
    return texts


def synthetic(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    picks = base[rng.integers(0, len(base), n)]
    noisy = picks + rng.normal(0.0, 0.02, picks.shape).astype(np.float32)
    normalised: np.ndarray = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(
        np.float32
    )
    return normalised


async def fill(
    memory: MemoryService, db: Database, vectors: np.ndarray, rng: np.random.Generator
) -> dict[str, float]:
    """Write N interactions to SQLite and the index in bulk, then optimise the index."""
    names = [m.name for m in MODELS]
    now = time.time()
    started = time.perf_counter()
    batch = 5000
    for start in range(0, len(vectors), batch):
        rows = [
            Interaction(
                request_id=str(uuid.uuid4()),
                created_at=now - float(rng.uniform(0, 60 * 86400)),
                kind="chat",
                query_text=None,
                query_hash="0" * 64,
                task_type="general",
                confidence=0.9,
                model=names[int(rng.integers(0, len(names)))],
                embedding=vectors[i],
                embedding_model=DEFAULT_MODEL,
                outcome=float(rng.random() < 0.6),
                outcome_kind="thumbs_up",
            )
            for i in range(start, min(start + batch, len(vectors)))
        ]
        await db.run(lambda conn, rows=rows: repo.insert(conn, rows))  # type: ignore[misc]
        points = [p for p in (r.point() for r in rows) if p is not None]
        await memory.in_store(lambda points=points: memory.store.upsert(points))  # type: ignore[misc]
    written = time.perf_counter() - started
    started = time.perf_counter()
    optimised = await memory.optimize_if_needed(minimum=1) if len(vectors) else False
    return {"write_s": written, "optimise_s": time.perf_counter() - started if optimised else 0.0}


async def measure(
    size: int, base: np.ndarray, queries: list[str], decisions: int, embedder: Embedder
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"lf-bench-{size}-"))
    rng = np.random.default_rng(size)
    # No background maintenance: the index is optimised once, explicitly, after the bulk load.
    settings = Settings.model_validate(
        {"memory": {"optimize_interval_s": 1e9, "retention_interval_s": 1e9}}
    )
    db = Database(work / "bench.db", settings.storage)
    db.open()
    memory = MemoryService(db, work, lambda: settings, embedder=lambda s, c: embedder)
    try:
        await memory.start()
        while memory.state != "ready":
            await asyncio.sleep(0.01)
        build = await fill(memory, db, synthetic(base, size, rng), rng)
        try:
            from localforge.routing.classifier import TaskClassifier

            classifier: Any = TaskClassifier.load()
        except Exception as exc:
            print(f"(no task classifier: {exc})", file=sys.stderr)
            classifier = None
        router = Router(
            memory,
            StaticCandidates(MODELS),
            lambda: settings,
            (lambda: classifier) if classifier else None,
        )
        for text in queries[:20]:  # warm up caches and threads
            await router.route(text, record=False)
        stages: dict[str, list[float]] = {s: [] for s in STAGES}
        by_length: dict[tuple[int, int], list[float]] = {span: [] for span in LENGTHS}
        neighbours = []
        for i in range(decisions):
            text = queries[i % len(queries)]
            decision = await router.route(text)
            t0 = time.perf_counter()
            await memory.in_store(lambda: None)  # the background upsert of this decision
            timings = dict(decision.trace["timings_ms"])
            timings["index"] = (time.perf_counter() - t0) * 1000
            timings["decision"] = sum(timings[s] for s in ("classify", "embed", "search", "score"))
            timings["decision - embed"] = timings["decision"] - timings["embed"]
            for stage in STAGES:
                stages[stage].append(timings[stage])
            span = next(s for s in LENGTHS if s[0] <= len(text) < s[1])
            by_length[span].append(timings["embed"])
            neighbours.append(decision.trace["neighbours"])
        long_stages: dict[str, list[float]] = {s: [] for s in ("embed", "decision")}
        for i in range(LONG_DECISIONS):
            # A pasted snippet of about 2,000 characters with the question at the end.
            pasted = " ".join(queries[(i * 7 + j) % len(queries)] for j in range(40))
            text = pasted[:1950] + f"\nWhat is wrong here? ({i})"
            decision = await router.route(text, record=False)
            timings = decision.trace["timings_ms"]
            long_stages["embed"].append(timings["embed"])
            long_stages["decision"].append(
                sum(timings[s] for s in ("classify", "embed", "search", "score"))
            )
        store = memory.store
        limit = settings.memory.top_k * len(MODELS)
        names = [m.name for m in MODELS]
        probe = synthetic(base, 500, rng)
        raw = []
        for vector in probe:
            t0 = time.perf_counter()
            store.search(vector, limit, names)
            raw.append((time.perf_counter() - t0) * 1000)
        points = await memory.in_store(store.count)
        return {
            "size": size,
            "points": points,
            "stages": {s: np.array(v) for s, v in stages.items()},
            "by_length": by_length,
            "raw_search": np.array(raw),
            "long": {k: np.array(v) for k, v in long_stages.items()},
            "neighbours": float(np.mean(neighbours)),
            **build,
        }
    finally:
        await memory.stop()
        db.close()
        shutil.rmtree(work, ignore_errors=True)


def pct(values: np.ndarray) -> str:
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return f"{p50:7.2f} {p95:7.2f} {p99:7.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=300)
    parser.add_argument("--sizes", default="0,10000,100000")
    parser.add_argument(
        "--full", action="store_true", help="also 1,000,000 points (long: index build)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.full else [])
    texts = corpus()
    rng = np.random.default_rng(0)
    queries = [texts[i] for i in rng.permutation(len(texts))]
    cache = Path(tempfile.mkdtemp(prefix="lf-bench-emb-"))
    try:
        # No vector cache: every decision embeds its query, as a new query would be.
        embedder = Embedder(DEFAULT_MODEL, cache, cache_size=0)
        base = embedder.embed(texts)
        results = [
            asyncio.run(measure(size, base, queries, args.decisions, embedder)) for size in sizes
        ]
    finally:
        shutil.rmtree(cache, ignore_errors=True)

    print(f"decision latency per stage, ms (p50 p95 p99), {args.decisions} decisions per size")
    for r in results:
        build = (
            f"write {r['write_s']:.1f}s, optimise {r['optimise_s']:.1f}s" if r["size"] else "empty"
        )
        print(
            f"\n{r['size']:,} points in memory ({r['points']:,} indexed; {build}; "
            f"{r['neighbours']:.0f} neighbours per decision)"
        )
        for stage in STAGES:
            print(f"  {stage:<17}{pct(r['stages'][stage])}")
        for (low, high), values in r["by_length"].items():
            label = f"embed {low}-{high}" if high < 10**9 else f"embed {low}+"
            if values:
                print(f"  {label:<17}{pct(np.array(values))}  ({len(values)} queries, chars)")
        print(f"  search alone     {pct(r['raw_search'])}  (no thread hop)")
        for stage, values in r["long"].items():
            print(f"  {stage + ' 2000ch':<17}{pct(values)}  ({len(values)} pasted snippets)")
    base_total = np.percentile(results[0]["stages"]["decision"], 99)
    base_search = np.percentile(results[0]["raw_search"], 99)
    print("\nratios of p99 against the 0-point baseline")
    for r in results[1:]:
        total = np.percentile(r["stages"]["decision"], 99)
        search = np.percentile(r["raw_search"], 99)
        print(
            f"  {r['size']:>9,} points: decision {total / base_total:.2f}x, "
            f"search alone {search / base_search:.2f}x"
        )
    if not args.full:
        print(
            "\n1,000,000 points skipped (run with --full): building its HNSW index takes "
            "too long on this 2-core machine"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
