"""The socket is private, one daemon per user, and crashes leave nothing that blocks a restart."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lfctl.client import Client, RpcError
from tests.support.daemon import DaemonProcess, Home, lfctl, run_daemon, temp_home
from tests.support.raw import Raw

pytestmark = pytest.mark.e2e

NOBODY = 65534
root_only = pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")


# No idle model worker kept ready: these tests never generate, and it costs CPU.
LEAN = {"LOCALFORGE_RESIDENCY_SPARE_WORKER": "false"}


@pytest.fixture
def home() -> Iterator[Home]:
    with temp_home(LEAN) as h:
        yield h


@pytest.fixture(scope="module")
def shared() -> Iterator[DaemonProcess]:
    """One daemon for the tests that only look at it or knock on its door."""
    with temp_home(LEAN) as home, run_daemon(home) as d:
        yield d


def serve_once(home: Home, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run `lfd serve` expecting it to refuse to start."""
    return subprocess.run(
        [sys.executable, "-m", "localforge", "serve"],
        env=home.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- the runtime directory ------------------------------------------------------------


def test_group_or_world_bits_are_refused(home: Home) -> None:
    runtime = home.paths.runtime_dir
    runtime.mkdir(mode=0o700)
    runtime.chmod(0o755)
    done = serve_once(home)
    assert done.returncode == 1
    assert (
        f"lfd: {runtime} has mode 0755, open to other users; "
        f"run 'chmod 700 {runtime}' and start again" in done.stderr
    )
    assert not home.paths.socket.exists()


def test_symlinked_runtime_dir_is_refused(home: Home, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    home.paths.runtime_dir.symlink_to(elsewhere)
    done = serve_once(home)
    assert done.returncode == 1
    assert (
        f"lfd: {home.paths.runtime_dir} is a symlink; "
        "remove it so lfd can create a private directory" in done.stderr
    )
    assert list(elsewhere.iterdir()) == []


@root_only
def test_runtime_dir_owned_by_someone_else_is_refused(home: Home) -> None:
    runtime = home.paths.runtime_dir
    runtime.mkdir(mode=0o700)
    os.chown(runtime, NOBODY, NOBODY)
    done = serve_once(home)
    assert done.returncode == 1
    assert (
        f"lfd: {runtime} is owned by uid {NOBODY}, not by you (uid 0); "
        "remove it or set XDG_RUNTIME_DIR to a directory you own"
    ) in done.stderr


def test_socket_is_0600_in_a_0700_dir(shared: DaemonProcess) -> None:
    info = os.lstat(shared.home.paths.socket)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()
    assert stat.S_IMODE(os.lstat(shared.home.paths.runtime_dir).st_mode) == 0o700


# --- peer credentials -----------------------------------------------------------------


@root_only
def test_connection_from_another_uid_is_refused_by_peer_credentials(shared: DaemonProcess) -> None:
    # Open every door the file system has, so that only the SO_PEERCRED check is left.
    doors = [shared.home.root, shared.home.root / "run", shared.home.paths.runtime_dir]
    doors.append(shared.home.paths.socket)
    modes = {door: stat.S_IMODE(door.stat().st_mode) for door in doors}
    try:
        for door in doors:
            door.chmod(0o777)
        report = knock_as_nobody(shared)
    finally:
        for door, mode in modes.items():
            door.chmod(mode)
    assert report["uid"] == NOBODY
    assert report.get("connected") is True, report  # the file system let it in ...
    assert report["answer"] == {  # ... and the peer-credential check turned it away
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": -32600,
            "message": f"connection refused: peer uid {NOBODY} is not the daemon's owner (uid 0); "
            "each user runs their own lfd",
        },
    }
    assert report["after"] == "closed"
    assert report["client_error"] == [-32600, report["answer"]["error"]["message"]]  # lfctl says so
    assert f"refused a connection from uid {NOBODY} (daemon runs as uid 0)" in shared.output()
    assert shared.call("daemon.status")["pid"] == shared.process.pid  # type: ignore[union-attr]


def knock_as_nobody(shared: DaemonProcess) -> dict[str, Any]:
    """Fork; the child drops to nobody, connects, and reports what the daemon said."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: become nobody, then knock
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            seen: dict[str, object] = {"uid": os.getuid()}
            try:
                with Raw(shared.home.paths.socket, timeout=5) as raw:
                    seen["connected"] = True
                    seen["answer"] = raw.read()
                    try:
                        raw.call("daemon.status")
                        seen["after"] = "answered"
                    except (EOFError, OSError):
                        seen["after"] = "closed"
                with Client.connect(shared.home.paths.socket, timeout=5) as client:
                    try:
                        client.call("daemon.status")
                    except RpcError as exc:
                        seen["client_error"] = [exc.code, exc.message]
            except OSError as exc:
                seen["error"] = repr(exc)
            os.write(write_end, json.dumps(seen).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    report: dict[str, Any] = json.loads(b"".join(chunks))
    return report


# --- one daemon per user ------------------------------------------------------------


def test_second_instance_is_refused(shared: DaemonProcess) -> None:
    done = serve_once(shared.home)
    assert done.returncode == 1
    pid = shared.process.pid  # type: ignore[union-attr]
    assert f"already running (pid {pid}) on {shared.home.paths.socket}" in done.stderr
    assert shared.call("daemon.status")["pid"] == pid


def test_second_instance_on_the_same_data_dir_is_refused(
    shared: DaemonProcess, tmp_path: Path
) -> None:
    other_runtime = tmp_path / "run2"
    other_runtime.mkdir(mode=0o700)
    other = Home(shared.home.root, {"XDG_RUNTIME_DIR": str(other_runtime)})
    done = serve_once(other)
    assert done.returncode == 1
    pid = shared.process.pid  # type: ignore[union-attr]
    assert f"already running (pid {pid}) on data dir {shared.home.paths.data_dir}" in done.stderr
    assert not (other_runtime / "localforge" / "lfd.sock").exists()


def test_ten_at_once_leave_one_and_kill_9_leaves_nothing_that_blocks(home: Home) -> None:
    racers = [DaemonProcess(home).start(wait=False) for _ in range(10)]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            exited = [r for r in racers if r.process and r.process.poll() is not None]
            if len(exited) == 9:
                break
            time.sleep(0.05)
        survivors = [r for r in racers if r.process and r.process.poll() is None]
        assert len(survivors) == 1
        losers = [r for r in racers if r not in survivors]
        assert all(r.process and r.process.returncode == 1 for r in losers)
        first = survivors[0]
        first.wait_ready()
        pid = first.process.pid  # type: ignore[union-attr]
        assert first.call("daemon.status")["pid"] == pid
        output = (home.root / "daemon.out").read_text()
        assert output.count(f"lfd: already running (pid {pid}) on {home.paths.socket}") == 9

        first.kill9()
        assert home.paths.socket.exists()  # the stale socket is left behind ...
        done = lfctl(home, "--no-start", "status")
        assert done.returncode == 1 and "lfd is not running" in done.stderr
        home.paths.lock.write_text("999999\n")  # ... with a lock file naming a dead pid
        with run_daemon(home) as second:  # ... and both are replaced safely
            new_pid = second.process.pid  # type: ignore[union-attr]
            assert second.call("daemon.status")["pid"] == new_pid
            assert home.paths.lock.read_text().strip() == str(new_pid)
    finally:
        for racer in racers:
            racer.stop()


# --- files ------------------------------------------------------------------------------


def test_nothing_is_written_outside_the_xdg_dirs(home: Home) -> None:
    """A chat (model, embedder, memory, classifier) leaves files only in the five roots."""
    user_home = home.root / "home"
    user_home.mkdir()
    home.extra_env.update(HOME=str(user_home), XDG_CACHE_HOME=str(home.root / "cache"))
    with run_daemon(home):
        done = lfctl(home, "--no-start", "chat", "--max-tokens", "4", "What is 2 + 2?")
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in user_home.iterdir()) == []  # no ~/.cache/Microsoft, no GGUF
    assert sorted(p.name for p in (home.root / "cache").iterdir()) == ["localforge"]
    bundled = home.paths.cache_dir / "models" / "gemma-3-270m-q4_k_m.gguf"
    assert bundled.is_file() and stat.S_IMODE(bundled.stat().st_mode) == 0o600
