"""Positions in LSP terms (line, UTF-16 column) and code point offsets into a document."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DocumentView:
    """What a completion needs of an open document, at one version."""

    uri: str
    text: str
    language_id: str | None = None
    path: str | None = None
    version: int | None = None


def line_start(text: str, line: int) -> int:
    """Offset of the first character of ``line`` (the end of the text past the last line)."""
    start = 0
    for _ in range(line):
        found = text.find("\n", start)
        if found < 0:
            return len(text)
        start = found + 1
    return start


def utf16_to_index(line: str, units: int) -> int:
    """Code point index in ``line`` of a UTF-16 column (clamped to the line)."""
    if line.isascii():
        return min(units, len(line))
    counted = 0
    for index, char in enumerate(line):
        if counted >= units:
            return index
        counted += 2 if ord(char) > 0xFFFF else 1
    return len(line)


def index_to_utf16(line: str, index: int) -> int:
    head = line[:index]
    if head.isascii():
        return len(head)
    return len(head.encode("utf-16-le")) // 2


def offset_at(text: str, line: int, character: int) -> int:
    """The code point offset of an LSP position (line, UTF-16 character)."""
    start = line_start(text, line)
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    return start + utf16_to_index(text[start:end], character)


def position_at(text: str, offset: int) -> tuple[int, int]:
    """The LSP position (line, UTF-16 character) of a code point offset."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return line, index_to_utf16(text[start:offset], offset - start)
