"""lfctl memory stats | forget | export | import | rebuild."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from lfctl.context import Context
from lfctl.render import bar, table

UNITS = {"m": 1 / 1440, "h": 1 / 24, "d": 1.0, "w": 7.0, "y": 365.0}


def parse_age(text: str) -> float:
    """'90d', '12h', '2w', '1y', '30m' (minutes) → days."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdwy])\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age like 90d, 12h, 2w or 1y")
    return float(match.group(1)) * UNITS[match.group(2)]


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def stats(ctx: Context) -> int:
    info = ctx.call("memory.stats")
    if ctx.json:
        ctx.emit_json(info)
        return 0
    index = info["index"]
    sync = "in sync" if index["in_sync"] else f"expected {index['expected_points']} (syncing)"
    print(f"interactions  {info['interactions']}")
    print(
        f"index         {index['points']} points, {sync}; {index['backend']} at {index['location']}"
    )
    print(f"embedding     {info['embedding_model']} ({info['embedding_dim']}-dim)")
    disk = f"index {_size(index['disk_bytes'])}, database {_size(info['database_bytes'])}"
    print(f"disk          {disk}")
    for kind, entry in sorted((info.get("by_kind") or {}).items()):
        counts = ", ".join(f"{name} {o['count']}" for name, o in sorted(entry["outcomes"].items()))
        rated = f"{entry['rated']} rated" + (f" ({counts})" if counts else "")
        print(f"{kind + ' requests':<13} {entry['points']} points, {rated}")
    rows = []
    for g in info["groups"]:
        rate = g["success_rate"]
        shown = "-" if rate is None else f"{bar(rate, 10)} {rate:.0%}"
        rows.append(
            (g["model"], g.get("kind", "-"), g["task_type"], g["points"], g["with_outcome"], shown)
        )
    if rows:
        print(table(rows, ("model", "kind", "task", "points", "rated", "success")))
    return 0


def forget(ctx: Context) -> int:
    args = ctx.args
    params: dict[str, Any] = {}
    what = []
    if args.all:
        params["all"] = True
        what.append("ALL interactions")
    if args.older_than is not None:
        params["older_than_days"] = args.older_than
        what.append(f"interactions older than {args.older_than:g} days")
    if args.model:
        params["model"] = args.model
        what.append(f"interactions routed to {args.model}")
    if not params:
        print("lfctl: say what to forget: --older-than AGE, --model NAME or --all", file=sys.stderr)
        return 2
    if not args.yes:
        prompt = f"Forget {' and '.join(what)}? This cannot be undone. [y/N] "
        if not sys.stdin.isatty():
            print(prompt.rstrip(), file=sys.stderr)
        answer = sys.stdin.readline() if not sys.stdin.isatty() else input(prompt)
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing forgotten")
            return 1
    result = ctx.call("memory.forget", params)
    if ctx.json:
        ctx.emit_json(result)
    else:
        print(f"forgot {result['forgotten']} interactions")
    return 0


def export(ctx: Context) -> int:
    path = Path(ctx.args.file).expanduser().resolve()
    result = ctx.call("memory.export", {"path": str(path), "vectors": not ctx.args.no_vectors})
    print(f"exported {result['exported']} interactions to {result['path']}")
    return 0


def import_(ctx: Context) -> int:
    path = Path(ctx.args.file).expanduser().resolve()
    result = ctx.call("memory.import", {"path": str(path)})
    print(
        f"imported {result['imported']} of {result['read']} interactions "
        f"({result['skipped_existing']} already known)"
    )
    return 0


def rebuild(ctx: Context) -> int:
    def show(progress: dict[str, Any]) -> None:
        total = max(progress["total"], 1)
        fraction = progress["done"] / total
        sys.stderr.write(
            f"\r{progress['phase']:<10}{bar(fraction, 30)} {progress['done']}/{progress['total']}"
        )
        sys.stderr.flush()

    result = ctx.call("memory.rebuild", None, on_stream=None if ctx.json else show)
    if ctx.json:
        ctx.emit_json(result)
        return 0
    sys.stderr.write("\n")
    print(
        f"rebuilt the index: {result['points']} points, {result['embedded']} re-embedded, "
        f"{result['skipped_without_text']} skipped (no text kept), {result['seconds']:.1f}s"
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    memory = sub.add_parser("memory", help="what the router remembers")
    msub = memory.add_subparsers(dest="memory_command", required=True)
    p = msub.add_parser("stats", help="points per model and task type, success rates, sizes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=stats)
    p = msub.add_parser("forget", help="delete remembered interactions")
    p.add_argument("--older-than", type=parse_age, metavar="AGE", help="e.g. 90d, 12h, 2w")
    p.add_argument("--model", help="interactions routed to this model")
    p.add_argument("--all", action="store_true", help="everything")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=forget)
    p = msub.add_parser("export", help="write every interaction to a JSON Lines file")
    p.add_argument("file")
    p.add_argument("--no-vectors", action="store_true", help="leave embeddings out (smaller)")
    p.set_defaults(func=export)
    p = msub.add_parser("import", help="add interactions from a JSON Lines file")
    p.add_argument("file")
    p.set_defaults(func=import_)
    p = msub.add_parser("rebuild", help="rebuild the vector index from SQLite")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=rebuild)
