"""lfctl chat ["question"] [--model NAME] [--json]: ask once, or talk interactively.

The first line names the model that answers and the task type it was routed
as; the answer streams after it, and a last line gives the request's short id
(for ``lfctl feedback``) and the speed. While a model loads, a progress bar runs
on stderr. Ctrl-C cancels the answer in the daemon (the model's slot is freed).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from lfctl.client import RpcError
from lfctl.context import Context
from lfctl.render import bar

EXIT_WORDS = {"/exit", "/quit", "exit", "quit"}
SHORT_ID = 8  # request id characters shown; 'lfctl feedback' takes any unique prefix
FINISH_NOTES = {
    "length": "cut at max_tokens",
    "repetition": "stopped: the model was repeating itself",
    "cancelled": "cancelled",
}


class _Printer:
    """Renders one answer's stream notifications."""

    def __init__(self) -> None:
        self.routed = False
        self.loading = False
        self.tty = sys.stderr.isatty()
        self.tokens = 0

    def __call__(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        kind = data.get("type")
        if kind == "route":
            print(f"[{data['model']} · {data['task_type']}]", flush=True)
            self.routed = True
        elif kind == "load":
            self._progress(str(data.get("model")), float(data.get("progress", 0.0)))
        elif kind == "token":
            self._end_progress()
            sys.stdout.write(str(data.get("text", "")))
            sys.stdout.flush()
            self.tokens += 1

    def _progress(self, model: str, fraction: float) -> None:
        if self.tty:
            sys.stderr.write(f"\rloading {model} {bar(fraction)} {fraction:4.0%}")
            sys.stderr.flush()
        elif not self.loading:
            sys.stderr.write(f"loading {model}…\n")
        self.loading = True

    def _end_progress(self) -> None:
        if self.loading and self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
        self.loading = False

    def finish(self, result: dict[str, Any]) -> None:
        self._end_progress()
        if not self.routed:
            print(f"[{result['model']} · {result['task_type']}]")
        if not self.tokens:
            sys.stdout.write(result.get("text", ""))
        print(flush=True)
        if not result.get("text"):
            print("(the model returned an empty answer)", file=sys.stderr)
        print(footer(result), flush=True)


def footer(result: dict[str, Any]) -> str:
    """``[3f2a9c1e · 16 tokens · 41.2 tokens/s]``: the short id to rate it with, and the speed."""
    parts = [str(result.get("request_id", ""))[:SHORT_ID]]
    tokens = int((result.get("usage") or {}).get("completion_tokens", 0))
    seconds = float((result.get("timings") or {}).get("generate_ms", 0.0)) / 1000
    parts.append(f"{tokens} tokens")
    if tokens and seconds > 0:
        parts.append(f"{tokens / seconds:.1f} tokens/s")
    why = FINISH_NOTES.get(str(result.get("finish_reason")))
    if why:
        parts.append(why)
    return "[" + " · ".join(parts) + "]"


def _params(
    args: argparse.Namespace, messages: list[dict[str, str]], stream: bool
) -> dict[str, Any]:
    params: dict[str, Any] = {"messages": messages, "model": args.model, "stream": stream}
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    if args.temperature is not None:
        params["temperature"] = args.temperature
    return params


def _ask(ctx: Context, messages: list[dict[str, str]]) -> dict[str, Any]:
    """One chat.complete, streamed; Ctrl-C cancels it in the daemon and re-raises."""
    client = ctx.client()
    printer = _Printer()
    rid = client.send_request("chat.complete", _params(ctx.args, messages, stream=True))
    try:
        result: dict[str, Any] = client.wait(rid, printer)
    except KeyboardInterrupt:
        client.cancel(rid)
        with contextlib.suppress(RpcError, KeyboardInterrupt):
            client.wait(rid)
        print("\n(cancelled)", file=sys.stderr)
        raise
    printer.finish(result)
    return result


def chat(ctx: Context) -> int:
    args = ctx.args
    base: list[dict[str, str]] = [{"role": "system", "content": args.system}] if args.system else []
    if args.question:
        question = " ".join(args.question)
        messages = [*base, {"role": "user", "content": question}]
        if ctx.json:
            ctx.emit_json(ctx.call("chat.complete", _params(args, messages, stream=False)))
            return 0
        _ask(ctx, messages)
        return 0
    return _interactive(ctx, base)


def _interactive(ctx: Context, history: list[dict[str, str]]) -> int:
    if sys.stdin.isatty():
        print("lfctl chat: type a message; /reset forgets the conversation, /exit or Ctrl-D quits")
    while True:
        try:
            line = input("you> " if sys.stdin.isatty() else "")
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print()
            return 130
        text = line.strip()
        if not text:
            continue
        if text in EXIT_WORDS:
            return 0
        if text == "/reset":
            history = [m for m in history if m["role"] == "system"]
            print("(conversation forgotten)")
            continue
        history.append({"role": "user", "content": text})
        try:
            result = _ask(ctx, history)
        except KeyboardInterrupt:
            history.pop()
            continue
        except RpcError as exc:
            print(f"lfctl: {exc.message}", file=sys.stderr)
            history.pop()
            continue
        history.append({"role": "assistant", "content": result.get("text", "")})


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("chat", help="ask a question (or chat interactively without one)")
    p.add_argument("question", nargs="*", help="the question; none starts an interactive session")
    p.add_argument("--model", default="auto", help="use this model instead of routing")
    p.add_argument(
        "--json", action="store_true", help="print one JSON object with the whole answer"
    )
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--system", default=None, help="a system message for the conversation")
    p.set_defaults(func=chat)
