"""lfctl route "query" [--explain]: which model would answer, and why.

``lfctl route replay --set KEY=VALUE …``: how other settings would have done on your history.
``lfctl route tune``: which one-setting change, if any, your history supports.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lfctl.context import Context
from lfctl.render import skipped_line, table

SIGNALS = ("benchmark", "memory", "latency", "feedback")


def route(ctx: Context) -> int:
    if ctx.args.text == ["replay"]:
        return replay(ctx)
    if ctx.args.text == ["tune"]:
        return tune(ctx)
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


def replay(ctx: Context) -> int:
    report = ctx.call(
        "route.replay", {"set": ctx.args.set, "last": ctx.args.last, "seed": ctx.args.seed}
    )
    if ctx.json:
        ctx.emit_json(report)
        return 0
    print(render_replay(report))
    return 0


def tune(ctx: Context) -> int:
    report = ctx.call("route.tune", {"last": ctx.args.last, "seed": ctx.args.seed})
    if ctx.json:
        ctx.emit_json(report)
        return 0
    print(render_tune(report))
    return 0


def render_tune(report: dict[str, Any]) -> str:
    lines = [
        f"decisions {report['decisions']} rated decisions used, {report['skipped']} without a "
        f"propensity left out; policy {report['policy']}"
    ]
    if "current" in report:
        lines.append(f"current   SNIPS {report['current']:.3f} with the settings in force")
    rows = [
        [
            " ".join(c["set"]),
            f"{c['snips']:.3f}",
            f"{c['gain']:+.3f}",
            f"[{c['low']:+.3f}, {c['high']:+.3f}]",
            f"{c['effective_decisions']:.0f}",
        ]
        for c in report["candidates"]
    ]
    if rows:
        lines.append(table(rows, ("change", "SNIPS", "gain", "interval", "effective")))
        lines.append("          (the intervals hold at 95% for all changes together)")
    recommended = report.get("recommended")
    if recommended:
        lines.append(f"adopt     {' '.join(recommended)}: {report['reason']}")
        lines.append("          to adopt it, add to config.toml:")
        lines.extend(f"            {line}" for line in toml_lines(recommended))
    else:
        lines.append(f"keep      {report['reason']}")
    return "\n".join(lines)


def toml_lines(items: list[str]) -> list[str]:
    """``["routing.posterior_scale=1", …]`` as config.toml lines, one table per section."""
    sections: dict[str, list[str]] = {}
    for item in items:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        shown = value if _is_number(value) else f'"{value}"'
        sections.setdefault(section, []).append(f"{name} = {shown}")
    lines: list[str] = []
    for section, assignments in sections.items():
        lines.extend([f"[{section}]", *assignments])
    return lines


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _interval(estimate: dict[str, Any]) -> str:
    return f"{estimate['value']:.3f}  [{estimate['low']:.3f}, {estimate['high']:.3f}]"


def render_replay(report: dict[str, Any]) -> str:
    shown = " ".join(report["set"]) or "(the current settings)"
    lines = [
        f"replay    {shown}",
        f"decisions {report['decisions']} rated decisions used, {report['skipped']} without a "
        f"propensity left out; the new settings could pick the logged model in "
        f"{report['matched']}",
        f"logged    {_interval(report['logged'])}  mean outcome of what was served",
        f"IPS       {_interval(report['ips'])}  (95% bootstrap interval)",
        f"SNIPS     {_interval(report['snips'])}  self-normalised",
    ]
    if report.get("max_weight") is not None:
        lines.append(f"weights   largest importance weight {report['max_weight']:.2f}")
    if report.get("warning"):
        lines.append(f"note      {report['warning']}")
    return "\n".join(lines)


def render_explain(trace: dict[str, Any]) -> str:
    lines = []
    classification = trace["classification"]
    lines.append(
        f"task      {trace['task_type']}  confidence {trace['confidence']:.2f}"
        f"  ({classification.get('reason', '')})"
    )
    skipped = skipped_line(classification)
    if skipped:
        lines.append(skipped)
    shares = trace.get("task_shares") or {}
    if len(shares) > 1:
        shared = " + ".join(f"{task} {share:.2f}" for task, share in shares.items())
        lines.append(f"decided   on {shared} (benchmarks, task counts and similar queries)")
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
    posteriors = [
        f"{c['model']} mean {c['posterior']['mean']:.3f} drew {c['posterior']['draw']:.3f} "
        f"p {c.get('probability', 0.0):.2f}"
        for c in trace["candidates"]
        if c.get("posterior")
    ]
    if posteriors:
        lines.append(f"posterior {'; '.join(posteriors)}")
    if trace.get("propensity") is not None:
        lines.append(f"policy    {trace.get('policy')}: propensity {trace['propensity']:.3f}")
    lines.append(f"winner    {trace['winner']}: {trace['reason']}")
    lines.append(f"memory    {trace['neighbours']} neighbours used ({trace['memory']})")
    timings = "  ".join(f"{k} {v:.2f}" for k, v in trace["timings_ms"].items())
    lines.append(f"timings   {timings} (ms)")
    recorded = "recorded" if trace["recorded"] else "not recorded (use --record to rate it later)"
    lines.append(f"request   {trace['request_id']}  {recorded}")
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "route",
        help="which model would answer a query, and why; 'route replay --set K=V': how other "
        "settings would have done on your rated history; 'route tune': the change it supports",
    )
    p.add_argument("text", nargs="*", help="the query (read from stdin when omitted)")
    p.add_argument("--explain", action="store_true", help="show every model's signals and timings")
    p.add_argument("--json", action="store_true", help="print the full decision trace as JSON")
    p.add_argument("--model", help="force this model (the others are still scored)")
    p.add_argument("--kind", default="chat", help="request kind: chat (default), code, ...")
    p.add_argument(
        "--record", action="store_true", help="record the decision so 'lfctl feedback' can rate it"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with 'route replay': a setting to evaluate, e.g. weights.memory=0.5 (repeatable)",
    )
    p.add_argument(
        "--last",
        type=int,
        default=1000,
        help="with 'route replay' or 'route tune': newest rated decisions used",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="with 'route replay' or 'route tune': estimate's seed"
    )
    p.set_defaults(func=route)
