"""Healing a native crash: safe mode on a fault, a typed error when safe mode crashes too.

A worker that dies of SIGSEGV/SIGILL/SIGBUS/SIGABRT while loading, or at its first
decode before any token, is what a broken CPU kernel looks like (llama.cpp's AMX
matrix kernel on some machines): the model is restarted in safe mode and the
request answered. A crash in safe mode too marks the model broken.
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable
from typing import Protocol

from localforge.errors import ModelError, WorkerCrashed
from localforge.models.catalogue.spec import ModelSpec

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
