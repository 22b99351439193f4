"""`lfd doctor` and `lfctl doctor`: every check, with and without a daemon, with real models."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.support.daemon import Home, lfctl, run_daemon

pytestmark = pytest.mark.e2e

GROUPS = {
    "cpu": "system",
    "llama.cpp": "system",
    "gpu": "system",
    "disk": "system",
    "config": "setup",
    "socket dir": "setup",
    "embedding": "setup",
    "memory": "setup",
    "gemma3-270m": "models",
}


def lfd(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localforge", *args],
        env=home.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in report["checks"]}


def test_doctor_checks_everything_and_leaves_a_running_daemon_alone(home: Home) -> None:
    with run_daemon(home) as daemon:
        done = lfd(home, "doctor", "--json")
        report = json.loads(done.stdout)
        checks = by_name(report)
        assert {name: check["group"] for name, check in checks.items()} == GROUPS
        assert done.returncode == (1 if report["summary"]["fail"] else 0)
        assert checks["cpu"]["data"]["flags"], "flags from /proc/cpuinfo"
        assert "AVX" in checks["llama.cpp"]["data"]["system_info"]
        assert f"lfd is running (pid {daemon.process.pid})" in checks["socket dir"]["detail"]  # type: ignore[union-attr]
        assert "384-dim" in checks["embedding"]["detail"]  # the daemon assembled it: loaded here
        normal, safe = checks["gemma3-270m"]["data"]["results"]
        assert safe["ok"] and safe["tokens"] > 0 and safe["mode"] == "safe"
        # On a CPU whose llama.cpp kernels crash, normal mode fails and says to use safe mode.
        assert normal["ok"] or (normal["crashed"] and checks["gemma3-270m"]["status"] == "fail")
        assert daemon.call("daemon.status")["pid"] == daemon.process.pid  # type: ignore[union-attr]


def test_doctor_reports_a_normal_mode_crash_and_safe_mode_working(home: Home) -> None:
    home.extra_env["LOCALFORGE_WORKER_FAULT"] = "decode"  # SIGSEGV at the first decode
    done = lfctl(home, "doctor", timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    model = next(i for i, line in enumerate(lines) if "gemma3-270m" in line)
    assert lines[model].startswith("  FAIL  gemma3-270m  normal mode crashed (SIGSEGV while ")
    assert "safe mode 4 tokens in" in lines[model]
    assert lines[model + 1].strip().startswith("fix: use safe mode for this model")
    assert lines[-1].endswith("1 failure(s)")
    assert not home.paths.socket.exists()  # lfctl doctor never starts the daemon

    report = json.loads(lfctl(home, "doctor", "--json", "--model", "gemma3-270m").stdout)
    normal, safe = by_name(report)["gemma3-270m"]["data"]["results"]
    assert normal["crashed"].startswith("SIGSEGV") and not normal["ok"]
    assert safe["ok"] and safe["tokens"] == 4
    assert report["ok"] is False


def test_doctor_names_each_problem_with_its_fix(home: Home) -> None:
    home.paths.runtime_dir.mkdir(mode=0o755)
    home.paths.runtime_dir.chmod(0o755)
    home.write_config(
        """
[memory]
url = "http://127.0.0.1:9"

[[models]]
name = "later"
path = "later.gguf"
"""
    )
    done = lfd(home, "doctor", "--json", "--model", "later")
    assert done.returncode == 1
    checks = json.loads(done.stdout)["checks"]
    status = {(c["name"], c["status"]) for c in checks}
    assert ("config", "ok") in status and ("config", "warn") in status  # valid; path missing
    socket_dir = next(c for c in checks if c["name"] == "socket dir")
    assert socket_dir["status"] == "fail" and socket_dir["fix"] == (
        f"chmod 700 {home.paths.runtime_dir}"
    )
    memory = next(c for c in checks if c["name"] == "memory")
    assert memory["status"] == "fail" and "does not answer" in memory["detail"]
    assert "memory.url" in memory["fix"]
    later = next(c for c in checks if c["name"] == "later")
    assert later["status"] == "fail" and "later.gguf" in later["detail"]

    home.write_config("[memory]\ntop_k = 0\n")
    done = lfd(home, "doctor", "--no-models")
    assert done.returncode == 1
    assert "  FAIL  config" in done.stdout and "memory.top_k" in done.stdout
    assert "  ok    embedding" in done.stdout  # the other checks still ran, on the defaults


def test_lfd_smoke_is_one_line(home: Home) -> None:
    done = lfd(home, "smoke")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("bundled model ok: 8 tokens in ")
    assert len(done.stdout.splitlines()) == 1 and done.stderr == ""
    home.extra_env["LOCALFORGE_WORKER_FAULT"] = "decode@any"
    done = lfd(home, "smoke")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("bundled model FAILED: normal mode crashed (SIGSEGV")


def test_lfd_smoke_hands_a_normal_mode_crash_to_the_daemon(home: Home) -> None:
    home.extra_env["LOCALFORGE_WORKER_FAULT"] = "warmup"  # normal mode crashes, safe mode works
    done = lfd(home, "smoke")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("so lfd will load it in safe mode")
    assert len(done.stdout.splitlines()) == 1 and done.stderr == ""
    with run_daemon(home) as daemon:
        safe = daemon.call("models.show", {"name": "gemma3-270m"})["safe_mode"]
        assert safe["on"] and safe["reason"].startswith("lfd smoke: normal mode SIGSEGV")
        with daemon.client(timeout=180) as client:
            answer = client.call(
                "chat.complete",
                {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3},
            )
        assert answer["usage"]["completion_tokens"] > 0
    assert "retrying in safe mode" not in home.paths.log_file.read_text()  # no crash first
