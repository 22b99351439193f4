"""Adaptive debounce: wait for a pause in typing before asking the model.

A fast typist's next key usually comes within their own typical interval, so a
request sent sooner is mostly cancelled by that key: while the recent interval
between keystrokes (an exponential average; pauses over a second are not typing
and are left out) is short, the wait is 1.5 × that interval, up to ``max_ms``.
A slower typist's next key is unlikely to come that soon, so waiting would only
delay the suggestion: the wait is then ``min_ms``. It runs from the last
keystroke, so time the editor already waited counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable

PAUSE_S = 1.0  # a longer gap between keys is a pause, not typing speed
ALPHA = 0.3  # weight of the newest interval in the average
FACTOR = 1.5


class Debounce:
    def __init__(
        self, min_ms: float, max_ms: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.min_ms = min_ms
        self.max_ms = max(max_ms, min_ms)
        self.clock = clock
        self.last_key: float | None = None
        self.interval_ms: float | None = None

    def keystroke(self) -> None:
        now = self.clock()
        if self.last_key is not None:
            gap_ms = (now - self.last_key) * 1000
            if gap_ms < PAUSE_S * 1000:
                if self.interval_ms is None:
                    self.interval_ms = gap_ms
                else:
                    self.interval_ms = ALPHA * gap_ms + (1 - ALPHA) * self.interval_ms
        self.last_key = now

    @property
    def delay_ms(self) -> float:
        if self.interval_ms is None or FACTOR * self.interval_ms > self.max_ms:
            return self.min_ms  # no typing burst: the next key is not expected soon
        return max(self.min_ms, FACTOR * self.interval_ms)

    def remaining_s(self) -> float:
        """How much longer to wait now, counted from the last keystroke."""
        if self.last_key is None:
            return 0.0
        waited = self.clock() - self.last_key
        return max(0.0, self.delay_ms / 1000 - waited)
