"""What one connection may make the daemon hold, in one place.

- **Calls in flight**: at most ``max_in_flight`` calls of a connection run at once, each call of
  a batch counting as one. Decoded calls beyond that wait (at most ``max_queued`` of them, or one
  batch) and the client is not read meanwhile.
- **Answer size**: no answer, batch answer or stream notification is larger than the frame cap
  (``daemon.max_frame_bytes``): lfd never sends a frame it would refuse to read. An answer over
  it is replaced by an ``AnswerTooLarge`` error that names the cap; in a batch, so are the
  answers that no longer fit, and the calls after them are not run.
- **Turns**: a connection handles at most ``steps_per_turn`` frames or batch elements before
  the event loop serves the others, however many of them need no slot (invalid ones, cancels).
- **Unread output**: a client whose unsent output passes the transport's high-water mark is
  paused (nothing more is read from it and none of its calls start); one that leaves more than
  ``output_budget`` bytes unread (stream notifications of calls already running, answers) is
  closed when lfd next has something for it, and the reason is logged. A frame is written
  whole while less than the budget waits unread, so the daemon holds at most the budget
  plus one answer for a connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from localforge.errors import AnswerTooLarge

MAX_IN_FLIGHT = 64
STEPS_PER_TURN = 64
OUTPUT_BUDGET = 4 * 1024 * 1024


@dataclass(frozen=True)
class Budget:
    answer_cap: int
    max_in_flight: int = MAX_IN_FLIGHT
    output_budget: int = OUTPUT_BUDGET
    steps_per_turn: int = STEPS_PER_TURN

    @property
    def max_queued(self) -> int:
        """Decoded calls that may wait for a slot before the client stops being read."""
        return self.max_in_flight

    def has_room(self, running: int) -> bool:
        return running < self.max_in_flight

    def answer_too_large(self, size: int, what: str) -> AnswerTooLarge:
        return AnswerTooLarge(
            f"the answer to {what} is {size} bytes, over the {self.answer_cap}-byte cap "
            "(daemon.max_frame_bytes); ask for less at a time or raise the cap"
        )

    def batch_too_large(self, what: str) -> AnswerTooLarge:
        return AnswerTooLarge(
            f"the answer to {what} would take the batch's answer over the {self.answer_cap}-byte "
            "cap (daemon.max_frame_bytes); send fewer calls per batch or raise the cap"
        )

    def batch_full(self, method: str) -> AnswerTooLarge:
        return AnswerTooLarge(
            f"{method} was not run: the batch's answer had reached the {self.answer_cap}-byte "
            "cap (daemon.max_frame_bytes) before it; send fewer calls per batch or raise the cap"
        )

    def unread(self, buffered: int) -> str | None:
        """Why a client with ``buffered`` bytes of output it has not read must be closed."""
        if buffered <= self.output_budget:
            return None
        return (
            f"it left {buffered} bytes of answers and stream notifications unread, over the "
            f"{self.output_budget}-byte output budget of a connection; a client must read "
            "what it asked for as it arrives"
        )
