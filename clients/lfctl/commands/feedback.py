"""lfctl feedback ID up|down|accepted|rejected|partial [--value V]."""

from __future__ import annotations

import argparse
from typing import Any

from lfctl.context import Context

KINDS = {
    "up": "thumbs_up",
    "down": "thumbs_down",
    "accepted": "accepted",
    "rejected": "rejected",
    "partial": "partial",
}


def feedback(ctx: Context) -> int:
    params: dict[str, Any] = {"request_id": ctx.args.request_id, "kind": KINDS[ctx.args.verdict]}
    if ctx.args.value is not None:
        params["value"] = ctx.args.value
    result = ctx.call("feedback.record", params)
    if ctx.json:
        ctx.emit_json(result)
        return 0
    replaced = "" if result["replaced"] is None else f" (replaces {result['replaced']:g})"
    stats = result["model_feedback"]
    print(f"{result['request_id']}: {result['kind']} = {result['value']:g}{replaced}")
    print(f"{result['model']}: {stats['positive']:g} positive of {stats['total']} rated requests")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("feedback", help="rate the answer to a routed request")
    p.add_argument(
        "request_id",
        help="the request id, or a unique prefix of it like the short id 'lfctl chat' prints "
        "(ids come from 'lfctl chat' and 'lfctl route --record')",
    )
    p.add_argument("verdict", choices=sorted(KINDS), help="what you thought of the answer")
    p.add_argument("--value", type=float, help="outcome in [0, 1] (partial defaults to 0.5)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=feedback)
