"""Which worker deaths safe mode may heal, what a crash becomes, and what feeds the breaker."""

from __future__ import annotations

import signal

from localforge.errors import Busy, ModelError, Timeout, WorkerCrashed
from localforge.models.runtime.healing import (
    broken_in_safe_mode,
    health_event,
    load_crash_error,
    native_fault,
)
from localforge.models.runtime.health import HealthBook


def crashed(exit_code: object) -> WorkerCrashed:
    return WorkerCrashed("the worker died", data={"exit_code": exit_code})


def test_a_native_fault_is_a_death_by_segv_ill_bus_or_abrt() -> None:
    assert native_fault(crashed(-signal.SIGSEGV)) == "SIGSEGV"
    assert native_fault(crashed(-signal.SIGABRT)) == "SIGABRT"
    assert native_fault(crashed(-signal.SIGKILL)) is None  # killed, not a kernel bug
    assert native_fault(crashed(1)) is None  # an exit status, not a signal
    assert native_fault(crashed("-11")) is None
    assert native_fault(WorkerCrashed("gone")) is None


def test_a_crash_while_loading_names_a_corrupt_file_or_a_broken_model() -> None:
    normal = load_crash_error("coder", crashed(-signal.SIGSEGV), safe=False)
    assert normal.data == {"model": "coder", "cause": "crash"}
    assert "re-download it" in normal.message
    safe = load_crash_error("coder", crashed(-signal.SIGSEGV), safe=True)
    assert safe.data == {"model": "coder", "cause": "broken", "signal": "SIGSEGV"}
    assert "in safe mode too (SIGSEGV while loading)" in safe.message
    # Safe mode, but no native fault (an exit status): the file is suspect, not the machine.
    assert load_crash_error("coder", crashed(1), safe=True).data == {
        "model": "coder",
        "cause": "crash",
    }


def test_only_health_events_feed_the_breaker() -> None:
    book = HealthBook(threshold=lambda: 1, base_s=lambda: 30.0, clock=lambda: 1000.0)
    health_event(book, "a", Busy("the queue is full"))  # a refusal of the daemon, not the model
    assert book.describe("a")["state"] == "healthy"
    health_event(book, "a", Timeout("no answer in 60 s"))
    assert book.describe("a")["state"] == "cooling"
    broken = broken_in_safe_mode("b", "at its first decode", crashed(-signal.SIGILL))
    health_event(book, "b", broken)
    assert book.describe("b")["state"] == "broken"
    health_event(book, "c", ModelError("bad file"))
    assert book.describe("c")["last_error"] == "bad file"
