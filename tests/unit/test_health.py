"""The circuit breaker: failures in a row cool a model down, with a growing back-off."""

from __future__ import annotations

from localforge.models.runtime.health import HealthBook


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def book(clock: Clock) -> HealthBook:
    return HealthBook(threshold=lambda: 3, base_s=lambda: 30.0, max_s=3600.0, clock=clock)


def test_a_model_cools_down_after_three_failures_in_a_row() -> None:
    clock = Clock()
    health = book(clock)
    health.failure("m", "timeout")
    health.failure("m", "timeout")
    assert health.cooling_until("m") is None and health.describe("m")["state"] == "healthy"
    health.failure("m", "crashed")
    assert health.cooling_until("m") == 1030.0
    described = health.describe("m")
    assert described["state"] == "cooling" and described["last_error"] == "crashed"
    assert described["retry_in_s"] == 30.0


def test_the_back_off_doubles_and_is_capped() -> None:
    clock = Clock()
    health = book(clock)
    for _ in range(4):
        health.failure("m", "x")
    assert health.cooling_until("m") == 1060.0
    for _ in range(20):
        health.failure("m", "x")
    assert health.cooling_until("m") == 1000.0 + 3600.0


def test_one_success_closes_the_breaker_and_time_reopens_routing() -> None:
    clock = Clock()
    health = book(clock)
    for _ in range(3):
        health.failure("m", "x")
    clock.now += 31
    assert health.cooling_until("m") is None, "tried again after the back-off"
    health.failure("m", "x")
    assert health.cooling_until("m") is not None
    health.success("m")
    assert health.describe("m") == {"state": "healthy", "failures": 0}


def test_a_broken_model_says_why_and_cools_longest() -> None:
    clock = Clock()
    health = book(clock)
    health.broken("m", "crashes in safe mode too")
    assert health.describe("m")["state"] == "broken"
    assert health.unhealthy()["m"]["broken"] == "crashes in safe mode too"
    assert health.cooling_until("m") == 4600.0
