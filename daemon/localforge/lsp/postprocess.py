"""Turn what the model wrote into a suggestion worth showing.

The rules, in order:
- mid-line (text after the cursor on its line): one line only, and the part that
  repeats the rest of the line is dropped (``foo(|)`` + ``a, b)`` shows ``a, b``);
- at the end of a line or on an empty one: several lines, up to where the
  indentation drops below the cursor's block (after a block opener such as
  ``def f():`` the block is its body, so the next statement at the opener's
  level ends it);
- lines that repeat the lines already after the cursor are dropped, with
  everything after them;
- repetition loops are cut: a line (or a block of up to four lines) that
  repeats the one before it, and a short unit repeated many times in a line;
- never whitespace only: such a suggestion becomes ``""`` (nothing to show).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_OPENERS = (":", "{", "(", "[", "=>", "->", " do", " then", "=")
_CLOSERS = ("}", ")", "]", "end", "fi", "done", "esac")
_PAIRS = {"(": ")", "[": "]", "{": "}"}
_LOOP = re.compile(r"(.{1,12}?)\1{7,}")  # a unit of 1-12 chars repeated 8+ times in a row


def indent_of(line: str) -> int:
    """Columns of leading whitespace (a tab counts as 4)."""
    width = 0
    for char in line:
        if char == " ":
            width += 1
        elif char == "\t":
            width += 4
        else:
            break
    return width


def postprocess(
    text: str, *, line_prefix: str, line_suffix: str, next_lines: Sequence[str] = ()
) -> str:
    """The suggestion to show for ``text`` generated at a cursor with this context."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if line_suffix.strip():
        first = text.split("\n", 1)[0]
        return _visible(_cut_inline_loop(_drop_repeated_suffix(first, line_suffix.strip())))
    lines = text.split("\n")
    lines = _cut_at_dedent(lines, line_prefix)
    lines = _cut_repeating_next_lines(lines, line_prefix, next_lines)
    lines = _cut_loops(lines)
    if lines:
        lines[0] = _cut_inline_loop(lines[0])
    return _visible("\n".join(lines))


def block_stop_pattern(line_prefix: str) -> str | None:
    """A regex that stops generation where the block rule would cut (None: no such line).

    The daemon stops the model at the first line the dedent rule drops, instead of
    generating tokens only to throw them away. Post-processing still runs after it.
    """
    head = line_prefix[: len(line_prefix) - len(line_prefix.lstrip())]
    unit, width = ("\t", len(head)) if "\t" in head else (" ", len(head))
    if line_prefix.strip() and line_prefix.rstrip().endswith(_OPENERS):
        closers = "".join(sorted({c for c in _PAIRS.values()}))
        return f"\n[{unit}]{{0,{width}}}(?=[^\\s{re.escape(closers)}])"
    if width == 0:
        return None  # nothing is indented below column 0
    return f"\n[{unit}]{{0,{width - 1}}}(?=\\S)"


def _visible(text: str) -> str:
    text = text.rstrip()
    return text if text.strip() else ""


def _balance(text: str) -> int:
    """Open brackets minus closed ones (ignoring quotes: a heuristic, like the rest)."""
    depth = 0
    for char in text:
        if char in _PAIRS:
            depth += 1
        elif char in _PAIRS.values():
            depth -= 1
    return depth


def _drop_repeated_suffix(line: str, suffix: str) -> str:
    """Cut the line where it goes on to write the text already after the cursor."""
    start = line.find(suffix)
    while start >= 0:
        if _balance(line[:start]) == 0:
            return line[:start]
        start = line.find(suffix, start + 1)
    for size in range(min(len(line), len(suffix)), 0, -1):  # tail that overlaps the suffix
        if line.endswith(suffix[:size]) and _balance(line[:-size]) <= 0:
            return line[:-size]
    return line


def _cut_at_dedent(lines: list[str], line_prefix: str) -> list[str]:
    """Keep the lines inside the cursor's block."""
    if len(lines) < 2:
        return lines
    head = line_prefix + lines[0]
    base = indent_of(line_prefix) if not line_prefix.strip() else indent_of(head)
    opens = head.rstrip().endswith(_OPENERS) or line_prefix.rstrip().endswith(_OPENERS)
    kept = [lines[0]]
    body = 0
    for line in lines[1:]:
        if not line.strip():
            kept.append(line)
            continue
        indent = indent_of(line)
        if opens:
            if indent > base:
                body += 1
                kept.append(line)
                continue
            if indent == base and line.strip().startswith(_CLOSERS):
                kept.append(line)  # the opener's own closing line ends the block
            break
        if indent < base:
            break
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return kept


def _cut_repeating_next_lines(
    lines: list[str], line_prefix: str, next_lines: Sequence[str]
) -> list[str]:
    """Stop where the suggestion starts writing the lines that already follow the cursor."""
    following = [line.strip() for line in next_lines if line.strip()]
    if not following:
        return lines
    first_full = 0 if not line_prefix.strip() else 1  # lines[0] completes the cursor line
    for index in range(first_full, len(lines)):
        stripped = lines[index].strip()
        if stripped and stripped == following[0]:
            return lines[:index]
    return lines


def _cut_loops(lines: list[str]) -> list[str]:
    """Cut at the first line (or block of up to 4 lines) that repeats the one before it."""
    stripped = [line.strip() for line in lines]  # the first line lacks the cursor's indent
    for index in range(1, len(lines)):
        for size in range(1, 5):
            if index - size < 0 or index + size > len(lines):
                continue
            block = stripped[index : index + size]
            if block != stripped[index - size : index]:
                continue
            if sum(len(line) for line in block) >= 4:
                return lines[:index]
    return lines


def _cut_inline_loop(line: str) -> str:
    """``x = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, …`` keeps the run's first two units."""
    match = _LOOP.search(line)
    if match is None:
        return line
    unit = match.group(1)
    return line[: match.start() + 2 * len(unit)]
