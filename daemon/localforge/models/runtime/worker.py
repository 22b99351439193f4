"""The daemon's handle on one worker process: spawn, load, generate, cancel, stats, stop.

Every frame from the worker is read by one task. When the process dies (a
crash, an abort, the out-of-memory killer, a SIGKILL) that task fails every
request in flight with ``WorkerCrashed``; nothing in the daemon dies with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from localforge.errors import (
    LocalForgeError,
    ModelError,
    Timeout,
    WorkerCrashed,
)
from localforge.models.runtime.protocol import ProtocolError, pack, read_frame

log = logging.getLogger(__name__)

OnToken = Callable[[str], None]
OnProgress = Callable[[float], None]
CANCEL_GRACE_S = 5.0

LOAD_FIXES = {
    "invalid_file": "",  # the worker's message already names the cause and the fix
    "load_failed": "check that this llama.cpp supports the architecture, or re-download the file",
}


@dataclass(frozen=True)
class GenerateRequest:
    kind: str  # "chat" (the model's own chat template) | "completion" | "prefill"
    prompt: str | None = None
    messages: list[dict[str, str]] | None = None
    max_tokens: int = 256
    temperature: float = 0.7
    stop: tuple[str, ...] = ()
    fresh: bool = False  # evaluate the whole prompt, reusing no cached prefix
    stop_pattern: str | None = None  # a regex: generation stops where it first matches

    def to_frame(self, rid: int) -> dict[str, Any]:
        frame: dict[str, Any] = {
            "op": "generate",
            "id": rid,
            "kind": self.kind,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stop": list(self.stop),
            "fresh": self.fresh,
        }
        if self.stop_pattern:
            frame["stop_pattern"] = self.stop_pattern
        if self.kind == "chat":
            frame["messages"] = self.messages or []
        else:
            frame["prompt"] = self.prompt or ""
        return frame


@dataclass(frozen=True)
class Generation:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float
    total_ms: float
    cached_tokens: int = 0  # prompt tokens found in the KV cache (prefill)

    @classmethod
    def from_frame(cls, frame: dict[str, Any]) -> Generation:
        return cls(
            text=str(frame.get("text", "")),
            finish_reason=str(frame.get("finish_reason", "stop")),
            prompt_tokens=int(frame.get("prompt_tokens", 0)),
            completion_tokens=int(frame.get("completion_tokens", 0)),
            ttft_ms=float(frame.get("ttft_ms", 0.0)),
            total_ms=float(frame.get("total_ms", 0.0)),
            cached_tokens=int(frame.get("cached_tokens", 0)),
        )


@dataclass(frozen=True)
class LoadInfo:
    load_ms: float
    n_ctx: int
    has_chat_template: bool
    rss_bytes: int
    file_bytes: int
    safe: bool = False


@dataclass
class _Pending:
    future: asyncio.Future[dict[str, Any]]
    on_token: OnToken | None = None


@dataclass
class WorkerProcess:
    model: str
    log_path: Path | None = None
    python: str = sys.executable
    process: asyncio.subprocess.Process | None = None
    _reader: asyncio.Task[None] | None = None
    _pending: dict[int, _Pending] = field(default_factory=dict)
    _control: asyncio.Future[dict[str, Any]] | None = None
    _on_progress: OnProgress | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _log_handle: IO[bytes] | None = None
    _crash: LocalForgeError | None = None
    _stopping: bool = False
    generations: int = 0  # started on this process, so a crash on the first one is known

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None and self._crash is None

    # --- lifecycle --------------------------------------------------------

    async def start(self) -> None:
        stderr: Any = asyncio.subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_handle = self.log_path.open("ab")
            stderr = self._log_handle
        self.process = await asyncio.create_subprocess_exec(
            self.python,
            "-m",
            "localforge.models.runtime.worker_main",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())
        log.info("started worker pid %d for model '%s'", self.process.pid, self.model)

    async def load(
        self,
        path: Path,
        *,
        n_ctx: int,
        n_gpu_layers: int,
        timeout: float,
        main_gpu: int | None = None,
        on_progress: OnProgress | None = None,
        chat_format: str | None = None,
        checked: bool = False,
        safe: bool = False,
    ) -> LoadInfo:
        """Load the model; ``checked`` says the daemon has already validated the file's header.

        ``safe`` loads without llama.cpp's extra buffer types (AMX, repacked weights): slower
        on some CPUs, but it avoids kernels that crash on others.

        With ``main_gpu`` the whole model goes to that GPU, the one its memory is budgeted on,
        instead of llama.cpp's default split across every visible GPU.
        """
        self._on_progress = on_progress
        frame: dict[str, Any] = {
            "op": "load",
            "path": str(path),
            "n_ctx": n_ctx,
            "n_gpu_layers": n_gpu_layers,
            "model": self.model,
            "safe": safe,
        }
        if main_gpu is not None:
            frame["main_gpu"] = main_gpu
        if checked:
            frame["checked"] = True
        if chat_format:
            frame["chat_format"] = chat_format
        try:
            reply = await self._control_call(frame, timeout)
        except TimeoutError as exc:
            await self.kill()
            raise Timeout(
                f"model '{self.model}' did not load within {timeout:g}s; raise "
                "residency.load_timeout_s, or use a smaller model or quantisation"
            ) from exc
        finally:
            self._on_progress = None
        if reply["op"] == "error":
            kind = str(reply.get("kind", "load_failed"))
            fix = LOAD_FIXES.get(kind, LOAD_FIXES["load_failed"])
            raise ModelError(
                f"model '{self.model}' failed to load: {reply.get('message')}"
                + (f"; {fix}" if fix else ""),
                data={"model": self.model, "cause": kind},
            )
        return LoadInfo(
            load_ms=float(reply.get("load_ms", 0.0)),
            n_ctx=int(reply.get("n_ctx", n_ctx)),
            has_chat_template=bool(reply.get("has_chat_template")),
            rss_bytes=int(reply.get("rss_bytes", 0)),
            file_bytes=int(reply.get("file_bytes", 0)),
            safe=bool(reply.get("safe", safe)),
        )

    async def generate(
        self, request: GenerateRequest, *, on_token: OnToken | None, timeout: float
    ) -> Generation:
        self._check_alive()
        self.generations += 1
        rid = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = _Pending(future, on_token)
        try:
            self._send(request.to_frame(rid))
            try:
                reply = await asyncio.wait_for(asyncio.shield(future), timeout)
            except TimeoutError:
                await self._cancel_and_wait(rid, future)
                raise Timeout(
                    f"model '{self.model}' produced no complete answer within {timeout:g}s; "
                    "lower max_tokens or raise residency.generate_timeout_s"
                ) from None
            except asyncio.CancelledError:
                await self._cancel_and_wait(rid, future)
                raise
        finally:
            self._pending.pop(rid, None)
        if reply["op"] == "error":
            raise ModelError(f"model '{self.model}' failed to generate: {reply.get('message')}")
        return Generation.from_frame(reply)

    async def _cancel_and_wait(self, rid: int, future: asyncio.Future[dict[str, Any]]) -> None:
        """Tell the worker to stop, and wait until it has (or kill it), so the slot is free."""
        if not self.alive:
            return
        with contextlib.suppress(LocalForgeError, OSError):
            self._send({"op": "cancel", "id": rid})
        try:
            await asyncio.wait_for(asyncio.shield(future), CANCEL_GRACE_S)
        except (TimeoutError, LocalForgeError):
            if self.alive:
                log.warning("worker for '%s' ignored a cancel; killing it", self.model)
                await self.kill()

    async def stats(self, timeout: float = 5.0) -> dict[str, Any]:
        return await self._control_call({"op": "stats"}, timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        """Ask the worker to unload and exit; kill it if it does not within ``timeout``."""
        self._stopping = True
        if self.alive:
            with contextlib.suppress(LocalForgeError, TimeoutError, OSError):
                await self._control_call({"op": "unload"}, timeout)
        if self.process is not None:
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                await self.kill()
        await self._finish_reader()

    async def kill(self) -> None:
        self._stopping = True
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        await self._finish_reader()

    async def _finish_reader(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, 5.0)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    # --- frames -------------------------------------------------------------

    def _send(self, frame: dict[str, Any]) -> None:
        self._check_alive()
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(pack(frame))

    def _check_alive(self) -> None:
        if self._crash is not None:
            raise self._crash
        if self.process is None or self.process.returncode is not None:
            raise WorkerCrashed(
                f"the worker for model '{self.model}' is not running; retry the request"
            )

    async def _control_call(self, frame: dict[str, Any], timeout: float) -> dict[str, Any]:
        while self._control is not None and not self._control.done():
            await asyncio.wait([self._control])
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._control = future
        self._send(frame)
        return await asyncio.wait_for(future, timeout)

    async def _read_loop(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        reason = "closed its pipe"
        try:
            while True:
                frame = await read_frame(self.process.stdout)
                if frame is None:
                    break
                self._dispatch(frame)
        except ProtocolError as exc:
            reason = f"sent a broken frame ({exc})"
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        except Exception:
            log.exception("reader of worker '%s' failed", self.model)
        code = await self.process.wait()
        self._crash = self._describe_exit(code, reason)
        if not self._stopping or self._pending:
            log.warning("%s", self._crash.message)
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(self._crash)
        if self._control is not None and not self._control.done():
            self._control.set_exception(self._crash)

    def _dispatch(self, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        rid = frame.get("id")
        if op == "token":
            pending = self._pending.get(rid) if isinstance(rid, int) else None
            if pending is not None and pending.on_token is not None:
                pending.on_token(str(frame.get("text", "")))
        elif op == "progress":
            if self._on_progress is not None:
                self._on_progress(float(frame.get("progress", 0.0)))
        elif op in ("done", "error") and isinstance(rid, int):
            pending = self._pending.get(rid)
            if pending is not None and not pending.future.done():
                pending.future.set_result(frame)
        elif self._control is not None and not self._control.done():
            self._control.set_result(frame)
        else:
            log.warning("worker '%s' sent an unexpected frame: %s", self.model, op)

    def _describe_exit(self, code: int, reason: str) -> WorkerCrashed:
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            how = f"was killed by {name}"
            if -code == signal.SIGKILL:
                how += " (the out-of-memory killer sends this too)"
        else:
            how = f"exited with status {code} ({reason})"
        tail = self.log_tail()
        where = f"; its log {self.log_path} ends with: {tail}" if tail else ""
        return WorkerCrashed(
            f"the worker for model '{self.model}' (pid {self.pid}) {how}; the daemon is fine and "
            "the "
            f"next request restarts the model{where}",
            data={"model": self.model, "exit_code": code},
        )

    def log_tail(self, lines: int = 3) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        with contextlib.suppress(OSError):
            with self.log_path.open("rb") as handle:
                handle.seek(0, 2)
                handle.seek(max(handle.tell() - 2000, 0))
                text = handle.read().decode(errors="replace")
            mine = [line.strip() for line in text.splitlines() if f"[{self.pid}]" in line]
            return " | ".join(mine[-lines:])
        return ""
