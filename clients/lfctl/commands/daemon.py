"""lfctl status | stop | config show | config check | methods."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lfctl.autostart import DaemonUnavailable
from lfctl.client import Client
from lfctl.context import Context
from lfctl.render import duration, table
from localforge.settings import check_config_file, load_settings


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
        ("log", info["log_file"]),
    ]
    if config["env"]:
        rows.append(("env", ", ".join(config["env"])))
    print(table(rows))
    print("services")
    print(table([(f"  {name}", s["state"], s.get("detail", "")) for name, s in info["services"].items()]))
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
    print(f"lfd (pid {pid}) is stopping")
    return 0


def config_show(ctx: Context) -> int:
    path = ctx.args.config
    loaded = load_settings(ctx.paths, config_file=path)
    rows = loaded.describe()
    if ctx.json:
        ctx.emit_json({"config_file": str(loaded.config_file), "settings": rows})
        return 0
    found = "" if loaded.config_file_found else " (not found: defaults)"
    print(f"config file: {loaded.config_file}{found}")
    print(table([(r["key"], _show(r["value"]), r["source"]) for r in rows], ("key", "value", "source")))
    return 0


def config_check(ctx: Context) -> int:
    check_config_file(ctx.args.file)
    print(f"{ctx.args.file}: ok")
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


def _show(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="daemon version, paths and services")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=status)

    p = sub.add_parser("stop", help="stop the daemon gracefully")
    p.set_defaults(func=stop)

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
    p.set_defaults(func=config_check)


__all__ = ["DaemonUnavailable", "register"]
