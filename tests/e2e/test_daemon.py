"""daemon.* and the lfctl commands that use them, against a real `lfd serve`."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lfctl.client import Client, RpcError
from localforge import __version__
from tests.support.daemon import DaemonProcess, Home, lfctl, run_daemon, temp_home

pytestmark = pytest.mark.e2e

# No idle model worker kept ready: these tests never generate, and it costs CPU.
LEAN = {"LOCALFORGE_RESIDENCY_SPARE_WORKER": "false"}
CONFIG = "[daemon]\nshutdown_grace_s = 5\n[memory]\ntop_k = 7\n"


@pytest.fixture
def home() -> Iterator[Home]:
    with temp_home(LEAN) as h:
        yield h


@pytest.fixture(scope="module")
def layered() -> Iterator[DaemonProcess]:
    """One daemon whose settings come from all four layers."""
    with temp_home({**LEAN, "LOCALFORGE_MEMORY_COLLECTION": "team"}) as home:
        home.write_config(CONFIG)
        with run_daemon(home, ["--set", "routing.hysteresis=0.1", "--log-level", "debug"]) as d:
            yield d


def pid_of(d: DaemonProcess) -> int:
    assert d.process is not None
    return d.process.pid


def test_status_json(layered: DaemonProcess) -> None:
    done = lfctl(layered.home, "status", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    paths = layered.home.paths
    assert info["version"] == __version__
    assert info["pid"] == pid_of(layered)
    assert 0 <= info["uptime_s"] < 120
    assert info["socket"] == str(paths.socket)
    assert info["dirs"] == {
        "config": str(paths.config_dir),
        "data": str(paths.data_dir),
        "state": str(paths.state_dir),
        "cache": str(paths.cache_dir),
        "runtime": str(paths.runtime_dir),
    }
    assert info["config"] == {
        "file": str(paths.config_file),
        "file_found": True,
        "env": [  # the seed comes from the test support, so decisions repeat
            "LOCALFORGE_MEMORY_COLLECTION",
            "LOCALFORGE_ROUTING_SEED",
            "LOCALFORGE_RESIDENCY_SPARE_WORKER",
        ],
        "flags": ["daemon.log_level", "routing.hysteresis"],
        "error": None,
        "restart_needed": [],
    }
    storage = info["services"]["storage"]
    assert storage["state"] == "ready"
    assert storage["path"] == str(paths.database)
    for service in info["services"].values():
        assert service["state"] in ("ready", "starting", "degraded", "stopped")
        assert isinstance(service["detail"], str)


def test_status_for_people(layered: DaemonProcess) -> None:
    done = lfctl(layered.home, "status")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"lfd {__version__}  running  pid {pid_of(layered)}  up ")
    assert any(line.split()[:2] == ["socket", str(layered.home.paths.socket)] for line in lines)
    assert any(line.startswith("env") and "LOCALFORGE_MEMORY_COLLECTION" in line for line in lines)
    assert any(line.split()[:2] == ["storage", "ready"] for line in lines)


def test_logs_go_to_stderr_and_the_state_dir(layered: DaemonProcess) -> None:
    ready = f"lfd {__version__} ready (pid {pid_of(layered)})"
    assert ready in layered.output()  # stderr
    assert ready in layered.home.paths.log_file.read_text()
    assert layered.home.paths.database.is_file()
    paths = layered.home.paths
    for private in (paths.state_dir, paths.data_dir, paths.log_file, paths.database):
        assert private.stat().st_mode & 0o077 == 0, f"{private} is readable by others"


def test_config_show_says_where_each_value_came_from(layered: DaemonProcess) -> None:
    done = lfctl(layered.home, "config", "show", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["origin"] == "running lfd"
    rows = {row["key"]: (row["value"], row["source"]) for row in shown["settings"]}
    assert rows["daemon.shutdown_grace_s"] == (5.0, "file")
    assert rows["memory.top_k"] == (7, "file")
    assert rows["memory.collection"] == ("team", "env")
    assert rows["routing.hysteresis"] == (0.1, "flag")
    assert rows["daemon.log_level"] == ("debug", "flag")
    assert rows["daemon.max_frame_bytes"] == (16 * 1024 * 1024, "default")
    text = lfctl(layered.home, "config", "show").stdout
    assert any(line.split() == ["routing.hysteresis", "0.1", "flag"] for line in text.splitlines())


def test_config_show_without_a_daemon(home: Home) -> None:
    home.write_config("[memory]\ntop_k = 3\n")
    home.extra_env["LOCALFORGE_WEIGHT_MEMORY"] = "0.5"
    done = lfctl(home, "--no-start", "config", "show", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["origin"] == "this shell (lfd is not running)"
    rows = {row["key"]: (row["value"], row["source"]) for row in shown["settings"]}
    assert rows["memory.top_k"] == (3, "file")
    assert rows["weights.memory"] == (0.5, "env")
    assert rows["weights.latency"] == (0.05, "default")
    assert not home.paths.socket.exists()  # showing config never starts the daemon


def test_config_check(home: Home, tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        "[routing]\nhysteresis = 0.2\n[[models]]\nname = 'r'\nurl = 'http://127.0.0.1:9'\n"
    )
    done = lfctl(home, "config", "check", str(good))
    assert (done.returncode, done.stdout.strip()) == (0, f"{good}: ok")
    missing = tmp_path / "missing.toml"
    missing.write_text("model_dirs = ['gguf']\n[[models]]\nname = 'later'\npath = 'later.gguf'\n")
    done = lfctl(home, "config", "check", str(missing))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{missing}: warning: model 'later': {tmp_path / 'later.gguf'} does not exist; it is "
        "listed as broken until the file is there (fix 'path' if it is not on its way)",
        f"{missing}: warning: model_dirs: {tmp_path / 'gguf'} is not a directory; create it or "
        "remove it from model_dirs",
        f"{missing}: ok (2 warning(s))",
    ]
    bad = tmp_path / "bad.toml"
    bad.write_text("[memory]\ntop_k = 0\ncolour = 'red'\n")
    done = lfctl(home, "config", "check", str(bad))
    assert done.returncode == 1
    assert json.loads(lfctl(home, "config", "check", "--json", str(bad)).stdout)["error"]
    assert done.stderr.strip() == (
        "lfctl: invalid setting 'memory.top_k' = 0 (from file): Input should be greater than or "
        "equal to 1; unknown setting 'memory.colour' (from file): remove it or check the spelling"
    )
    assert not home.paths.socket.exists()


def test_methods_are_discoverable(layered: DaemonProcess) -> None:
    described = layered.call("daemon.methods")
    by_name = {m["name"]: m for m in described}
    for name in ("daemon.status", "daemon.reload", "daemon.shutdown", "daemon.methods"):
        assert by_name[name]["summary"]
    assert by_name["daemon.ticks"]["streams"] is True
    assert by_name["daemon.ticks"]["params"]["count"]["type"] == "int"
    assert by_name["daemon.ticks"]["params"]["count"]["default"] == 3
    text = lfctl(layered.home, "methods").stdout
    assert "daemon.ticks(count?, interval_ms?)" in text


def test_reload_applies_a_valid_file_and_keeps_the_old_one_when_invalid(
    layered: DaemonProcess,
) -> None:
    home, d = layered.home, layered
    try:
        home.write_config(CONFIG + "[routing]\nfallback_min_queries = 3\n")
        done = lfctl(home, "reload", "--json")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["reloaded"] is True
        # The daemon's config watcher may have applied the file a moment earlier.
        assert set(result["changed"]) <= {"routing.fallback_min_queries"}
        assert result["restart_needed"] == []
        assert ("routing.fallback_min_queries", 3, "file") in settings_of(d)

        home.write_config("[memory]\ntop_k = 'lots'\n")
        with d.client() as client, pytest.raises(RpcError) as err:
            client.call("daemon.reload")
        assert err.value.code == -32001
        assert err.value.message == (
            "config not reloaded, the previous one stays in force: invalid setting "
            "'memory.top_k' = 'lots' (from file): Input should be a valid integer, "
            "unable to parse string as an integer"
        )
        assert ("memory.top_k", 7, "file") in settings_of(d)
        assert ("routing.fallback_min_queries", 3, "file") in settings_of(d)

        home.write_config("[memory\n")
        done = lfctl(home, "reload")
        assert done.returncode == 1
        assert "lfctl: config not reloaded, the previous one stays in force: config file" in (
            done.stderr
        )
        assert "is not valid TOML" in done.stderr
        assert d.call("daemon.status")["pid"] == pid_of(d)
    finally:
        home.write_config(CONFIG)
        d.call("daemon.reload")


def settings_of(d: DaemonProcess) -> list[tuple[str, Any, str]]:
    return [(r["key"], r["value"], r["source"]) for r in d.call("daemon.config")["settings"]]


def test_invalid_config_at_start_names_the_key(home: Home) -> None:
    home.write_config("[daemon]\nmax_frame_bytes = 10\n")
    d = DaemonProcess(home).start(wait=False)
    assert d.process is not None
    assert d.process.wait(30) == 1
    assert (
        "lfd: invalid setting 'daemon.max_frame_bytes' = 10 (from file): "
        "Input should be greater than or equal to 1024"
    ) in d.output()


def test_sigterm_and_a_bounded_grace_period(home: Home) -> None:
    with run_daemon(home, ["--set", "daemon.shutdown_grace_s=1.5"]) as d:
        with d.client() as client:
            rid = client.send_request("daemon.ticks", {"count": 1000, "interval_ms": 50})
            assert client.receive()["method"] == "$/stream"
            assert d.process is not None
            d.process.send_signal(signal.SIGTERM)  # same path as daemon.shutdown
            t0 = time.monotonic()
            refused_at = None
            while refused_at is None and time.monotonic() - t0 < 1.5:
                try:
                    Client.connect(home.paths.socket).close()
                    time.sleep(0.02)
                except (ConnectionRefusedError, FileNotFoundError):
                    refused_at = time.monotonic()  # no new clients while draining
            with pytest.raises(RpcError) as err:
                client.wait(rid)
            answered_at = time.monotonic()
        assert refused_at is not None and refused_at < answered_at
        assert err.value.code == -32004
        assert err.value.message == (
            "lfd is shutting down and stopped daemon.ticks after the 1.5s grace period "
            "(daemon.shutdown_grace_s); send it again once lfd is back"
        )
        assert 1.4 < answered_at - t0 < 5
        assert d.process.wait(10) == 0
        assert not home.paths.socket.exists()
        assert d.output().splitlines()[-1].endswith("stopped")


def test_autostart_graceful_stop_and_no_start(home: Home) -> None:
    done = lfctl(home, "--no-start", "status")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"lfctl: lfd is not running (no daemon on {home.paths.socket}); "
        "start it with 'lfd serve' or drop --no-start"
    )
    assert not home.paths.socket.exists()

    started: int | None = None
    try:
        # Four at once: each may start an lfd; exactly one survives and all four use it.
        racing = [
            subprocess.Popen(
                [sys.executable, "-m", "lfctl.main", "status", "--json"],
                env=home.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outputs = [process.communicate(timeout=120) for process in racing]
        assert [process.returncode for process in racing] == [0] * 4, outputs
        pids = {json.loads(out)["pid"] for out, _err in outputs}
        assert len(pids) == 1
        started = pids.pop()
        out = os.stat(home.paths.state_dir / "lfd.out")  # holds the daemon's stderr: private
        assert stat.S_IMODE(out.st_mode) == 0o600
        assert lfctl(home, "--no-start", "status").returncode == 0
        assert json.loads(lfctl(home, "status", "--json").stdout)["pid"] == started  # reused

        # `lfctl stop` is graceful: a request in flight gets its whole answer first.
        ticks: list[Any] = []
        answer: dict[str, Any] = {}
        streaming = threading.Event()

        def slow() -> None:
            with Client.connect(home.paths.socket, timeout=30) as client:
                answer["result"] = client.call(
                    "daemon.ticks",
                    {"count": 6, "interval_ms": 100},
                    on_stream=lambda data: (ticks.append(data), streaming.set()),
                )

        worker = threading.Thread(target=slow)
        worker.start()
        assert streaming.wait(10)
        done = lfctl(home, "stop")
        worker.join(10)
        assert answer["result"] == {"ticks": 6}
        assert ticks == [{"tick": i} for i in range(6)]
        assert (done.returncode, done.stdout.strip()) == (0, f"lfd (pid {started}) stopped")
        assert not pid_alive(started)
        assert not home.paths.socket.exists()
        done = lfctl(home, "stop")
        assert (done.returncode, done.stdout.strip()) == (0, "lfd is not running")
    finally:
        if started is not None and pid_alive(started):
            os.kill(started, signal.SIGKILL)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_reload_names_the_settings_that_need_a_restart(daemon: DaemonProcess) -> None:
    home = daemon.home
    home.write_config("[residency]\nram_budget_mb = 2048\n\n[routing]\nhysteresis = 0.1\n")
    result = json.loads(lfctl(home, "reload", "--json").stdout)
    assert "routing.hysteresis" in result["changed"]
    assert result["restart_needed"] == ["residency.ram_budget_mb"]
    assert daemon.call("daemon.status")["config"]["restart_needed"] == ["residency.ram_budget_mb"]
    again = lfctl(home, "reload").stdout  # nothing changed since, but the budget still waits
    assert "take effect when lfd restarts" in again and "residency.ram_budget_mb" in again
