"""What `lfctl top` draws: a pure function from the daemon's snapshot and decisions to rich.

Kept apart from the loop that reads keys and the socket, so it can be rendered into a
recording console and read back.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lfctl.render import bar

KEPT = 200  # decisions `lfctl top` remembers (the daemon keeps its own bounded feed)
DECISION_COLUMNS = (  # name, width kept however narrow the terminal
    ("time", 8),
    ("id", 8),
    ("door", 6),
    ("task", 10),
    ("winner", 6),
    ("why", None),
    ("route", 6),
    ("latency", 7),
    ("outcome", 7),
)
STATE_STYLES = {
    "idle": "green",
    "busy": "bold green",
    "loading": "cyan",
    "cooling": "yellow",
    "broken": "bold red",
    "unloaded": "dim",
    "unloading": "dim",
}


class Decisions:
    """The latest decisions, completed by their ``result`` and ``outcome`` events."""

    def __init__(self, kept: int = KEPT) -> None:
        self.kept = kept
        self.items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.skipped = 0

    def apply(self, events: Iterable[Mapping[str, Any]], skipped: int = 0) -> None:
        self.skipped += skipped
        for event in events:
            rid = str(event.get("request_id"))
            if event.get("type") == "decision":
                self.items[rid] = dict(event)
                self.items.move_to_end(rid)
                while len(self.items) > self.kept:
                    self.items.popitem(last=False)
            elif rid in self.items:
                fields = {k: v for k, v in event.items() if k not in ("type", "seq")}
                self.items[rid].update(fields)

    def latest(self, count: int) -> list[dict[str, Any]]:
        return list(self.items.values())[-count:][::-1] if count > 0 else []


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _num(value: Any, digits: int = 0, suffix: str = "") -> str:
    return "-" if value is None else f"{float(value):.{digits}f}{suffix}"


def model_state(model: Mapping[str, Any]) -> str:
    state = str(model.get("state"))
    health = model.get("health") or {}
    if state == "loading":
        return f"loading {_num((model.get('progress') or 0) * 100, 0, '%')}"
    if state == "idle":
        left = model.get("unload_in_s")
        return "idle (kept)" if left is None else f"idle, unloads in {_num(left, 0, 's')}"
    if state == "busy":
        return "answering"
    if state == "cooling":
        return f"cooling {_num(health.get('retry_in_s'), 0, 's')}: {health.get('last_error', '')}"
    if state == "broken":
        return f"broken: {health.get('broken') or health.get('last_error') or ''}"
    return state


def render(
    snapshot: Mapping[str, Any],
    decisions: Decisions,
    *,
    rows: int = 10,
    connected: bool = True,
    now: float | None = None,
) -> RenderableType:
    now = time.time() if now is None else now
    head = Text()
    head.append("lfctl top", style="bold")
    head.append(f"  {snapshot.get('requests_per_s', 0):.1f} req/s", style="bold cyan")
    head.append(f"  {snapshot.get('in_flight', 0)} in flight")
    head.append(f"  queue {snapshot.get('queue_depth', 0)}")
    head.append(f"  {snapshot.get('mode') or '?'} mode")
    head.append(f"  {time.strftime('%H:%M:%S', time.localtime(now))}", style="dim")
    if not connected:
        head.append("  (not following decisions: reconnecting)", style="yellow")
    head.append("   q quits", style="dim")

    budgets = Table.grid(padding=(0, 1))
    for device in snapshot.get("budgets", ()):
        budget = device.get("budget_bytes") or 0
        used = device.get("used_bytes") or 0
        budgets.add_row(
            Text(str(device.get("device")), style="bold"),
            bar(used / budget if budget else 0.0, 30),
            f"{fmt_bytes(used)} of {fmt_bytes(budget)}",
        )

    models = Table(title="models", title_justify="left", expand=True, show_edge=False)
    for column in ("model", "state", "memory", "tokens/s", "load", "requests"):
        models.add_column(column, no_wrap=column != "state")
    for model in snapshot.get("models", ()):
        resident = model.get("residency") != "unloaded"
        memory = fmt_bytes(model.get("memory_bytes"))
        models.add_row(
            str(model.get("name")) + (" (pinned)" if model.get("pinned") else ""),
            Text(model_state(model), style=STATE_STYLES.get(str(model.get("state")), "")),
            f"{memory} on {model.get('device')}" if resident else f"({memory})",
            _num(model.get("tokens_per_s"), 1),
            _num(model.get("load_ms"), 0, " ms"),
            str(model.get("requests", 0)),
        )

    table = Table(title="decisions", title_justify="left", expand=True, show_edge=False)
    for column, width in DECISION_COLUMNS:
        table.add_column(column, no_wrap=True, overflow="ellipsis", min_width=width)
    for d in decisions.latest(rows):
        outcome = d.get("outcome_kind") or ("error" if d.get("ok") is False else "")
        table.add_row(
            time.strftime("%H:%M:%S", time.localtime(float(d.get("at") or 0))),
            str(d.get("request_id"))[:8],  # enough for `lfctl feedback ID`
            str(d.get("door")),
            f"{d.get('task_type')} {_num(d.get('confidence'), 2)}",
            Text(str(d.get("model")), style="bold"),
            str(d.get("reason") or ""),
            _num(d.get("route_ms"), 1, " ms"),
            _num(d.get("latency_ms"), 0, " ms"),
            Text(outcome, style="green" if (d.get("outcome") or 0) > 0.5 else "red"),
        )
    parts: list[RenderableType] = [head, budgets, models, table]
    if not decisions.items:
        parts.append(Text("no decisions yet: send a request through any door", style="dim"))
    if decisions.skipped:
        parts.append(Text(f"{decisions.skipped} events skipped (the view fell behind)", "yellow"))
    return Group(*parts)
