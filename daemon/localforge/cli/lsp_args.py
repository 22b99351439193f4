"""The argument parser for `lfd lsp`; the command imports pygls only when it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from localforge.cli.flags import add_settings_flags


def _lsp(args: argparse.Namespace) -> int:
    from localforge.lsp.main import run

    return run(args)


def register_lsp(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "lsp",
        help="language server for editors (stdio), a client of the running daemon",
        description=(
            "Speak LSP on stdin/stdout for one editor window: inline completion, chat, explain "
            "and status, answered by the daemon (started in the background when none runs). "
            "Logs go to $XDG_STATE_HOME/localforge/lsp.log."
        ),
    )
    add_settings_flags(parser)
    parser.add_argument("--stdio", action="store_true", help="accepted for editors; always stdio")
    parser.add_argument("--socket", type=Path, help="the daemon's socket (default: the user's)")
    parser.add_argument(
        "--no-start", action="store_true", help="do not start lfd when it is not running"
    )
    parser.set_defaults(func=_lsp)
