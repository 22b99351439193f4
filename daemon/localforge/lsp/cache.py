"""Suggestions kept for reuse: an LRU keyed on the context, and typed-ahead.

A suggestion remembers where it was made: the document, the cursor offset, the
text just before the cursor (``anchor``) and just after it (``tail``).

- **Exact hit**: the same anchor and tail again (the user came back, undid an
  edit, or another document has the same context) gives the same suggestion.
- **Typed-ahead**: the user typed the start of a suggestion on screen. The text
  between its origin and the cursor is a prefix of the suggestion, the anchor is
  still before the origin and the tail still after the cursor: the rest of the
  suggestion is served with no model call, under the same request id.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

ANCHOR_CHARS = 1024
TAIL_CHARS = 256
SCAN = 32  # newest suggestions of the same document tried for typed-ahead


@dataclass(frozen=True)
class Suggestion:
    request_id: str
    model: str
    text: str  # the post-processed suggestion at its origin
    uri: str
    offset: int  # code point offset of the cursor it was made at
    anchor: str  # the text before that cursor (up to ANCHOR_CHARS)
    tail: str  # the text after that cursor (up to TAIL_CHARS)

    @property
    def key(self) -> str:
        return context_key(self.anchor, self.tail)


@dataclass(frozen=True)
class Hit:
    suggestion: Suggestion
    typed: int  # characters of the suggestion already typed (0: an exact hit)

    @property
    def remainder(self) -> str:
        return self.suggestion.text[self.typed :]


def context_key(anchor: str, tail: str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(anchor.encode("utf-8", "surrogatepass"))
    digest.update(b"\x00")
    digest.update(tail.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def around(text: str, offset: int) -> tuple[str, str]:
    """The anchor and tail of a cursor at ``offset``."""
    return text[max(0, offset - ANCHOR_CHARS) : offset], text[offset : offset + TAIL_CHARS]


class SuggestionCache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, Suggestion] = OrderedDict()
        self.hits = 0
        self.typed_ahead = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, suggestion: Suggestion) -> None:
        if self.capacity <= 0 or not suggestion.text:
            return
        key = suggestion.key
        self._entries.pop(key, None)
        self._entries[key] = suggestion
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def lookup(self, uri: str, text: str, offset: int) -> Hit | None:
        """A suggestion for the cursor at ``offset`` in ``text``, typed-ahead first."""
        anchor, tail = around(text, offset)
        for suggestion in self._recent(uri):
            typed = offset - suggestion.offset
            if not 0 < typed < len(suggestion.text):
                continue
            if text[suggestion.offset : offset] != suggestion.text[:typed]:
                continue
            start = suggestion.offset - len(suggestion.anchor)
            if start < 0 or text[start : suggestion.offset] != suggestion.anchor:
                continue
            if not text.startswith(suggestion.tail, offset):
                continue
            self.typed_ahead += 1
            self._entries.move_to_end(suggestion.key)
            return Hit(suggestion, typed)
        exact = self._entries.get(context_key(anchor, tail))
        if exact is not None:
            self.hits += 1
            self._entries.move_to_end(exact.key)
            if exact.uri != uri or exact.offset != offset:
                exact = Suggestion(
                    exact.request_id, exact.model, exact.text, uri, offset, anchor, tail
                )
                self._entries[exact.key] = exact  # typed-ahead goes on from here
            return Hit(exact, 0)
        self.misses += 1
        return None

    def _recent(self, uri: str) -> list[Suggestion]:
        found: list[Suggestion] = []
        for suggestion in reversed(self._entries.values()):
            if suggestion.uri == uri:
                found.append(suggestion)
                if len(found) >= SCAN:
                    break
        return found

    def forget(self, uri: str) -> None:
        for key in [k for k, s in self._entries.items() if s.uri == uri]:
            del self._entries[key]
