"""What the user did with each suggestion, as outcomes for the memory; no clicks needed.

LSP has no shown or dismissed events, so the plugins send ``localforge/didShow``,
``localforge/didPartiallyAccept`` and ``localforge/didReject`` and the accept
command carries the request id. The rules (Continue's and Copilot's):

- accepted: 1; partially accepted: ``acceptedLength / length`` in UTF-16 units
  from the start of the suggestion (a later, larger part replaces an earlier one);
  rejected: 0 (dismissed, superseded, or shown ``reject_after_s`` without acceptance);
- a suggestion shown for less than ``min_shown_s`` counts for nothing: the user
  typed through it;
- a suggestion that leaves the screen because the next completion at its
  document was not served from it was superseded;
- ``persistence_s`` after an accept the document is checked: when less than
  ``min_kept`` of the accepted text is still there, the outcome is revised down
  to the share kept.

``FeedbackBook`` is pure: each method returns the outcomes to record.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import dataclass

from localforge.lsp.cache import Suggestion

KEEP_S = 600.0  # a suggestion nobody reported on is forgotten after this
CONTEXT_CHARS = 200  # around the accepted text when checking what is left of it


@dataclass(frozen=True)
class Outcome:
    request_id: str
    kind: str  # accepted | partial | rejected
    value: float
    reason: str


@dataclass
class Tracked:
    suggestion: Suggestion
    served_at: float
    served_from: int = 0  # characters already typed when the item on screen was served
    shown_at: float | None = None
    state: str = "served"  # served | shown | partial | accepted | rejected | ignored
    partial: float = 0.0
    accepted_at: float | None = None
    checked: bool = False


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def kept_share(accepted: str, document: str, offset: int) -> float:
    """How much of ``accepted`` (inserted at ``offset``) is still in ``document``."""
    if not accepted:
        return 1.0
    start = max(0, offset - CONTEXT_CHARS)
    region = document[start : offset + 2 * len(accepted) + CONTEXT_CHARS]
    matcher = difflib.SequenceMatcher(None, accepted, region, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return matched / len(accepted)


class FeedbackBook:
    def __init__(
        self,
        *,
        min_shown_s: float,
        reject_after_s: float,
        persistence_s: float,
        min_kept: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_shown_s = min_shown_s
        self.reject_after_s = reject_after_s
        self.persistence_s = persistence_s
        self.min_kept = min_kept
        self.clock = clock
        self.tracked: dict[str, Tracked] = {}
        self._on_screen: dict[str, str] = {}  # uri -> request id shown there

    def served(self, suggestion: Suggestion, typed: int = 0) -> None:
        """An item of this suggestion went to the editor (``typed`` characters in)."""
        entry = self.tracked.get(suggestion.request_id)
        if entry is None:
            entry = Tracked(suggestion, self.clock())
            self.tracked[suggestion.request_id] = entry
        entry.served_from = typed
        entry.served_at = self.clock()

    def completion_requested(self, uri: str, served: str | None) -> list[Outcome]:
        """A completion at ``uri`` was answered by ``served`` (None: nothing to show)."""
        shown = self._on_screen.get(uri)
        if shown is None or shown == served:
            return []
        del self._on_screen[uri]
        return self._hidden(shown, "superseded by the next completion")

    def shown(self, request_id: str) -> list[Outcome]:
        entry = self.tracked.get(request_id)
        if entry is None:
            return []
        outcomes: list[Outcome] = []
        uri = entry.suggestion.uri
        previous = self._on_screen.get(uri)
        if previous is not None and previous != request_id:
            outcomes += self._hidden(previous, "superseded by another suggestion")
        self._on_screen[uri] = request_id
        if entry.shown_at is None or entry.state == "ignored":
            entry.shown_at = self.clock()
        if entry.state in ("served", "ignored"):
            entry.state = "shown"
        return outcomes

    def rejected(self, request_id: str) -> list[Outcome]:
        entry = self.tracked.get(request_id)
        if entry is None:
            return []
        if self._on_screen.get(entry.suggestion.uri) == request_id:
            del self._on_screen[entry.suggestion.uri]
        return self._hidden(request_id, "dismissed")

    def partially_accepted(self, request_id: str, accepted_length: int) -> list[Outcome]:
        entry = self.tracked.get(request_id)
        if entry is None or entry.state == "accepted":
            return []
        text = entry.suggestion.text
        total = utf16_len(text)
        before = utf16_len(text[: entry.served_from])
        value = min(1.0, max(0.0, (before + max(0, accepted_length)) / max(total, 1)))
        if value >= 1.0:
            return self.accepted(request_id)
        if entry.shown_at is None:
            entry.shown_at = self.clock()
        if value <= entry.partial and entry.state == "partial":
            return []
        entry.state, entry.partial = "partial", value
        return [Outcome(request_id, "partial", round(value, 4), "partially accepted")]

    def accepted(self, request_id: str) -> list[Outcome]:
        entry = self.tracked.get(request_id)
        if entry is None:
            return [Outcome(request_id, "accepted", 1.0, "accepted")]
        entry.state, entry.accepted_at = "accepted", self.clock()
        if self._on_screen.get(entry.suggestion.uri) == request_id:
            del self._on_screen[entry.suggestion.uri]
        return [Outcome(request_id, "accepted", 1.0, "accepted")]

    def tick(self, text_of: Callable[[str], str | None]) -> list[Outcome]:
        """Time-based rules: shown too long without acceptance, and persistence of accepts."""
        now = self.clock()
        outcomes: list[Outcome] = []
        for request_id, entry in list(self.tracked.items()):
            if (
                entry.state == "shown"
                and entry.shown_at is not None
                and now - entry.shown_at >= self.reject_after_s
            ):
                entry.state = "rejected"
                if self._on_screen.get(entry.suggestion.uri) == request_id:
                    del self._on_screen[entry.suggestion.uri]
                outcomes.append(Outcome(request_id, "rejected", 0.0, "shown without acceptance"))
            elif (
                entry.state == "accepted"
                and not entry.checked
                and entry.accepted_at is not None
                and now - entry.accepted_at >= self.persistence_s
            ):
                entry.checked = True
                document = text_of(entry.suggestion.uri)
                if document is not None:
                    share = kept_share(entry.suggestion.text, document, entry.suggestion.offset)
                    if share < self.min_kept:
                        outcomes.append(
                            Outcome(
                                request_id,
                                "partial",
                                round(share, 4),
                                "most of the accepted text was deleted",
                            )
                        )
            stale = now - entry.served_at > KEEP_S and entry.state != "accepted"
            if stale or entry.checked:
                del self.tracked[request_id]
        return outcomes

    def _hidden(self, request_id: str, reason: str) -> list[Outcome]:
        entry = self.tracked.get(request_id)
        if entry is None or entry.state not in ("served", "shown"):
            return []
        shown_for = None if entry.shown_at is None else self.clock() - entry.shown_at
        if shown_for is None or shown_for < self.min_shown_s:
            entry.state = "ignored"  # typed through it: counts for nothing
            return []
        entry.state = "rejected"
        return [Outcome(request_id, "rejected", 0.0, reason)]
