"""lfctl status | stop | reload | config show | config check | methods | metrics."""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path
from typing import Any

from lfctl.client import Client, ConnectionClosed
from lfctl.context import Context
from lfctl.render import duration, table


def status(ctx: Context) -> int:
    info = ctx.call("daemon.status")
    if ctx.json:
        ctx.emit_json(info)
        return 0
    print(f"lfd {info['version']}  running  pid {info['pid']}  up {duration(info['uptime_s'])}")
    config = info["config"]
    found = "" if config["file_found"] else "  (not found: defaults)"
    rows = [
        ("socket", info["socket"]),
        ("config", config["file"] + found),
        ("data", info["dirs"]["data"]),
        ("state", info["dirs"]["state"]),
        ("cache", info["dirs"].get("cache", "-")),
        ("log", info["log_file"]),
    ]
    if config["env"]:
        rows.append(("env", ", ".join(config["env"])))
    if config.get("error"):
        rows.append(("", config["error"]))
    if config.get("restart_needed"):
        rows.append(("", "restart to apply: " + ", ".join(config["restart_needed"])))
    print(table(rows))
    print("services")
    print(
        table(
            [(f"  {name}", s["state"], s.get("detail", "")) for name, s in info["services"].items()]
        )
    )
    return 0


def stop(ctx: Context) -> int:
    try:
        client = Client.connect(ctx.args.socket or ctx.paths.socket)
    except (FileNotFoundError, ConnectionRefusedError):
        print("lfd is not running")
        return 0
    with client:
        pid = client.call("daemon.status")["pid"]
        client.call("daemon.shutdown")
        # The daemon closes every connection once its in-flight requests are answered.
        client.sock.settimeout(ctx.args.timeout)
        with contextlib.suppress(ConnectionClosed, OSError):
            while True:
                client.receive()
    if not _wait_exit(pid, ctx.args.timeout):
        print(f"lfd (pid {pid}) is still stopping after {ctx.args.timeout:g}s")
        return 1
    print(f"lfd (pid {pid}) stopped")
    return 0


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return True  # the pid now belongs to someone else's process
        if _is_zombie(pid):
            return True  # exited; its parent has not collected the status yet
        time.sleep(0.02)
    return False


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def config_show(ctx: Context) -> int:
    """The running daemon's effective settings (flags included), else file + environment."""
    shown: dict[str, Any] | None = None
    origin = "running lfd"
    if ctx.args.config is None:
        try:
            with Client.connect(ctx.args.socket or ctx.paths.socket, timeout=10) as client:
                shown = client.call("daemon.config")
        except (FileNotFoundError, ConnectionRefusedError):
            shown = None
    if shown is None:
        from localforge.settings import load_settings  # pydantic: only when needed

        shown = load_settings(ctx.paths, config_file=ctx.args.config).report()
        origin = "this shell (lfd is not running)" if ctx.args.config is None else "the given file"
    if ctx.json:
        ctx.emit_json({**shown, "origin": origin})
        return 0
    found = "" if shown["file_found"] else " (not found: defaults)"
    print(f"config file: {shown['config_file']}{found}  [as seen by {origin}]")
    rows = [(r["key"], _show(r["value"]), r["source"]) for r in shown["settings"]]
    print(table(rows, ("key", "value", "source")))
    return 0


def reload(ctx: Context) -> int:
    result = ctx.call("daemon.reload")
    if ctx.json:
        ctx.emit_json(result)
        return 0
    changed = ", ".join(result["changed"]) or "no settings changed"
    print(f"reloaded {result['config_file']}: {changed}")
    if result.get("restart_needed"):
        later = ", ".join(result["restart_needed"])
        print(f"these take effect when lfd restarts (lfctl stop, then any lfctl command): {later}")
    return 0


def config_check(ctx: Context) -> int:
    """Errors make the file invalid (exit 1); warnings name what will not work yet (exit 0)."""
    from localforge.settings import check_config_file, config_warnings  # pydantic: when needed

    path: Path = ctx.args.file
    warnings = config_warnings(check_config_file(path), path)
    if ctx.json:
        ctx.emit_json({"file": str(path), "ok": True, "warnings": warnings})
        return 0
    for warning in warnings:
        print(f"{path}: warning: {warning}")
    print(f"{path}: ok" + (f" ({len(warnings)} warning(s))" if warnings else ""))
    return 0


def methods(ctx: Context) -> int:
    described = ctx.call("daemon.methods")
    if ctx.json:
        ctx.emit_json(described)
        return 0
    for method in described:
        params = ", ".join(
            name + ("" if spec["required"] else "?") for name, spec in method["params"].items()
        )
        print(f"{method['name']}({params})  {method['summary']}")
    return 0


def metrics(ctx: Context) -> int:
    print(ctx.call("daemon.metrics")["text"], end="")
    return 0


def _show(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="daemon version, paths and services")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=status)

    p = sub.add_parser("stop", help="stop the daemon gracefully and wait until it has exited")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
    p.set_defaults(func=stop)

    p = sub.add_parser(
        "reload", help="re-read the config file; an invalid one keeps the old config"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=reload)

    p = sub.add_parser("metrics", help="every metric in the Prometheus text format")
    p.set_defaults(func=metrics)

    p = sub.add_parser("methods", help="list the daemon's JSON-RPC methods")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=methods)

    config = sub.add_parser("config", help="show or check configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    p = config_sub.add_parser("show", help="effective settings and where each comes from")
    p.add_argument("--json", action="store_true")
    p.add_argument("--config", type=Path, help="config file to read instead of the default")
    p.set_defaults(func=config_show)
    p = config_sub.add_parser("check", help="validate a config file")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=config_check)
