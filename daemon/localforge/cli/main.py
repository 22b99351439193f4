"""`lfd`: the daemon's command line (serve, and tools that work without a daemon)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from localforge import __version__
from localforge.cli.classify_args import register_classify, register_train
from localforge.cli.flags import add_settings_flags
from localforge.cli.lsp_args import register_lsp
from localforge.errors import LocalForgeError
from localforge.logs import setup_logging
from localforge.paths import Paths
from localforge.runtime import InstanceLock, ensure_private_dir
from localforge.settings import load_settings, parse_flag_assignments

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _flags(args: argparse.Namespace) -> dict[str, str]:
    flags = parse_flag_assignments(args.assignments)
    if args.log_level:
        flags["daemon.log_level"] = args.log_level
    return flags


def cmd_serve(args: argparse.Namespace) -> int:
    paths = Paths.from_env()
    flags = _flags(args)
    loaded = load_settings(paths, flags=flags, config_file=args.config)
    os.umask(0o077)  # logs, database and memory hold the user's queries: keep them private
    # Claim the socket before importing the services, so a second lfd is refused at once.
    ensure_private_dir(paths.runtime_dir)
    socket_lock = InstanceLock(paths.lock, str(paths.socket))
    socket_lock.acquire()
    setup_logging(loaded.settings.daemon.log_level, paths.log_file)
    from localforge.app import run_daemon

    return run_daemon(paths, loaded, flags, args.config, socket_lock)


def register_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("serve", help="run the daemon in the foreground")
    add_settings_flags(parser)
    parser.set_defaults(func=cmd_serve)


COMMANDS: tuple[Register, ...] = (register_serve, register_lsp, register_classify, register_train)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lfd", description="LocalForge daemon")
    parser.add_argument("--version", action="version", version=f"lfd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except LocalForgeError as exc:
        print(f"lfd: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
