"""What the HTTP door costs: the same requests over HTTP and over the Unix socket, and TTFT.

One run, on a real ``lfd serve --http`` with the bundled Gemma 3 270M (n_ctx 512):

1. route-only: ``POST /v1/route`` against the socket's ``route.explain`` (neither records);
2. tiny completion: ``POST /v1/chat/completions`` (one token, named model) against the
   socket's ``chat.complete``;

each sequentially from one client with a kept-alive connection (a minimal HTTP/1.1
client, as lfctl's is a minimal socket one), the two doors interleaved request by
request so that drift hits both alike; p50, p99 and requests/s.

3. time to first token of a streamed ``/v1/completions`` with the model named, against
   ``python -m llama_cpp.server`` serving the same GGUF with the same n_ctx: the same
   prompt (a counter keeps each one new), the same token budget, the two servers
   alternating request by request.

    .venv/bin/python bench/http_door.py [--requests 200] [--ttft 20]

Goals: HTTP adds <= 2 ms p50 over the socket; LocalForge's TTFT is within 10% or 20 ms
of llama_cpp.server's.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file (http.py) would shadow the standard library's http package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse
import json
import socket
import statistics
import tempfile
import time
from collections.abc import Callable

import httpx

from tests.support.http import GEMMA_CONFIG, gemma_path, http_daemon
from tests.support.llama_server import llama_server

QUERY = "reverse a linked list in C"
PROMPT = "Question {n}: What is the capital of France?\nAnswer:"


class RawHttp:
    """A minimal keep-alive HTTP/1.1 client (like lfctl's socket client), so that the
    comparison measures the door and not a client library's own overhead."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.port = port
        self.buffer = b""

    def post(self, path: str, body: dict[str, object]) -> bytes:
        data = json.dumps(body).encode()
        self.sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(65536)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode(errors="replace"))
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(self.buffer) < length:
            self.buffer += self.sock.recv(65536)
        answer, self.buffer = self.buffer[:length], self.buffer[length:]
        return answer


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(name: str, seconds: list[float], elapsed: float) -> dict[str, float | str]:
    return {
        "name": name,
        "p50_ms": percentile(seconds, 0.5) * 1000,
        "p99_ms": percentile(seconds, 0.99) * 1000,
        "rps": len(seconds) / elapsed,
    }


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def interleaved(count: int, calls: dict[str, Callable[[], object]]) -> list[dict[str, float | str]]:
    for call in calls.values():  # warm both paths (model load, connections, caches)
        for _ in range(5):
            call()
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    spent = dict.fromkeys(calls, 0.0)
    for _ in range(count):
        for name, call in calls.items():
            took = timed(call)
            seconds[name].append(took)
            spent[name] += took
    return [row(name, seconds[name], spent[name]) for name in calls]


def first_token(client: httpx.Client, url: str, model: str, n: int, tokens: int) -> float:
    body = {
        "model": model,
        "prompt": PROMPT.format(n=n),
        "max_tokens": tokens,
        "temperature": 0,
        "stream": True,
    }
    started = time.perf_counter()
    with client.stream("POST", url + "/v1/completions", json=body) as response:
        response.raise_for_status()
        lines = response.iter_lines()
        for line in lines:
            if not line.startswith("data: {"):
                continue
            choice = json.loads(line[6:])["choices"]
            if choice and choice[0].get("text"):
                took = time.perf_counter() - started
                break
        else:
            raise RuntimeError(f"{url} streamed no token")
        for _ in lines:
            pass
    return took


def ttft_both(ours: str, theirs: str, runs: int, tokens: int) -> tuple[list[float], list[float]]:
    """Alternate the two servers request by request (both loaded), so load hits both alike."""
    times: dict[str, list[float]] = {ours: [], theirs: []}
    with httpx.Client(timeout=120) as client:
        for n in range(-3, runs):  # three to load and warm each
            for url in (ours, theirs):
                took = first_token(client, url, "gemma", n, tokens)
                if n >= 0:
                    times[url].append(took)
    return times[ours], times[theirs]


def show(rows: list[dict[str, float | str]]) -> None:
    print(f"  {'':34} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for r in rows:
        print(f"  {r['name']:34} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['rps']:8.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="route-only requests per door")
    parser.add_argument("--tiny", type=int, default=40, help="one-token answers per door")
    parser.add_argument("--ttft", type=int, default=20, help="streamed answers per server")
    parser.add_argument("--tokens", type=int, default=8, help="token budget of each TTFT answer")
    args = parser.parse_args()
    gemma = gemma_path()
    config = GEMMA_CONFIG.format(gemma=gemma, residency="", extra="")

    with http_daemon(config) as door, door.daemon.client(timeout=120) as rpc:
        http = RawHttp(door.port)
        print(f"LocalForge on {door.base}; Gemma 3 270M, n_ctx 512, one client, sequential")
        print("route-only (nothing recorded)")
        route = interleaved(
            args.requests,
            {
                "socket route.explain": lambda: rpc.call("route.explain", {"text": QUERY}),
                "HTTP POST /v1/route": lambda: http.post("/v1/route", {"text": QUERY}),
            },
        )
        show(route)
        messages = [{"role": "user", "content": "Hi"}]
        tiny = {"model": "gemma", "messages": messages, "max_tokens": 1, "temperature": 0}
        print("tiny completion (1 token, named model)")
        completion = interleaved(
            args.tiny,
            {
                "socket chat.complete": lambda: rpc.call(
                    "chat.complete", {**tiny, "stream": False}
                ),
                "HTTP POST /v1/chat/completions": lambda: http.post("/v1/chat/completions", tiny),
            },
        )
        show(completion)
        http.sock.close()
        with tempfile.TemporaryDirectory(prefix="lfbench") as tmp:
            log = Path(tmp) / "llama_cpp_server.log"
            with llama_server(gemma, log, n_ctx=512, alias="gemma") as url:
                ours, theirs = ttft_both(door.base, url, args.ttft, args.tokens)

    print(f"time to first token, streamed /v1/completions, {args.tokens}-token budget")
    p_ours, p_theirs = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
    for name, values, p50 in (
        ("LocalForge (named model)", ours, p_ours),
        ("python -m llama_cpp.server", theirs, p_theirs),
    ):
        print(f"  {name:34} p50 {p50:8.1f} ms  p99 {percentile(values, 0.99) * 1000:8.1f} ms")

    added = float(route[1]["p50_ms"]) - float(route[0]["p50_ms"])
    added_tiny = float(completion[1]["p50_ms"]) - float(completion[0]["p50_ms"])
    gap = p_ours - p_theirs
    print("summary")
    print(f"  HTTP over socket, route-only:      {added:+.2f} ms p50 (goal <= 2 ms)")
    print(f"  HTTP over socket, tiny completion: {added_tiny:+.2f} ms p50")
    print(
        f"  TTFT LocalForge vs llama_cpp.server: {gap:+.1f} ms, ratio {p_ours / p_theirs:.2f} "
        "(goal: within 10% or 20 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
