"""`lfctl`: talk to the LocalForge daemon, starting it when needed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lfctl.autostart import DaemonUnavailable
from lfctl.client import ConnectionClosed, RpcError
from lfctl.commands import (
    chat,
    classify,
    daemon,
    doctor,
    feedback,
    memory,
    models,
    route,
    top,
)
from lfctl.context import Context
from localforge import __version__
from localforge.errors import UNAVAILABLE, LocalForgeError
from localforge.runtime import keep_third_parties_private

GROUPS = (daemon, chat, models, classify, route, feedback, memory, doctor, top)


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
    keep_third_parties_private()  # also for the lfd it may start, which inherits the env
    args = build_parser().parse_args(argv)
    ctx = Context(args)
    try:
        code: int = args.func(ctx)
    except (RpcError, LocalForgeError) as exc:
        return _fail(ctx, exc.message, exc.code, exc.data)
    except (DaemonUnavailable, ConnectionClosed) as exc:
        return _fail(ctx, str(exc), UNAVAILABLE)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        return _fail(ctx, f"cannot reach lfd: {exc.strerror or exc}{where}", UNAVAILABLE)
    except KeyboardInterrupt:
        return 130
    finally:
        ctx.close()
    return code


def _fail(ctx: Context, message: str, code: int, data: Any = None) -> int:
    """One line on stderr; with --json also ``{"error": {code, message, data}}`` on stdout."""
    print(f"lfctl: {message}", file=sys.stderr)
    if ctx.json:
        error: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            error["data"] = data
        ctx.emit_json({"error": error})
    return 1


if __name__ == "__main__":
    sys.exit(main())
