"""lfctl models list | show NAME | add PATH | remove NAME | load | unload | pin | eval NAME."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lfctl.context import Context
from lfctl.render import bar, table

GIB = 1024**3
MIB = 1024**2


def size(n: int | float | None) -> str:
    if n is None:
        return "-"
    if n >= GIB:
        return f"{n / GIB:.2f} GiB"
    if n >= MIB:
        return f"{n / MIB:.0f} MiB"
    return f"{n / 1024:.0f} KiB"


def params_count(n: int | None) -> str:
    if not n:
        return "-"
    if n >= 1e9:
        return f"{n / 1e9:.1f}B"
    if n >= 1e6:
        return f"{n / 1e6:.0f}M"
    return f"{n / 1e3:.0f}K"


def _scores(model: dict[str, Any]) -> str:
    if model.get("neutral_prior"):
        return "neutral prior (no scores)"
    return " ".join(f"{k}={v:g}" for k, v in sorted(model["benchmarks"].items()))


class _Progress:
    """Load and eval progress on stderr: a bar on a terminal, one line per task otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.open = False
        self.announced: set[str] = set()  # models whose load has been said (not on a terminal)

    def __call__(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        kind = data.get("type")
        if kind == "load":
            fraction = float(data.get("progress", 0.0))
            model = str(data.get("model"))
            if self.tty:
                self._line(f"loading {model} {bar(fraction)} {fraction:4.0%}")
            elif model not in self.announced:
                self._line(f"loading {model}…")
                self.announced.add(model)
        elif kind == "eval" and data.get("phase") == "result":
            done, total = int(data["done"]), int(data["total"])
            mark = "pass" if data.get("passed") else "FAIL"
            label = f"{data['task']:<22} {mark}"
            if not data.get("passed") and data.get("detail"):
                label += f"  ({str(data['detail'])[:60]})"
            if self.tty:
                self._line(f"eval {bar(done / total)} {done}/{total}  {label}")
            else:
                self._line(f"[{done}/{total}] {label}")

    def _line(self, text: str) -> None:
        if self.tty:
            sys.stderr.write("\r\033[K" + text)
            self.open = True
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.open:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.open = False


def _runtime_marks(m: dict[str, Any]) -> list[str]:
    """Short state marks for the list: safe mode, cooling down, broken."""
    marks = []
    if (m.get("safe_mode") or {}).get("on"):
        marks.append("safe-mode")
    state = (m.get("health") or {}).get("state", "healthy")
    if state != "healthy":
        marks.append(state)
    return marks


def _runtime_lines(m: dict[str, Any]) -> list[str]:
    """Why a model runs in safe mode or is skipped, in a sentence each."""
    lines = []
    safe = m.get("safe_mode") or {}
    if safe.get("on") and safe.get("reason") != "residency.safe_mode = on":
        lines.append(f"safe mode, because {safe['reason']}")
    health = m.get("health") or {}
    if health.get("state", "healthy") != "healthy":
        cause = health.get("broken") or health.get("last_error")
        lines.append(
            f"{health['state']} after {health['failures']} failure(s) ({cause}); "
            f"auto routing tries it again in {health.get('retry_in_s', 0):.0f}s"
        )
    return lines


def _call_with_progress(
    ctx: Context, method: str, params: dict[str, Any], *, show: bool = True
) -> Any:
    """Call ``method``, drawing its load/eval progress on stderr unless ``show`` is false."""
    progress = _Progress()
    try:
        return ctx.call(method, params, on_stream=progress if show else None)
    finally:
        progress.close()


def _print_benchmarks(benchmarks: dict[str, float], sources: dict[str, str]) -> None:
    for key, value in sorted(benchmarks.items()):
        print(f"  {key:<10} {value:g}  ({sources.get(key, '?')})")


def list_models(ctx: Context) -> int:
    result = ctx.call("models.list")
    if ctx.json:
        ctx.emit_json(result)
        return 0
    rows = []
    for m in result["models"]:
        where = m["url"] if m["url"] else m["quantization"] or "-"
        state = "resident" if m["resident"] else ""
        if m["pinned"]:
            state = (state + " pinned").strip()
        state = " ".join(filter(None, (state, *_runtime_marks(m))))
        rows.append(
            (
                m["name"],
                m["source"],
                params_count(m["parameters"]),
                where,
                size(m["memory_bytes"]),
                m["prompt_format"],
                state or "-",
                _scores(m),
            )
        )
    headers = ("name", "source", "params", "quant/url", "memory", "format", "state", "benchmarks")
    print(table(rows, headers) if rows else "no models registered")
    for broken in result["broken"]:
        print(f"broken  {broken['name']} ({broken['source']}): {broken['reason']}")
    for pending in result["pending"]:
        print(f"pending {pending}: still being written, registered once it stops changing")
    for m in result["models"]:
        for line in _runtime_lines(m):
            print(f"{m['name']}: {line}")
    if any(m["neutral_prior"] for m in result["models"]):
        print(
            f"models without scores are routed on a neutral prior ({result['neutral_prior']:g} "
            "normalised); measure them with `lfctl models eval NAME`"
        )
    return 1 if result["broken"] and not result["models"] else 0


def show_model(ctx: Context) -> int:
    m = ctx.call("models.show", {"name": ctx.args.name})
    if ctx.json:
        ctx.emit_json(m)
        return 0
    if m.get("broken"):
        print(f"{m['name']}: BROKEN ({m['source']}, {m.get('path')})")
        print(f"  {m['reason']}")
        return 1
    gguf = m.get("gguf") or {}
    rows: list[tuple[str, Any]] = [
        ("name", m["name"]),
        ("source", m["source"]),
        ("file" if m["path"] else "url", m["path"] or m["url"]),
        ("family", m["family"] or "-"),
    ]
    if gguf:
        rows += [
            ("architecture", gguf.get("architecture")),
            ("parameters", f"{params_count(gguf.get('parameters'))} ({gguf.get('parameters'):,})"),
            ("quantization", gguf.get("quantization")),
            ("context", f"n_ctx {m['n_ctx']} (trained {gguf.get('context_length') or '?'})"),
            ("layers", gguf.get("layers")),
            (
                "heads",
                f"{gguf.get('heads')} (KV heads {gguf.get('kv_heads')}, "
                f"dim {gguf.get('head_dim')})",
            ),
            ("file size", size(gguf.get("file_size"))),
        ]
    memory = m.get("memory")
    if memory:
        rows.append(
            (
                "memory",
                f"{size(memory['total_bytes'])} = weights {size(memory['weights_bytes'])}"
                f" + KV cache {size(memory['kv_cache_bytes'])} at n_ctx {memory['n_ctx']}"
                f" + overhead {size(memory['overhead_bytes'])}",
            )
        )
    rows.append(("prompt format", m["prompt_format"]))
    rows.append(("  why", m.get("prompt_format_reason") or "-"))
    fim = m.get("fim_tokens")
    if fim:
        fim_text = f"{fim['prefix']} {fim['suffix']} {fim['middle']} (end {fim['eot'] or '-'})"
    elif m["url"]:
        fim_text = "remote: the server's completion endpoint, plain prefix"
    else:
        fim_text = "no FIM tokens: plain prefix completion"
    rows.append(("fill-in-middle", fim_text))
    generation = m.get("generation")
    if generation:
        stop = " ".join(repr(s) for s in generation["stop"])
        rows.append(
            (
                "chat defaults",
                f"temperature {generation['temperature']:g}, top_p {generation['top_p']:g}, "
                f"repeat_penalty {generation['repeat_penalty']:g}, "
                f"max_tokens {generation['max_tokens']}" + (f", stop {stop}" if stop else ""),
            )
        )
        rows.append(("  from", generation["source"]))
    rows.append(("pinned", "yes" if m["pinned"] else "no"))
    rows.append(("resident", "yes" if m["resident"] else "no"))
    safe = m.get("safe_mode") or {}
    rows.append(("safe mode", f"on: {safe['reason']}" if safe.get("on") else "off"))
    health = m.get("health") or {}
    if health.get("state", "healthy") != "healthy":
        rows.append(("health", _runtime_lines({"health": health})[0]))
    if m.get("tags"):
        rows.append(("tags", ", ".join(m["tags"])))
    print(table([(k, "" if v is None else v) for k, v in rows]))
    print("benchmarks")
    if m["neutral_prior"]:
        note = m.get("benchmark_note") or "no scores"
        print(f"  none: {note}; `lfctl models eval {m['name']}` measures some")
    _print_benchmarks(m["benchmarks"], m["benchmark_sources"])
    for category, row in sorted((m.get("measured") or {}).items()):
        print(f"  measured {category}: {row['passed']}/{row['total']} ({row['score']:.0%})")
    if m.get("warning"):
        print(f"warning: {m['warning']}")
    return 0


def add_model(ctx: Context) -> int:
    path = Path(ctx.args.path).expanduser().resolve()
    params: dict[str, Any] = {"path": str(path)}
    if ctx.args.name:
        params["name"] = ctx.args.name
    m = ctx.call("models.add", params)
    if ctx.json:
        ctx.emit_json(m)
        return 0
    print(
        f"added {m['name']}: {m['path']} ({size(m['memory_bytes'])}, format {m['prompt_format']})"
    )
    return 0


def remove_model(ctx: Context) -> int:
    result = ctx.call("models.remove", {"name": ctx.args.name})
    if ctx.json:
        ctx.emit_json(result)
        return 0
    print(f"removed {result['removed']}")
    return 0


def load_model(ctx: Context) -> int:
    result = _call_with_progress(ctx, "models.load", {"name": ctx.args.name})
    if ctx.json:
        ctx.emit_json(result)
        return 0
    took = result.get("load_ms")
    timing = f" in {took / 1000:.2f}s" if isinstance(took, int | float) and took else ""
    print(f"{ctx.args.name} is resident{timing}")
    return 0


def unload_model(ctx: Context) -> int:
    result = ctx.call("models.unload", {"name": ctx.args.name})
    if ctx.json:
        ctx.emit_json(result)
        return 0
    print(
        f"{ctx.args.name} unloaded" if result.get("unloaded") else f"{ctx.args.name} was not loaded"
    )
    return 0


def pin_model(ctx: Context) -> int:
    result = _call_with_progress(ctx, "models.pin", {"name": ctx.args.name, "on": not ctx.args.off})
    if ctx.json:
        ctx.emit_json(result)
        return 0
    print(f"{ctx.args.name} {'pinned' if result.get('pinned') else 'unpinned'}")
    return 0


def eval_model(ctx: Context) -> int:
    params: dict[str, Any] = {"name": ctx.args.name}
    if ctx.args.category:
        params["categories"] = ctx.args.category
    if ctx.args.limit:
        params["limit"] = ctx.args.limit
    result = _call_with_progress(ctx, "models.eval", params, show=not ctx.json)
    if ctx.json:
        ctx.emit_json(result)
        return 0
    print(
        f"{result['model']}: {result['passed']}/{result['tasks']} tasks passed ({result['suite']})"
    )
    for category, row in sorted(result["categories"].items()):
        print(
            f"  {category:<12} {row['passed']}/{row['total']}  "
            + bar(row["passed"] / row["total"], 10)
        )
    print("stored; routing now uses:")
    _print_benchmarks(result["benchmarks"], result["benchmark_sources"])
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = sub.add_parser("models", help="list, inspect, add, load and evaluate models")
    msub = models.add_subparsers(dest="models_command", required=True)

    def command(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        p = msub.add_parser(name, help=help)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.set_defaults(func=func)
        return p

    command("list", list_models, "every model, with broken files and the reason")
    p = command("show", show_model, "GGUF facts, memory needed, prompt format and scores")
    p.add_argument("name")
    p = command("add", add_model, "register a .gguf file (kept across restarts)")
    p.add_argument("path")
    p.add_argument("--name", help="register under this name (default: the file name)")
    p = command("remove", remove_model, "forget a model added with `lfctl models add`")
    p.add_argument("name")
    p = command("load", load_model, "load a model now (progress bar while it loads)")
    p.add_argument("name")
    p = command("unload", unload_model, "unload a model once it is idle")
    p.add_argument("name")
    p = command("pin", pin_model, "keep a model resident; --off to unpin")
    p.add_argument("name")
    p.add_argument("--off", action="store_true", help="unpin instead")
    p = command("eval", eval_model, "run the built-in mini-evaluation and store the scores")
    p.add_argument("name")
    p.add_argument(
        "--category",
        action="append",
        choices=("coding", "math", "instruction"),
        help="only this category (repeatable)",
    )
    p.add_argument("--limit", type=int, help="at most this many tasks per category")
