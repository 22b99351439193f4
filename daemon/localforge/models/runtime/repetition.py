"""Stop a generation that has fallen into a loop.

Small models, base models above all, sometimes repeat one short piece forever:
``5555…`` for 512 tokens, or the same sentence over and over. The guard watches
the generated pieces (one per token) and trips when the newest ones are a single
n-gram of at most ``max_period`` tokens repeated back to back, covering at least
``min_span`` tokens and at least ``min_repeats`` repeats. With the defaults that
is 32 copies of one token, 8 of a 4-token phrase, or 4 of a 16-token sentence:
far past anything an answer means to say twice.

The generation then ends with finish_reason ``"repetition"``; the text streamed
so far is kept, so what the client saw and what it is told agree.
"""

from __future__ import annotations

from collections import deque

MAX_PERIOD = 16  # longest repeated unit, in tokens
MIN_REPEATS = 4  # copies of that unit
MIN_SPAN = 32  # tokens the loop must cover at least


class RepetitionGuard:
    def __init__(
        self, max_period: int = MAX_PERIOD, min_repeats: int = MIN_REPEATS, min_span: int = MIN_SPAN
    ) -> None:
        if max_period < 1 or min_repeats < 2 or min_span < 2:
            raise ValueError("max_period >= 1, min_repeats >= 2 and min_span >= 2 are needed")
        self.max_period = max_period
        self.min_repeats = min_repeats
        self.min_span = min_span
        self._window = max(min_span, max_period * min_repeats)
        self._tail: deque[str] = deque(maxlen=self._window)
        self.period: int | None = None  # the unit's length once tripped

    def add(self, piece: str) -> bool:
        """Take the next piece; True when the tail is now a loop."""
        self._tail.append(piece)
        tail = list(self._tail)
        for period in range(1, self.max_period + 1):
            span = max(self.min_span, period * self.min_repeats)
            if len(tail) < span:
                break  # longer periods need a longer span still
            window = tail[-span:]
            if window[period:] == window[:-period]:
                self.period = period
                return True
        return False
