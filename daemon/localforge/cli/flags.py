"""Flags every `lfd` command that reads settings shares: --config, --set, --log-level."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help="config file (default: $XDG_CONFIG_HOME/localforge/config.toml)"
    )
    parser.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set daemon.log_level=debug (repeatable)",
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
