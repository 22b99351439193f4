"""Shared set-up for the routing, feedback and memory e2e tests: remote-URL models need no files."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.support.daemon import DaemonProcess, Home, lfctl

MODELS = """
[[models]]
name = "coder"
url = "http://127.0.0.1:9"
[models.benchmarks]
humaneval = 88
gsm8k = 60
mmlu_pro = 40
mt_bench = 6.0
gpqa = 25

[[models]]
name = "talker"
url = "http://127.0.0.1:9"
[models.benchmarks]
humaneval = 40
gsm8k = 55
mmlu_pro = 70
mt_bench = 8.1
gpqa = 35
"""


def configure(home: Home, extra: str = "") -> None:
    home.write_config(MODELS + extra)


def lf_json(home: Home, *args: str) -> Any:
    result = lfctl(home, "--no-start", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_memory_ready(daemon: DaemonProcess, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = daemon.call("daemon.status")["services"]["memory"]
        if status["state"] == "ready" or time.monotonic() > deadline:
            assert status["state"] == "ready", status
            return status
        time.sleep(0.05)


def route(daemon: DaemonProcess, text: str, **params: Any) -> dict[str, Any]:
    trace: dict[str, Any] = daemon.call("route.explain", {"text": text, "record": True, **params})
    return trace
