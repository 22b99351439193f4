"""What an open dashboard costs the daemon: socket requests/s with and without one subscriber.

One run, on a real ``lfd serve --http`` with a tiny generated GGUF (random weights, a few
hundred KiB, so that a routed answer takes milliseconds and the feed's share is visible):

1. ``daemon.status`` from 50 concurrent socket clients (bench/rpc.py's headline number);
2. ``chat.complete`` routed (``model: "auto"``, one token, not streamed) from 4 socket
   clients: every request is routed, so every one publishes a decision and its result.

Each scenario runs without and with "the page open" in pairs, alternated (off on, on
off, off on, ...), and each pair's ratio is taken (the median of those ratios is the
result), so that drift on a busy machine cancels pair by pair. Server CPU per
request (from /proc) is printed too: it depends much less on what else the machine does.
The page open is what the dashboard's script does: one ``GET /dashboard/api/events``
stream read to the end of every event, ``/dashboard/api/snapshot`` once a second,
``learning`` and ``memory`` every 15 s. The clients are bench/rpc.py's (one connection
each, one request in flight), in their own process.

    .venv/bin/python bench/dashboard.py [--seconds 3] [--rounds 3]   (about 60 s)

Goal: with the page open, requests/s at most 5% lower in both scenarios.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script: import bench.rpc and tests.support from the repository root.
HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent))

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import threading
import time

import httpx

from bench.rpc import drive, frame_for, run_clients
from tests.support import gguf_files
from tests.support.http import http_daemon

CONFIG = """
[residency]
spare_worker = false

[[models]]
name = "tiny-a"
path = "{path}"
n_ctx = 256

[[models]]
name = "tiny-b"
path = "{path}"
n_ctx = 256
"""
CHAT = {
    "messages": [{"role": "user", "content": "What is the capital of France?"}],
    "max_tokens": 1,
    "stream": False,
}
FRAMES = {
    "status": frame_for(b'{"jsonrpc":"2.0","id":1,"method":"daemon.status"}'),
    "chat": frame_for(
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chat.complete", "params": CHAT}).encode()
    ),
}


def client_main(path: str, frame: str, clients: int, seconds: float, warmup: float) -> None:
    result = asyncio.run(drive(path, FRAMES[frame], clients, seconds, warmup))
    sys.stdout.write(json.dumps(result))


class Page(threading.Thread):
    """What the open dashboard asks of the daemon, from this process."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.stop = threading.Event()
        self.connected = threading.Event()
        self.events = 0
        self.polls = 0

    def run(self) -> None:
        poller = threading.Thread(target=self.poll, daemon=True)
        poller.start()
        with (
            httpx.Client(timeout=None) as http,
            http.stream("GET", self.base + "/dashboard/api/events?backlog=0") as stream,
        ):
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    self.events += len(json.loads(line[6:])["events"])
                    self.connected.set()
                if self.stop.is_set():
                    return

    def poll(self) -> None:
        with httpx.Client(timeout=30) as http:
            tick = 0
            while not self.stop.is_set():
                http.get(self.base + "/dashboard/api/snapshot?decisions=0").raise_for_status()
                if tick % 15 == 0:
                    http.get(self.base + "/dashboard/api/learning?days=30").raise_for_status()
                    http.get(self.base + "/dashboard/api/memory").raise_for_status()
                self.polls += 1
                tick += 1
                self.stop.wait(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per run")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3, help="off/on pairs per scenario")
    args = parser.parse_args()
    scenarios = (("daemon.status", "status", 50), ("chat.complete routed", "chat", 4))

    with tempfile.TemporaryDirectory(prefix="lfbd") as models:
        tiny = gguf_files.write_tiny_gguf(Path(models) / "tiny.gguf")
        with http_daemon(
            CONFIG.format(path=tiny), env={"LOCALFORGE_DAEMON_LOG_LEVEL": "warning"}
        ) as door:
            daemon = door.daemon
            assert daemon.process is not None
            pid = daemon.process.pid
            sock = daemon.home.paths.socket
            for name in ("tiny-a", "tiny-b"):  # loaded once, so no run pays a load
                daemon.call("chat.complete", {**CHAT, "model": name})
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"lfd pid {pid}, HTTP on {door.base}; two tiny GGUF models")
            print(f"load average before the run: {load}; {os.cpu_count()} CPUs")
            print(f"{args.seconds:g}s per run, {args.rounds} off/on pairs per scenario")
            header = (
                f"{'scenario':<34}{'page':>6}{'requests':>10}{'req/s':>10}{'p50 ms':>9}"
                f"{'p99 ms':>9}{'CPU us/req':>12}"
            )
            print(header)
            print("-" * len(header))
            summary = []
            for label, frame, clients in scenarios:
                rates: dict[bool, list[float]] = {False: [], True: []}
                cpu: dict[bool, list[float]] = {False: [], True: []}
                received = 0
                for round_ in range(args.rounds):
                    # off/on, then on/off: neither side always runs second (ABBA order).
                    for page_open in (False, True) if round_ % 2 == 0 else (True, False):
                        page = None
                        if page_open:
                            page = Page(door.base)
                            page.start()
                            if not page.connected.wait(10):
                                raise SystemExit("the dashboard's event stream did not connect")
                        try:
                            r = run_clients(
                                sock, clients, args.seconds, args.warmup, pid, frame, HERE
                            )
                        finally:
                            if page is not None:
                                page.stop.set()
                                received += page.events
                        rates[page_open].append(r["rps"])
                        cpu[page_open].append(r["cpu_us"])
                        print(
                            f"{label + f', {clients} clients':<34}"
                            f"{'open' if page_open else '-':>6}{r['n']:>10}{r['rps']:>10.0f}"
                            f"{r['p50_ms']:>9.3f}{r['p99_ms']:>9.3f}{r['cpu_us']:>12.0f}"
                        )
                        time.sleep(0.3)
                off, on = statistics.mean(rates[False]), statistics.mean(rates[True])
                # Each "open" run against the run just before it: drift cancels pair by pair.
                paired = statistics.median(
                    b / a for a, b in zip(rates[False], rates[True], strict=True)
                )
                cpu_ratio = statistics.median(
                    b / a for a, b in zip(cpu[False], cpu[True], strict=True)
                )
                summary.append((label, off, on, paired, cpu_ratio, received))
            print()
            met = True
            for label, off, on, paired, cpu_ratio, received in summary:
                slower = (1 - paired) * 100
                met = met and slower <= 5.0
                print(
                    f"{label}: {off:.0f} req/s without the page, {on:.0f} with it open; "
                    f"median of paired runs x{paired:.3f} ({slower:+.1f}% slower), server CPU "
                    f"per request x{cpu_ratio:.3f}; the page received {received} events"
                )
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"load average after the run: {load}")
            print(f"goal <= 5% slower with the page open: {'MET' if met else 'MISSED'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--as-client":
        client_main(
            sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
        )
    else:
        main()
