"""Resident local models: one worker per model, admitted and swapped by the residency planner.

``serving(spec)`` is how a request gets a worker: it queues a ticket, the
planner decides when it runs (loading the model, evicting idle ones first if
the budget demands it), and the slot is marked serving until the block exits.
Every state change re-runs the planner, so there is no polling: a finished
request, a finished load and a new request are the only triggers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from localforge.errors import (
    BudgetExceeded,
    LocalForgeError,
    ModelError,
    Unavailable,
    WorkerCrashed,
)
from localforge.models.catalogue.spec import ModelSpec
from localforge.models.gguf.info import read_gguf_info
from localforge.models.runtime.gpu import CPU, gpu_index
from localforge.models.runtime.healing import (
    NeverSafe,
    SafeModePolicy,
    load_crash_error,
    native_fault,
)
from localforge.models.runtime.residency import Planner, Waiting
from localforge.models.runtime.slots import Slot, Ticket, estimate_memory, load_key
from localforge.models.runtime.worker import LoadInfo, OnProgress, WorkerProcess

log = logging.getLogger(__name__)

LoadObserver = Callable[[str, float], Any]


class ModelPool:
    def __init__(
        self,
        planner: Planner,
        *,
        device_for: Callable[[ModelSpec], str],
        log_dir: Path,
        load_timeout_s: Callable[[], float],
        default_ttl_s: Callable[[], float],
        on_loaded: LoadObserver | None = None,
        keep_spare: bool = True,
        expected_load_s: Callable[[str], float] | None = None,
        safe_mode: SafeModePolicy | None = None,
    ) -> None:
        self.planner = planner
        self.device_for = device_for
        self.log_dir = log_dir
        self.load_timeout_s = load_timeout_s
        self.default_ttl_s = default_ttl_s
        self.on_loaded = on_loaded
        self.slots: dict[str, Slot] = {}
        self.tickets: list[Ticket] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.changed = asyncio.Event()
        self._seq = itertools.count(1)
        self.loads = 0
        self.evictions = 0
        self.closed = False
        self.keep_spare = keep_spare
        self.expected_load_s = expected_load_s or (lambda _name: 0.0)
        self._spare: WorkerProcess | None = None
        self.safe_mode = safe_mode or NeverSafe()

    # --- requests -----------------------------------------------------------

    def slot(self, spec: ModelSpec) -> Slot:
        slot = self.slots.get(spec.name)
        if slot is None:
            slot = Slot(spec, CPU, estimate_memory(spec), pinned=spec.pinned)
            self.slots[spec.name] = slot
        elif load_key(slot.spec) == load_key(spec):
            slot.spec = spec  # scores or display facts changed: the loaded model stays
            slot.pinned = slot.pinned or spec.pinned
        elif slot.spec != spec:
            if slot.state == "absent":
                slot.spec, slot.memory_bytes = spec, estimate_memory(spec)
            else:
                slot.retire = True  # serve the old one out, reload with the new spec after
        if slot.state == "absent":
            slot.retire = False  # nothing is loaded that could retire (a removed model is back)
            slot.device = self.device_for(spec)  # the GPU with the most room now
            slot.safe_reason = slot.safe_reason or self.safe_mode.initial(spec)
        return slot

    def used_bytes(self) -> dict[str, int]:
        """Estimated bytes held per device by models that are loading or loaded."""
        used: dict[str, int] = {}
        for slot in self.slots.values():
            if slot.state != "absent":
                used[slot.device] = used.get(slot.device, 0) + slot.memory_bytes
        return used

    @contextlib.asynccontextmanager
    async def serving(
        self, spec: ModelSpec, on_progress: OnProgress | None = None
    ) -> AsyncIterator[WorkerProcess]:
        """Wait for this model's turn (loading it if needed); the worker is ours in the block."""
        if self.closed:
            raise Unavailable("the daemon is shutting down; retry in a moment")
        slot = self.slot(spec)
        loop = asyncio.get_running_loop()
        ticket = Ticket(next(self._seq), spec.name, time.monotonic(), loop.create_future())
        if on_progress is not None:
            slot.listeners.append(on_progress)
        self.tickets.append(ticket)
        try:
            self.schedule()
            worker = await ticket.future
        except BaseException:
            if ticket in self.tickets:
                self.tickets.remove(ticket)
            if (
                ticket.future.done()
                and not ticket.future.cancelled()
                and ticket.future.exception() is None
            ):
                self._release(slot)  # admitted at the moment we were cancelled
            self.schedule()
            raise
        finally:
            if on_progress is not None and on_progress in slot.listeners:
                slot.listeners.remove(on_progress)
        try:
            yield worker
        finally:
            self._release(slot)
            self.schedule()

    @contextlib.asynccontextmanager
    async def idle_worker(self, name: str) -> AsyncIterator[WorkerProcess | None]:
        """This model's worker if it is resident, idle and wanted by no queued request; else None.

        For work that must never wait for a load or delay a request (a KV-cache prefill).
        """
        slot = self.slots.get(name)
        if (
            self.closed
            or slot is None
            or slot.state != "idle"
            or slot.worker is None
            or not slot.worker.alive
            or self._wanted(name)
        ):
            yield None
            return
        slot.state = "busy"
        try:
            yield slot.worker
        finally:
            self._release(slot)
            self.schedule()

    def _release(self, slot: Slot) -> None:
        slot.last_used = time.monotonic()
        if slot.state != "busy":
            return
        if slot.worker is None or not slot.worker.alive:
            slot.state, slot.worker, slot.loaded_at = "absent", None, None
        else:
            slot.state = "idle"
        self._notify()

    # --- the planner loop ---------------------------------------------------

    def schedule(self) -> None:
        if self.closed:
            return
        for slot in self.slots.values():
            if slot.state == "idle" and (slot.worker is None or not slot.worker.alive):
                log.info("worker for '%s' is gone; it reloads on the next request", slot.spec.name)
                slot.state, slot.worker, slot.loaded_at = "absent", None, None
            if slot.state == "idle" and slot.retire and not self._wanted(slot.spec.name):
                self._spawn(self._unload(slot, reason="its file changed or was removed"))
        for name, slot in self.slots.items():
            slot.load_s = self.expected_load_s(name)
        views = {name: slot.view() for name, slot in self.slots.items()}
        waiting = [Waiting(t.seq, t.model, t.arrived) for t in self.tickets]
        plan = self.planner.plan(views, waiting, time.monotonic())
        by_seq = {ticket.seq: ticket for ticket in self.tickets}
        for seq, reason in plan.reject.items():
            ticket = by_seq[seq]
            self.tickets.remove(ticket)
            if not ticket.future.done():
                ticket.future.set_exception(BudgetExceeded(reason))
        evictions = []
        for name in plan.evict:
            evictions.append(self._spawn(self._unload(self.slots[name], reason="making room")))
            self.evictions += 1
        for name in plan.load:
            slot = self.slots[name]
            slot.state = "loading"
            self._spawn(self._load(slot, evictions))
        for seq in plan.start:
            ticket = by_seq[seq]
            slot = self.slots[ticket.model]
            self.tickets.remove(ticket)
            if ticket.future.done():
                continue
            assert slot.worker is not None
            slot.state = "busy"
            ticket.future.set_result(slot.worker)
        self._notify()

    def _wanted(self, name: str) -> bool:
        return any(ticket.model == name for ticket in self.tickets)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    async def wait_change(self) -> None:
        await self.changed.wait()

    # --- loading and unloading ----------------------------------------------

    async def _load(self, slot: Slot, after: list[asyncio.Task[Any]]) -> None:
        if after:
            await asyncio.gather(*after, return_exceptions=True)
        spec = slot.spec
        name = spec.name
        started = time.perf_counter()
        worker: WorkerProcess | None = None

        try:
            if spec.path is None:
                raise ModelError(f"model '{name}' has no local file; it cannot run in a worker")
            slot.progress(0.0)
            # Header checks (cached per size and mtime) name the cause of a bad file.
            await asyncio.to_thread(read_gguf_info, spec.path)
            worker = await self._take_worker(name)
            try:
                info = await self._load_in(worker, slot)
            except WorkerCrashed as exc:
                fault = native_fault(exc)
                if fault is None or slot.safe_reason is not None or not self.safe_mode.can_heal():
                    raise
                await worker.kill()
                worker = None
                log.warning(
                    "model '%s' crashed while loading (%s); retrying in safe mode", name, fault
                )
                await self.enter_safe_mode(
                    spec, f"its worker was killed by {fault} while loading in normal mode"
                )
                worker = await self._take_worker(name)
                info = await self._load_in(worker, slot)
        except BaseException as exc:
            if worker is not None:
                await worker.kill()
            slot.state = "absent"
            error = exc
            if isinstance(exc, WorkerCrashed):
                error = load_crash_error(name, exc, safe=bool(slot.safe_reason))
            elif not isinstance(exc, LocalForgeError):
                if isinstance(exc, asyncio.CancelledError):
                    raise
                log.exception("loading '%s' failed", name)
                error = ModelError(f"model '{name}' failed to load: {exc}")
            self._fail_waiting(name, error)
            self.schedule()
            return
        load_ms = (time.perf_counter() - started) * 1000
        slot.worker, slot.load_info, slot.state = worker, info, "idle"
        slot.loaded_at = time.time()
        slot.last_used = slot.since = time.monotonic()
        self.loads += 1
        slot.progress(1.0)
        log.info("loaded '%s' in %.0f ms (pid %s)", name, load_ms, worker.pid)
        if self.on_loaded is not None:
            result = self.on_loaded(name, load_ms)
            if asyncio.iscoroutine(result):
                self._spawn(result)
        self.schedule()

    async def _load_in(self, worker: WorkerProcess, slot: Slot) -> LoadInfo:
        assert slot.spec.path is not None

        return await worker.load(
            slot.spec.path,
            n_ctx=slot.spec.n_ctx,
            n_gpu_layers=slot.spec.n_gpu_layers,
            main_gpu=gpu_index(slot.device),
            timeout=self.load_timeout_s(),
            on_progress=slot.progress,
            checked=True,
            safe=slot.safe_reason is not None,
        )

    async def enter_safe_mode(self, spec: ModelSpec, reason: str) -> None:
        """From now on this model loads in safe mode (remembered for this file and machine)."""
        slot = self.slot(spec)
        slot.safe_reason = reason
        await self.safe_mode.remember(spec, reason)

    async def _take_worker(self, name: str) -> WorkerProcess:
        """A started worker for ``name``: the warm spare when there is one."""
        worker, self._spare = self._spare, None
        if worker is None or not worker.alive:
            if worker is not None:
                await worker.kill()
            worker = WorkerProcess(name, log_path=self.log_path)
            await worker.start()
        worker.model = name
        if self.keep_spare:
            self._spawn(self.warm_spare())
        return worker

    async def warm_spare(self) -> None:
        """Start a worker with llama.cpp imported, so the next load skips interpreter start-up."""
        if self.closed or not self.keep_spare or self._spare is not None:
            return
        worker = WorkerProcess("(spare)", log_path=self.log_path)
        await worker.start()
        if self.closed or self._spare is not None:
            await worker.kill()
        else:
            self._spare = worker

    @property
    def log_path(self) -> Path:
        return self.log_dir / "workers.log"

    def _fail_waiting(self, name: str, error: BaseException) -> None:
        for ticket in [t for t in self.tickets if t.model == name]:
            self.tickets.remove(ticket)
            if not ticket.future.done():
                ticket.future.set_exception(error)

    async def _unload(self, slot: Slot, *, reason: str) -> None:
        if slot.state not in ("idle", "absent"):
            return
        worker, slot.worker = slot.worker, None
        slot.state = "unloading"
        log.info("unloading '%s': %s", slot.spec.name, reason)
        try:
            if worker is not None:
                await worker.stop()
        finally:
            slot.state, slot.loaded_at, slot.load_info = "absent", None, None
            slot.retire = False
            if not self.closed:
                self.schedule()

    async def unload(self, name: str, *, reason: str = "requested") -> bool:
        """Unload once the model is idle (never while it serves); False if it was not resident."""
        slot = self.slots.get(name)
        if slot is None:
            return False
        while slot.state in ("loading", "busy", "unloading"):
            await self.wait_change()
        if slot.state == "absent":
            return False
        await self._unload(slot, reason=reason)
        return True

    def expire(self) -> list[str]:
        default = self.default_ttl_s() or None
        views = {name: slot.view(default) for name, slot in self.slots.items()}
        waiting = [Waiting(t.seq, t.model, t.arrived) for t in self.tickets]
        names = self.planner.expired(views, waiting, time.monotonic())
        for name in names:
            self._spawn(self._unload(self.slots[name], reason="idle past its TTL"))
        return names

    def forget(self, name: str) -> None:
        """The model left the registry: unload it once in-flight work ends."""
        slot = self.slots.get(name)
        if slot is None:
            return
        slot.retire = True
        slot.pinned = False
        self.schedule()

    async def close(self) -> None:
        self.closed = True
        for ticket in self.tickets:
            if not ticket.future.done():
                ticket.future.set_exception(
                    Unavailable("the daemon is shutting down; retry once it is back")
                )
        self.tickets.clear()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        workers = [slot.worker for slot in self.slots.values() if slot.worker is not None]
        if self._spare is not None:
            workers.append(self._spare)
            self._spare = None
        await asyncio.gather(
            *(worker.stop(timeout=5.0) for worker in workers), return_exceptions=True
        )
        for slot in self.slots.values():
            slot.state, slot.worker = "absent", None
