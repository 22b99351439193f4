"""Adaptive debounce: the wait follows the typing speed, within bounds."""

from __future__ import annotations

from localforge.lsp.debounce import Debounce


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_without_typing_history_the_wait_is_the_minimum() -> None:
    debounce = Debounce(10, 150, Clock())
    assert debounce.delay_ms == 10
    assert debounce.remaining_s() == 0.0


def test_fast_typing_waits_longer_and_pauses_do_not_count() -> None:
    clock = Clock()
    debounce = Debounce(10, 150, clock)
    for _ in range(10):
        debounce.keystroke()
        clock.now += 0.08
    assert 100 <= debounce.delay_ms <= 150
    clock.now += 5  # a pause: not a typing interval
    debounce.keystroke()
    assert 100 <= debounce.delay_ms <= 150


def test_a_slow_typist_is_not_kept_waiting() -> None:
    clock = Clock()
    debounce = Debounce(10, 150, clock)
    for _ in range(5):
        debounce.keystroke()
        clock.now += 0.5  # the next key is not expected within max_ms
    assert debounce.delay_ms == 10


def test_the_wait_counts_from_the_last_keystroke() -> None:
    clock = Clock()
    debounce = Debounce(10, 150, clock)
    for _ in range(5):
        debounce.keystroke()
        clock.now += 0.06
    assert abs(debounce.delay_ms - 90) < 1e-6
    debounce.keystroke()
    clock.now += 0.05
    assert abs(debounce.remaining_s() - 0.04) < 1e-9
    clock.now += 1
    assert debounce.remaining_s() == 0.0
