"""Small helpers for output meant for people."""

from __future__ import annotations

from collections.abc import Sequence


def duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{value}{unit}" for value, unit in parts if value]
    return "".join(shown[:2]) or "0s"


def bar(fraction: float, width: int = 20) -> str:
    fraction = min(max(fraction, 0.0), 1.0)
    filled = round(fraction * width)
    return "█" * filled + "░" * (width - filled)


def table(rows: Sequence[Sequence[object]], headers: Sequence[str] | None = None) -> str:
    cells = [[str(c) for c in row] for row in ([headers] if headers else []) + list(rows)]
    if not cells:
        return ""
    widths = [max(len(row[i]) for row in cells if i < len(row)) for i in range(len(cells[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def skipped_line(classification: dict[str, object], width: int = 64) -> str | None:
    """The 'skipped' line of a classification: the text its n-grams did not read (answer
    format, chat-template markup, few-shot examples), on one line, clipped."""
    skipped = " ".join(str(classification.get("skipped_text") or "").split())
    if not skipped:
        return None
    if len(skipped) > width:
        skipped = skipped[: width - 1] + "…"
    return f"skipped   {skipped!r}: answer format, template or examples, not the task"
