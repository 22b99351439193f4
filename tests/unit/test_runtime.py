"""The runtime directory must be private, and one lock decides the one daemon."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from localforge import runtime
from localforge.errors import StartupError
from localforge.runtime import InstanceLock, ensure_private_dir, lock_is_held

NOBODY = 65534


def test_creates_a_0700_directory(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "localforge"
    ensure_private_dir(target)
    assert target.is_dir()
    assert target.stat().st_mode & 0o777 == 0o700
    ensure_private_dir(target)  # an existing private directory is fine


def test_refuses_group_or_world_bits(tmp_path: Path) -> None:
    target = tmp_path / "lf"
    target.mkdir(mode=0o700)
    for mode in (0o750, 0o701, 0o777):
        target.chmod(mode)
        with pytest.raises(StartupError) as err:
            ensure_private_dir(target)
        assert err.value.message == (
            f"{target} has mode {mode:04o}, open to other users; "
            f"run 'chmod 700 {target}' and start again"
        )


def test_refuses_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "lf"
    link.symlink_to(real)
    with pytest.raises(StartupError, match="is a symlink; remove it"):
        ensure_private_dir(link)


def test_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "lf"
    target.write_text("")
    with pytest.raises(StartupError, match="is not a directory"):
        ensure_private_dir(target)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give the directory away")
def test_refuses_another_owner(tmp_path: Path) -> None:
    target = tmp_path / "lf"
    target.mkdir(mode=0o700)
    os.chown(target, NOBODY, NOBODY)
    with pytest.raises(StartupError) as err:
        ensure_private_dir(target)
    assert f"is owned by uid {NOBODY}, not by you (uid 0)" in err.value.message


def test_lock_is_exclusive_and_names_the_owner(tmp_path: Path) -> None:
    first = InstanceLock(tmp_path / "lfd.lock", "/run/x/lfd.sock")
    first.acquire()
    assert (tmp_path / "lfd.lock").read_text() == f"{os.getpid()}\n"
    second = InstanceLock(tmp_path / "lfd.lock", "/run/x/lfd.sock")
    with pytest.raises(StartupError) as err:
        second.acquire()
    assert err.value.message == f"already running (pid {os.getpid()}) on /run/x/lfd.sock"
    first.release()
    second.acquire()  # free again once released
    second.release()
    second.release()  # releasing twice is harmless


def test_a_stale_lock_file_does_not_block(tmp_path: Path) -> None:
    (tmp_path / "lfd.lock").write_text("999999\n")  # left behind by a killed daemon
    lock = InstanceLock(tmp_path / "lfd.lock", "sock")
    lock.acquire()
    assert (tmp_path / "lfd.lock").read_text() == f"{os.getpid()}\n"
    lock.release()


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "lfd.lock"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: hold the lock until killed
        try:
            os.close(read_end)
            InstanceLock(path, "sock").acquire()
            os.write(write_end, b"x")
            time.sleep(30)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        assert os.read(read_end, 1) == b"x"
        with pytest.raises(StartupError) as err:
            InstanceLock(path, "sock").acquire()
        assert re.fullmatch(rf"already running \(pid {pid}\) on sock", err.value.message)
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(read_end)
    lock = InstanceLock(path, "sock")
    lock.acquire()  # the kernel dropped the dead holder's lock
    lock.release()


def test_lock_is_held_only_while_a_holder_has_it(tmp_path: Path) -> None:
    path = tmp_path / "lfd.lock"
    assert not lock_is_held(path)  # no lock file: nobody holds it
    path.write_text("999999\n")
    assert not lock_is_held(path)  # a file left behind, with no holder
    lock = InstanceLock(path, "sock")
    lock.acquire()
    try:
        assert lock_is_held(path)
    finally:
        lock.release()
    assert not lock_is_held(path)


def test_a_lock_file_that_cannot_be_opened_counts_as_not_held(tmp_path: Path) -> None:
    assert not lock_is_held(tmp_path / "missing" / "lfd.lock")
    if os.getuid() != 0:  # root reads a 0000 file anyway
        path = tmp_path / "lfd.lock"
        path.write_text("1\n")
        path.chmod(0)
        assert not lock_is_held(path)


def test_the_started_daemons_output_file_is_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "lfd.out"
    out.write_text("an earlier start\n")
    out.chmod(0o644)
    started: list[list[str]] = []

    def fake_popen(args: list[str], **kwargs: object) -> object:
        started.append(args)
        handle = kwargs["stdout"]
        assert handle is kwargs["stderr"]
        handle.write(b"a new start\n")  # type: ignore[attr-defined]
        return object()

    monkeypatch.setattr(runtime.subprocess, "Popen", fake_popen)
    runtime.spawn_daemon(out)
    assert started and started[0][-1] == "serve"
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert out.read_text() == "an earlier start\na new start\n"
