"""Decision latency per stage, in-process, with 0, 10k and 100k points in memory (1M with --full).

Each size gets a fresh data dir: SQLite holds N interactions with their vectors, the Qdrant Edge
index holds the same N points, optimised in a child process as the daemon does. The points are
corpus embeddings jittered into clusters (so HNSW sees realistic, clustered data), spread over five
models with outcomes. Then real decisions run through Router.route: the real task classifier, a
real embedding of each query, one Qdrant Edge search for top_k x models, the scorer, and the
SQLite commit of the interaction. The 0-point run is the baseline the ratios refer to. As in the
daemon, the heap left by start-up is frozen out of the cyclic GC before the decisions
(``--no-gc-freeze`` leaves it in); the GC's pauses during each decision are reported.
After them, pasted snippets of about 2,000 characters time the bounded embedding window.

"decision" is what picks the model (classify + embed + search + score); "record" is the durable
SQLite commit that follows it; "index" is the background upsert of the decision's vector, waited
for before the next decision (a real decision is followed by seconds of generation, so the next
search never queues behind it). Every stage is also broken down by query length. The vector
search has two baselines in the same run: called directly (no thread hop) and through the
memory service's store thread, as the decision calls it, but with no embedding before it.

Usage: .venv/bin/python bench/route.py [--decisions 300] [--sizes 0,10000,100000] [--full]
       [--quick] [--embedding MODEL] [--threads N] [--compute auto|float] [--no-gc-freeze]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from localforge.memory import interactions as repo
from localforge.memory.embedder import CACHE_DIR, DEFAULT_MODEL, Embedder
from localforge.memory.service import MemoryService
from localforge.paths import Paths
from localforge.routing import artifact as artifacts
from localforge.routing.candidates import Candidate, StaticCandidates
from localforge.routing.classifier import TaskClassifier, artifact_path
from localforge.routing.router import Router
from localforge.settings import Settings
from localforge.storage.database import Database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.interactions import rated_chat  # noqa: E402

STAGES = (
    "classify",
    "embed",
    "search",
    "score",
    "decision",
    "decision - embed",
    "record",
    "index",
    "gc",
)
LENGTHS = {"short": (0, 100), "medium": (100, 1000), "long": (1000, 10**9)}
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
            rated_chat(
                created_at=now - float(rng.uniform(0, 60 * 86400)),
                task_type="general",
                model=names[int(rng.integers(0, len(names)))],
                vector=vectors[i],
                embedding_model=DEFAULT_MODEL,
                success=bool(rng.random() < 0.6),
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


class GcPauses:
    """Time spent in the cyclic GC (any thread), read as a running total."""

    def __init__(self) -> None:
        self.total_ms = 0.0
        self.full = 0  # collections of the oldest generation
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total_ms += (time.perf_counter() - self._started) * 1000
            self.full += info.get("generation") == 2


def long_query(queries: list[str], i: int) -> str:
    """A pasted snippet of about 2,000 characters with the question at the end."""
    pasted = " ".join(queries[(i * 7 + j) % len(queries)] for j in range(40))
    return pasted[:1950] + f"\nWhat is wrong here? ({i})"


def length_class(text: str) -> str:
    return next(name for name, (low, high) in LENGTHS.items() if low <= len(text) < high)


async def measure(
    size: int,
    base: np.ndarray,
    queries: list[str],
    args: argparse.Namespace,
    embedder: Embedder,
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
    pauses = GcPauses()
    try:
        await memory.start()
        while memory.state != "ready":
            await asyncio.sleep(0.01)
        build = await fill(memory, db, synthetic(base, size, rng), rng)
        # The daemon's default artifact (TF-IDF + the MiniLM embedding); another embedding
        # gets the TF-IDF artifact, as the classifier's coefficients read MiniLM vectors.
        path = artifact_path(settings.classifier)
        if embedder.model_name != DEFAULT_MODEL:
            path = artifacts.bundled_path("tfidf")
        classifier = TaskClassifier.load(path)
        router = Router(
            memory,
            StaticCandidates(MODELS),
            lambda: settings,
            lambda: classifier,
        )
        for text in queries[-20:]:  # warm up threads (texts the decisions never route)
            await router.route(text, record=False)
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
        gc.callbacks.append(pauses)
        samples: dict[str, dict[str, list[float]]] = {
            name: {s: [] for s in STAGES} for name in LENGTHS
        }
        neighbours = []
        texts = [queries[i % len(queries)] for i in range(args.decisions)]
        texts += [long_query(queries, i) for i in range(args.long)]
        for text in texts:
            gc_before = pauses.total_ms
            decision = await router.route(text, record=args.record)
            t0 = time.perf_counter()
            await memory.in_store(lambda: None)  # the background upsert of this decision
            timings = dict(decision.trace["timings_ms"])
            timings["index"] = (time.perf_counter() - t0) * 1000
            timings["decision"] = sum(timings[s] for s in ("classify", "embed", "search", "score"))
            timings["decision - embed"] = timings["decision"] - timings["embed"]
            timings["gc"] = pauses.total_ms - gc_before
            for stage in STAGES:
                samples[length_class(text)][stage].append(timings[stage])
            neighbours.append(decision.trace["neighbours"])
        full_collections = pauses.full
        gc.callbacks.remove(pauses)
        store = memory.store
        limit = settings.memory.top_k * len(MODELS)
        names = [m.name for m in MODELS]
        probe = synthetic(base, args.probes, rng)
        vectors = embedder.embed(texts[: args.probes])  # the decisions' own query vectors
        direct, hop, same = [], [], []
        for i, vector in enumerate(probe):  # alternated, so that all see the same load
            t0 = time.perf_counter()
            store.search(vector, limit, names)
            t1 = time.perf_counter()
            await memory.search(vector, limit, names)
            t2 = time.perf_counter()
            store.search(vectors[i % len(vectors)], limit, names)
            t3 = time.perf_counter()
            direct.append((t1 - t0) * 1000)
            hop.append((t2 - t1) * 1000)
            same.append((t3 - t2) * 1000)
        points = await memory.in_store(store.count)
        return {
            "size": size,
            "points": points,
            "stages": {
                name: {s: np.array(v) for s, v in stages.items()}
                for name, stages in samples.items()
            },
            "search_direct": np.array(direct),
            "search_hop": np.array(hop),
            "search_same": np.array(same),
            "neighbours": float(np.mean(neighbours)),
            "full_gc": full_collections,
            **build,
        }
    finally:
        if pauses in gc.callbacks:
            gc.callbacks.remove(pauses)
        if args.gc_freeze:
            gc.unfreeze()
        await memory.stop()
        db.close()
        shutil.rmtree(work, ignore_errors=True)


def pct(values: np.ndarray) -> str:
    if not len(values):
        return "      -       -       -"
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return f"{p50:7.2f} {p95:7.2f} {p99:7.2f}"


def merged(r: dict[str, Any], stage: str, lengths: tuple[str, ...] = ("short", "medium")) -> Any:
    """One stage over the ordinary queries (the 2,000-character pastes are shown apart)."""
    return np.concatenate([r["stages"][name][stage] for name in lengths])


def report(results: list[dict[str, Any]], args: argparse.Namespace, elapsed_s: float) -> None:
    print(
        f"decision latency per stage, ms (p50 p95 p99); {args.decisions} decisions of corpus "
        f"queries and {args.long} pasted snippets of 2,000 chars per size; embedding "
        f"{args.embedding}, threads {args.threads or 'one per core'}, "
        f"gc {'frozen after start-up' if args.gc_freeze else 'not frozen'}, "
        f"onnxruntime threads {'spin' if args.spin_wait else 'sleep'} between runs"
        f"{'' if args.record else ', decisions not recorded'}"
    )
    for r in results:
        build = (
            f"write {r['write_s']:.1f}s, optimise {r['optimise_s']:.1f}s" if r["size"] else "empty"
        )
        print(
            f"\n{r['size']:,} points in memory ({r['points']:,} indexed; {build}; "
            f"{r['neighbours']:.0f} neighbours per decision; "
            f"{r['full_gc']} full GC collections during the decisions)"
        )
        print(f"  {'stage':<17}{'corpus queries':^24}" + "".join(f"{n:^24}" for n in LENGTHS))
        for stage in STAGES:
            row = f"  {stage:<17}{pct(merged(r, stage))} "
            row += " ".join(pct(r["stages"][name][stage]) for name in LENGTHS)
            print(row)
        counts = ", ".join(f"{n} {len(r['stages'][n]['decision'])}" for n in LENGTHS)
        print(f"  ({counts} queries; short < 100 chars <= medium < 1,000 <= long)")
        print(f"  search direct    {pct(r['search_direct'])}  (no thread hop)")
        print(f"  search via store {pct(r['search_hop'])}  (one hop to the store thread)")
        print(f"  search, queries' {pct(r['search_same'])}  (direct, the decisions' own vectors)")
    base_total = np.percentile(merged(results[0], "decision"), 99)
    base_search = np.percentile(results[0]["search_direct"], 99)
    print("\nratios of p99 against the 0-point baseline")
    for r in results[1:]:
        total = np.percentile(merged(r, "decision"), 99)
        search = np.percentile(r["search_direct"], 99)
        print(
            f"  {r['size']:>9,} points: decision {total / base_total:.2f}x, "
            f"search alone {search / base_search:.2f}x"
        )
    print("\nsearch inside the decision against the search alone, same run, p99")
    for r in results:
        inside = np.percentile(merged(r, "search"), 99)
        hop = np.percentile(r["search_hop"], 99)
        direct = np.percentile(r["search_direct"], 99)
        print(
            f"  {r['size']:>9,} points: inside {inside:.2f} ms = {inside / direct:.1f}x direct, "
            f"{inside / hop:.1f}x via the store thread"
        )
    if not args.full:
        print(
            "\n1,000,000 points skipped (run with --full): building its HNSW index takes "
            "too long on this 2-core machine"
        )
    print(f"\nran {elapsed_s:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=300)
    parser.add_argument("--long", type=int, default=LONG_DECISIONS, help="2,000-char pastes")
    parser.add_argument("--probes", type=int, default=500, help="searches alone per baseline")
    parser.add_argument("--sizes", default="0,10000,100000")
    parser.add_argument(
        "--full", action="store_true", help="also 1,000,000 points (long: index build)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="100 decisions, 20 pastes, 200 probes at 0 and 10k points (for a busy machine)",
    )
    parser.add_argument("--embedding", default=DEFAULT_MODEL, help="embedding.model to time")
    parser.add_argument("--threads", type=int, default=0, help="embedding.threads (0: per core)")
    parser.add_argument(
        "--compute", choices=("auto", "float"), default="auto", help="embedding.compute"
    )
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false")
    parser.add_argument(
        "--spin-wait", action="store_true", help="let onnxruntime's threads spin between runs"
    )
    parser.add_argument(
        "--no-record",
        dest="record",
        action="store_false",
        help="decisions are not recorded (no index write between two decisions)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.decisions, args.long, args.probes = 100, 20, 200
        if args.sizes == parser.get_default("sizes"):
            args.sizes = "0,10000"
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.full else [])
    texts = corpus()
    rng = np.random.default_rng(0)
    queries = [texts[i] for i in rng.permutation(len(texts))]
    # The embedding model's files live in the data dir, as the daemon keeps them (the static
    # table is distilled there once). No vector cache: every decision embeds its query.
    cache = Paths.from_env().data_dir / CACHE_DIR
    embedder = Embedder(
        args.embedding,
        cache,
        threads=args.threads,
        cache_size=0,
        spin_wait=args.spin_wait,
        compute=args.compute,
    )
    print(f"embedding {args.embedding}, {embedder.graph} graph")
    # The memory's points are jittered copies of these (fewer cluster centres with --quick).
    base = embedder.embed(queries[: 800 if args.quick else len(queries)])
    results = [asyncio.run(measure(size, base, queries, args, embedder)) for size in sizes]
    report(results, args, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
