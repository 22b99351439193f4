"""Run untrusted, model-written Python in a locked-down subprocess with a timeout.

Layers, each cheap: a fresh temporary directory as the working directory; an
isolated interpreter (``-I``: no user site, no PYTHON* variables) with an empty
environment; resource limits set by the child on itself before any untrusted
code runs (CPU seconds, address space, file size, open files, no new
processes); an audit hook that refuses sockets, subprocesses, ``exec``/``fork``,
ctypes, and writes outside the working directory; and a wall-clock timeout
that kills the whole process group. This keeps a wrong or runaway answer from
hurting the machine; it is not a virtual machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MAX_OUTPUT = 4000

_GUARD = r"""
import os, resource, sys
cwd = os.getcwd()
cpu, mem, fsize = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for limit, value in (
    (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, mem), (resource.RLIMIT_FSIZE, fsize),
    (resource.RLIMIT_NOFILE, 64), (resource.RLIMIT_CORE, 0),
):
    try:
        resource.setrlimit(limit, (value, value))
    except (ValueError, OSError):
        pass
BLOCKED = (
    "socket.", "subprocess.", "os.system", "os.exec", "os.fork", "os.forkpty", "os.posix_spawn",
    "os.spawn", "os.kill", "os.killpg", "ctypes.", "pty.", "shutil.rmtree", "os.chmod",
    "os.chown", "os.symlink", "os.link", "sys.addaudithook", "os.putenv", "os.unsetenv",
)
def _writes(mode, flags):
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC))
def _inside(path):
    try:
        full = os.path.realpath(os.fsdecode(path) if not isinstance(path, int) else "")
    except Exception:
        return False
    return full == cwd or full.startswith(cwd + os.sep)
def hook(event, args):
    if event.startswith(BLOCKED):
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "open" and len(args) >= 3 and not isinstance(args[0], int):
        if _writes(args[1], args[2] or 0) and not _inside(args[0]):
            raise PermissionError("sandbox: writing outside the working directory is not allowed")
    if event in ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.truncate", "os.utime"):
        if args and not isinstance(args[0], int) and not _inside(args[0]):
            raise PermissionError(f"sandbox: {event} outside the working directory is not allowed")
sys.addaudithook(hook)
del hook
import runpy
runpy.run_path("main.py", run_name="__main__")
"""


@dataclass(frozen=True)
class SandboxResult:
    ok: bool
    timed_out: bool
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float

    @property
    def summary(self) -> str:
        if self.timed_out:
            return "timed out"
        if self.ok:
            return "passed"
        lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
        return lines[-1][:300] if lines else f"exit code {self.returncode}"


async def run_python(
    code: str,
    *,
    timeout_s: float = 5.0,
    memory_mb: int = 512,
    max_file_bytes: int = 1024 * 1024,
) -> SandboxResult:
    """Run ``code`` as ``__main__`` in the sandbox; ok means exit status 0 within the timeout."""
    cpu_s = max(1, int(timeout_s) + 1)
    with tempfile.TemporaryDirectory(prefix="lf-sandbox-") as workdir:
        Path(workdir, "main.py").write_text(code, encoding="utf-8")
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-B",
            "-c",
            _GUARD,
            str(cpu_s),
            str(memory_mb * 1024 * 1024),
            str(max_file_bytes),
            cwd=workdir,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        timed_out = False
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_s)
        except TimeoutError:
            timed_out = True
            _kill_group(process.pid)
            stdout, stderr = await process.communicate()
        except asyncio.CancelledError:
            _kill_group(process.pid)
            await process.wait()
            raise
        finally:
            _kill_group(process.pid)  # anything it left behind in its session
        duration = time.perf_counter() - started
    return SandboxResult(
        ok=not timed_out and process.returncode == 0,
        timed_out=timed_out,
        returncode=process.returncode,
        stdout=stdout.decode("utf-8", "replace")[-MAX_OUTPUT:],
        stderr=stderr.decode("utf-8", "replace")[-MAX_OUTPUT:],
        duration_s=duration,
    )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
