"""lfctl classify "query": the task type the daemon would route a query as."""

from __future__ import annotations

import argparse
import sys

from lfctl.context import Context
from lfctl.render import bar, skipped_line


def classify(ctx: Context) -> int:
    text = " ".join(ctx.args.text) if ctx.args.text else sys.stdin.read()
    result = ctx.call("route.classify", {"text": text})
    if ctx.json:
        ctx.emit_json(result)
        return 0
    print(f"{result['task_type']}  {bar(result['confidence'])}  {result['confidence']:.2f}")
    if result["routed_task_type"] != result["task_type"]:
        print(f"routed as {result['routed_task_type']}: {result['reason']}")
    skipped = skipped_line(result)
    if skipped:
        print(skipped)
    ranked = sorted(result["probabilities"].items(), key=lambda item: item[1], reverse=True)
    for label, probability in ranked:
        print(f"  {label:<15}{bar(probability, 10)}  {probability:.2f}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("classify", help="label a query with its task type and confidence")
    p.add_argument("text", nargs="*", help="the query (read from stdin when omitted)")
    p.add_argument("--json", action="store_true", help="print the daemon's answer as JSON")
    p.set_defaults(func=classify)
