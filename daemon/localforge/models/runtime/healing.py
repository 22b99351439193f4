"""Healing a native crash: safe mode on a fault, a typed error when safe mode crashes too.

A worker that dies of SIGSEGV/SIGILL/SIGBUS/SIGABRT while loading, or at its first
decode before any token, is what a broken CPU kernel looks like (llama.cpp's AMX
matrix kernel on some machines): the model is restarted in safe mode and the
request answered. A crash in safe mode too marks the model broken. What counts as
a health event for the breaker (``HealthBook``) is decided here as well.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol

from localforge.errors import BudgetExceeded, LocalForgeError, ModelError, Timeout, WorkerCrashed
from localforge.models.catalogue.spec import ModelSpec
from localforge.models.runtime.health import HealthBook
from localforge.models.runtime.worker import GenerateRequest, Generation, OnProgress, OnToken

if TYPE_CHECKING:
    from localforge.models.runtime.pool import ModelPool

log = logging.getLogger(__name__)

# Deaths that look like a native fault in llama.cpp, which safe mode may avoid.
NATIVE_FAULTS = (signal.SIGSEGV, signal.SIGILL, signal.SIGBUS, signal.SIGABRT)


class SafeModePolicy(Protocol):
    def initial(self, spec: ModelSpec) -> str | None:
        """Why this model starts in safe mode, or None for normal mode."""
        ...

    def can_heal(self) -> bool:
        """Whether a crash in normal mode may switch a model to safe mode."""
        ...

    def remember(self, spec: ModelSpec, reason: str) -> Awaitable[None]: ...


class NeverSafe:
    def initial(self, spec: ModelSpec) -> str | None:
        return None

    def can_heal(self) -> bool:
        return False

    async def remember(self, spec: ModelSpec, reason: str) -> None:
        return None


def native_fault(exc: WorkerCrashed) -> str | None:
    """The signal's name when the worker died of a native fault, else None."""
    code = (exc.data or {}).get("exit_code")
    if isinstance(code, int) and code < 0 and -code in NATIVE_FAULTS:
        return signal.Signals(-code).name
    return None


def broken_in_safe_mode(name: str, when: str, exc: WorkerCrashed) -> ModelError:
    """The error for a model that crashes llama.cpp even without its extra buffer types."""
    fault = native_fault(exc) or "a crash"
    return ModelError(
        f"model '{name}' crashes llama.cpp on this machine in safe mode too ({fault} {when}): "
        "its file may be corrupt or its architecture unsupported by this llama-cpp-python; "
        "re-download it, try another quantisation, or upgrade llama-cpp-python",
        data={"model": name, "cause": "broken", "signal": fault},
    )


def load_crash_error(name: str, exc: WorkerCrashed, *, safe: bool) -> ModelError:
    """The error for a worker that died while loading (in safe mode when ``safe``)."""
    if safe and native_fault(exc):
        return broken_in_safe_mode(name, "while loading", exc)
    return ModelError(
        f"model '{name}' crashed its worker while loading ({exc.message}); "
        "the file is probably corrupt or unsupported by this llama.cpp: re-download it",
        data={"model": name, "cause": "crash"},
    )


def health_event(book: HealthBook, name: str, exc: LocalForgeError) -> None:
    """Crashes, failed loads, timeouts and refusals feed the breaker; nothing else does."""
    if isinstance(exc, ModelError) and (exc.data or {}).get("cause") == "broken":
        book.broken(name, exc.message)
    elif isinstance(exc, WorkerCrashed | ModelError | Timeout | BudgetExceeded):
        book.failure(name, exc.message)


async def generate_healing(
    pool: ModelPool,
    spec: ModelSpec,
    request: GenerateRequest,
    emit: OnToken | None,
    on_progress: OnProgress | None,
    *,
    timeout: float,
    started: float,
    wall_start: float,
    policy: SafeModePolicy,
) -> tuple[Generation, float, bool]:
    """Generate on the model's worker; heal a native crash at its first decode once.

    Returns the generation, the milliseconds waited for the worker since ``started``
    (``time.perf_counter``), and whether the model was loaded after ``wall_start``
    (``time.time``) for this request.
    """
    for attempt in (1, 2):
        emitted = 0

        def counted(piece: str) -> None:
            nonlocal emitted
            emitted += 1
            if emit is not None:
                emit(piece)

        async with pool.serving(spec, on_progress) as worker:
            waited = (time.perf_counter() - started) * 1000
            slot = pool.slots[spec.name]
            loaded = slot.loaded_at is not None and slot.loaded_at >= wall_start
            first = worker.generations == 0
            try:
                generation = await worker.generate(request, on_token=counted, timeout=timeout)
                return generation, waited, loaded
            except WorkerCrashed as exc:
                fault = native_fault(exc)
                if not first or emitted or fault is None:
                    raise
                if slot.safe_reason is not None:
                    raise broken_in_safe_mode(spec.name, "at its first decode", exc) from exc
                if attempt == 2 or not policy.can_heal():
                    raise
                log.warning(
                    "model '%s' crashed at its first decode (%s); retrying in safe mode",
                    spec.name,
                    fault,
                )
                await pool.enter_safe_mode(
                    spec, f"its worker was killed by {fault} at the first decode in normal mode"
                )
    raise AssertionError("unreachable: the second attempt returns or raises")
