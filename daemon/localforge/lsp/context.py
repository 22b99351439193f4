"""What the model sees of the editor: a window around the cursor and chunks of other files.

The window is cut by an estimated token budget, in whole lines: the lines
before the cursor line while the prefix budget lasts (the cursor line up to the
cursor always goes, on top, so the window's start moves only when the cursor
changes lines and the model's cached prompt prefix stays valid while the user
types), the rest of the cursor line and whole lines after it while the suffix
budget lasts. Estimating keeps the server free of a tokenizer; the daemon fits
the prompt to the model's context.

``ChunkRing`` keeps chunks of recently opened, edited, saved and yanked text from
other files (as llama.vim does): exact repeats are ignored and a chunk that is
very similar to a newer one is evicted, so the extra context stays varied.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Pieces a BPE tokenizer rarely merges across: short runs of word characters, single
# punctuation marks and newlines. Runs of spaces mostly merge into their neighbours.
_TOKEN_PIECES = re.compile(r"\w{1,6}|[^\w\s]|\n")
_WORDS = re.compile(r"\w+")
SIMILAR = 0.9  # a newer chunk this similar (Dice over words) to an older one replaces it


def estimate_tokens(text: str) -> int:
    return len(_TOKEN_PIECES.findall(text))


@dataclass(frozen=True)
class Window:
    prefix: str  # text before the cursor sent to the model
    suffix: str  # text after the cursor sent to the model
    line_prefix: str  # the cursor line up to the cursor
    line_suffix: str  # the cursor line after the cursor (no newline)
    next_lines: tuple[str, ...]  # a few whole lines after the cursor line

    @property
    def mid_line(self) -> bool:
        """The cursor has text after it on its line: suggest the rest of one line only."""
        return bool(self.line_suffix.strip())


def cursor_window(
    text: str, offset: int, prefix_tokens: int, suffix_tokens: int, next_lines: int = 4
) -> Window:
    """The window around ``offset`` (a code point index into ``text``)."""
    offset = max(0, min(offset, len(text)))
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    if line_end < 0:
        line_end = len(text)
    line_prefix = text[line_start:offset]
    line_suffix = text[offset:line_end]

    budget = prefix_tokens
    start = line_start
    while start > 0 and budget > 0:
        previous = text.rfind("\n", 0, start - 1) + 1
        cost = estimate_tokens(text[previous:start])
        if cost > budget:
            break
        budget -= cost
        start = previous

    budget = suffix_tokens - estimate_tokens(line_suffix)
    end = line_end
    while end < len(text) and budget > 0:
        following = text.find("\n", end + 1)
        following = len(text) if following < 0 else following
        cost = estimate_tokens(text[end:following])
        if cost > budget:
            break
        budget -= cost
        end = following
    after = text[line_end + 1 : line_end + 1 + 4096].split("\n")[:next_lines]
    if line_end >= len(text):
        after = []
    return Window(
        prefix=text[start:offset],
        suffix=text[offset:end],
        line_prefix=line_prefix,
        line_suffix=line_suffix,
        next_lines=tuple(after),
    )


@dataclass(frozen=True)
class Chunk:
    path: str
    text: str
    words: frozenset[str]
    tokens: int
    added: float


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice coefficient of two word sets: 1 for the same words, 0 for none in common."""
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


class ChunkRing:
    """Recently seen text from the user's files, newest last, deduplicated."""

    def __init__(
        self, capacity: int, chunk_lines: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.chunk_lines = chunk_lines
        self.clock = clock
        self.chunks: deque[Chunk] = deque()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self.chunks)

    def pick(self, path: str, text: str, line: int | None = None) -> Chunk | None:
        """Queue the ``chunk_lines`` lines of ``text`` around ``line`` (from the top if None)."""
        if self.capacity <= 0:
            return None
        lines = text.split("\n")
        if line is None:
            first = 0
        else:
            first = max(0, min(line - self.chunk_lines // 2, len(lines) - self.chunk_lines))
        return self.add(path, lines[first : first + self.chunk_lines])

    def add(self, path: str, lines: Sequence[str]) -> Chunk | None:
        """Add a chunk of lines; whitespace-only and tiny chunks and exact repeats are ignored."""
        if self.capacity <= 0:
            return None
        lines = list(lines)
        while lines and not lines[-1].strip():
            lines.pop()
        if sum(1 for line in lines if line.strip()) < 3:
            return None
        body = "\n".join(lines) + "\n"
        if any(chunk.text == body for chunk in self.chunks):
            return None
        words = frozenset(_WORDS.findall(body))
        kept = [c for c in self.chunks if similarity(c.words, words) <= SIMILAR]
        self.evicted += len(self.chunks) - len(kept)
        chunk = Chunk(path, body, words, estimate_tokens(body), self.clock())
        kept.append(chunk)
        self.chunks = deque(kept[-self.capacity :])
        return chunk

    def extra(self, budget_tokens: int, exclude_path: str | None = None) -> list[Chunk]:
        """The newest chunks that fit ``budget_tokens``, oldest first (nearest the cursor last)."""
        chosen: list[Chunk] = []
        for chunk in reversed(self.chunks):
            if chunk.path == exclude_path:
                continue
            if chunk.tokens > budget_tokens:
                continue
            chosen.append(chunk)
            budget_tokens -= chunk.tokens
        chosen.reverse()
        return chosen
