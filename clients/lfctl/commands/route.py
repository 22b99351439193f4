"""lfctl route "query" [--explain]: which model would answer, and why."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lfctl.context import Context
from lfctl.render import table

SIGNALS = ("benchmark", "memory", "latency", "feedback")


def route(ctx: Context) -> int:
    text = " ".join(ctx.args.text) if ctx.args.text else sys.stdin.read()
    params: dict[str, Any] = {"text": text, "kind": ctx.args.kind, "record": ctx.args.record}
    if ctx.args.model:
        params["model"] = ctx.args.model
    trace = ctx.call("route.explain", params)
    if ctx.json:
        ctx.emit_json(trace)
        return 0
    if not ctx.args.explain:
        print(f"{trace['winner']}  ({trace['task_type']}, confidence {trace['confidence']:.2f})")
        print(f"  {trace['reason']}")
        if trace["recorded"]:
            print(f"  request {trace['request_id']}")
        return 0
    print(render_explain(trace))
    return 0


def render_explain(trace: dict[str, Any]) -> str:
    lines = []
    classification = trace["classification"]
    lines.append(
        f"task      {trace['task_type']}  confidence {trace['confidence']:.2f}"
        f"  ({classification.get('reason', '')})"
    )
    weights = "  ".join(f"{k} {v:.2f}" for k, v in trace["weights"].items())
    lines.append(f"weights   {weights}")
    rows = []
    for c in trace["candidates"]:
        marker = "→" if c["model"] == trace["winner"] else " "
        rows.append(
            [
                f"{marker} {c['rank']}",
                c["model"] + (" (resident)" if c["resident"] else ""),
                *(f"{c['signals'][s]:.3f}" for s in SIGNALS),
                f"+{c.get('exploration', 0.0):.3f}",
                f"{c['final']:.3f}",
                c["notes"]["memory"],
            ]
        )
    lines.append(table(rows, ("rank", "model", *SIGNALS, "explore", "final", "memory evidence")))
    moved = [
        f"{c['model']} {c['weights']['benchmark']:.2f}/{c['weights']['memory']:.2f}"
        for c in trace["candidates"]
        if c.get("weights") and c["weights"] != trace["weights"]
    ]
    if moved:
        lines.append(f"evidence  benchmark/memory weights after evidence: {', '.join(moved)}")
    lines.append(f"winner    {trace['winner']}: {trace['reason']}")
    lines.append(f"memory    {trace['neighbours']} neighbours used ({trace['memory']})")
    timings = "  ".join(f"{k} {v:.2f}" for k, v in trace["timings_ms"].items())
    lines.append(f"timings   {timings} (ms)")
    recorded = "recorded" if trace["recorded"] else "not recorded (use --record to rate it later)"
    lines.append(f"request   {trace['request_id']}  {recorded}")
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("route", help="which model would answer a query, and why")
    p.add_argument("text", nargs="*", help="the query (read from stdin when omitted)")
    p.add_argument("--explain", action="store_true", help="show every model's signals and timings")
    p.add_argument("--json", action="store_true", help="print the full decision trace as JSON")
    p.add_argument("--model", help="force this model (the others are still scored)")
    p.add_argument("--kind", default="chat", help="request kind: chat (default), code, ...")
    p.add_argument(
        "--record", action="store_true", help="record the decision so 'lfctl feedback' can rate it"
    )
    p.set_defaults(func=route)
