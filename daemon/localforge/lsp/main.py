"""`lfd lsp`: set up logging and settings, then serve LSP on stdio until the editor exits.

stdout is the LSP channel: the server writes its frames to the original stdout
and ``sys.stdout`` is pointed at stderr, so a stray print cannot corrupt a frame.
Settings are the daemon's tree (config file, ``LOCALFORGE_*``, ``--set``); the
editor may override ``lsp.*`` keys with ``initializationOptions``
``{"settings": {"lsp.max_tokens": 32}}``.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
from typing import Any

from localforge.errors import ConfigError
from localforge.lsp.daemon_client import DaemonClient
from localforge.lsp.server import Notify, TextOf, build_server
from localforge.lsp.session import Session
from localforge.paths import Paths
from localforge.settings import load_settings, parse_flag_assignments

FORMAT = "%(asctime)s %(levelname)s lsp[%(process)d] %(name)s: %(message)s"


def setup_logging(level: str, paths: Paths) -> None:
    """Log to ``lsp.log`` in the state dir, and warnings to stderr (the editor's LSP log)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        root.removeHandler(handler)
    paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    to_file = logging.handlers.RotatingFileHandler(
        paths.state_dir / "lsp.log", maxBytes=5_000_000, backupCount=2
    )
    to_stderr = logging.StreamHandler(sys.stderr)
    to_stderr.setLevel(logging.WARNING)
    for handler in (to_file, to_stderr):
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    if level.lower() != "debug":  # pygls logs every message body at info
        logging.getLogger("pygls").setLevel(logging.WARNING)


def editor_flags(options: Any) -> dict[str, str]:
    """``lsp.*`` settings from ``initializationOptions.settings`` (other keys are refused)."""
    settings = options.get("settings") if isinstance(options, dict) else None
    if not isinstance(settings, dict):
        return {}
    flags = {}
    for key, value in settings.items():
        if not str(key).startswith("lsp."):
            raise ConfigError(
                f"initializationOptions.settings may set lsp.* keys only, not {key!r}; "
                "set daemon settings in config.toml"
            )
        flags[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return flags


def run(args: argparse.Namespace) -> int:
    os.umask(0o077)
    paths = Paths.from_env()
    flags = parse_flag_assignments(args.assignments)
    if args.log_level:
        flags["daemon.log_level"] = args.log_level
    loaded = load_settings(paths, flags=flags, config_file=args.config)
    setup_logging(loaded.settings.daemon.log_level, paths)
    protocol_out = sys.stdout.buffer
    sys.stdout = sys.stderr

    def make_session(options: Any, notify: Notify, text_of: TextOf) -> Session:
        settings = loaded.settings
        extra = editor_flags(options)
        if extra:
            settings = load_settings(
                paths, flags={**flags, **extra}, config_file=args.config
            ).settings
        daemon = DaemonClient(paths, autostart=not args.no_start, socket_path=args.socket)
        return Session(settings.lsp, daemon, notify=notify, text_of=text_of)

    server = build_server(make_session)
    logging.getLogger(__name__).info("lfd lsp started (pid %d)", os.getpid())
    server.start_io(sys.stdin.buffer, protocol_out)
    # pygls swallows the SystemExit of `exit`: 0 after a `shutdown` request, 1 otherwise.
    return 0 if server.protocol._shutdown else 1
