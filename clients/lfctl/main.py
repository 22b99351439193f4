"""`lfctl`: talk to the LocalForge daemon, starting it when needed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lfctl.autostart import DaemonUnavailable
from lfctl.client import ConnectionClosed, RpcError
from lfctl.commands import chat, classify, daemon, feedback, memory, models, route
from lfctl.context import Context
from localforge import __version__
from localforge.errors import LocalForgeError

GROUPS = (daemon, chat, models, classify, route, feedback, memory)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lfctl", description="LocalForge command line")
    parser.add_argument("--version", action="version", version=f"lfctl {__version__}")
    parser.add_argument("--socket", type=Path, help="daemon socket (default: the per-user one)")
    parser.add_argument(
        "--no-start",
        action="store_true",
        help="fail instead of starting lfd when it is not running",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ctx = Context(args)
    try:
        code: int = args.func(ctx)
    except (RpcError, LocalForgeError) as exc:
        print(f"lfctl: {exc.message}", file=sys.stderr)
        return 1
    except (DaemonUnavailable, ConnectionClosed) as exc:
        print(f"lfctl: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"lfctl: cannot reach lfd: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        ctx.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
