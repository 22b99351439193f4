"""`lfd doctor` (also `lfctl doctor`) and `lfd smoke`: checks that need no daemon.

``lfd smoke`` is the last step of ``make setup``: it loads the bundled model in
a worker and generates a few tokens, falling back to safe mode when normal mode
crashes, and prints one line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from localforge.cli.flags import add_settings_flags
from localforge.paths import Paths

SMOKE_TOKENS = 8


def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    add_settings_flags(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="try only this model (repeatable)",
    )
    parser.add_argument(
        "--no-models", action="store_true", help="skip the smoke generations (a few s per model)"
    )


def register_doctor(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "doctor",
        help="check this machine and set-up (no daemon needed)",
        description="CPU features and the llama.cpp build, GPUs, disk, config, socket directory, "
        "embedding model, Qdrant server, and a 4-token generation from every local model in "
        "normal and safe mode. Each line is ok, warn or FAIL with its fix; the exit status is 1 "
        "when anything failed.",
    )
    add_doctor_arguments(parser)
    parser.set_defaults(func=lambda args: doctor_command(args, Paths.from_env()))

    parser = sub.add_parser(
        "smoke", help="load the bundled model and generate a few tokens (the end of make setup)"
    )
    parser.add_argument("--path", type=Path, help="another GGUF file instead of the bundled one")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=smoke_command)


def doctor_command(args: argparse.Namespace, paths: Paths, socket: Path | None = None) -> int:
    from localforge.doctor.run import Options, run_doctor  # pydantic, llama_cpp: only now
    from localforge.settings import parse_flag_assignments

    logging.basicConfig(level=(args.log_level or "error").upper(), stream=sys.stderr)
    options = Options(
        config_file=args.config,
        flags=parse_flag_assignments(args.assignments),
        models=not args.no_models,
        only=tuple(args.model),
        socket=socket,
    )
    report = run_doctor(paths, options)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.text())
    return 1 if report.failed else 0


def smoke_command(args: argparse.Namespace) -> int:
    """One line: the bundled model (or ``--path``) loads and generates; exit 1 when it cannot."""
    from localforge.doctor.models import Smoke, smoke
    from localforge.models.catalogue.bundled import bundled_gguf

    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)  # the line says what happened
    paths = Paths.from_env()
    path = args.path or bundled_gguf(paths.cache_dir)
    label = "bundled model" if args.path is None else str(path)
    logs = paths.state_dir / "doctor"
    logs.mkdir(mode=0o700, parents=True, exist_ok=True)

    def attempt(safe: bool) -> Smoke:
        mode = "safe" if safe else "normal"
        log_path = logs / f"smoke.{mode}.log"
        return asyncio.run(
            smoke(path, name="smoke", safe=safe, max_tokens=SMOKE_TOKENS, log_path=log_path)
        )

    results = [attempt(False)]
    if results[0].crashed:  # what a broken kernel does: safe mode is lfd's fallback too
        results.append(attempt(True))
    good = next((r for r in results if r.ok), None)
    if args.json:
        print(
            json.dumps(
                {
                    "path": str(path),
                    "ok": good is not None,
                    "results": [r.as_dict() for r in results],
                },
                indent=2,
            )
        )
        return 0 if good else 1
    if good is None:
        why = "; ".join(r.describe() for r in results)
        print(f"{label} FAILED: {why}; run 'lfd doctor' for the details", file=sys.stderr)
        return 1
    line = (
        f"{label} ok: {good.tokens} tokens in {good.generate_ms / 1000:.1f} s "
        f"(loaded in {good.load_ms / 1000:.1f} s): {good.text.strip()[:40]!r}"
    )
    if good.mode == "safe":
        remember_safe_mode(paths, path, f"lfd smoke: normal mode {results[0].crashed}")
        line += f"; normal mode {results[0].crashed}, so lfd will load it in safe mode"
    print(line)
    return 0


def remember_safe_mode(paths: Paths, path: Path, reason: str) -> None:
    """Write the verdict where the daemon reads it, so its first load does not crash first."""
    from localforge.models.runtime.safe_mode import SafeModeBook
    from localforge.settings import StorageSettings
    from localforge.storage.database import Database

    paths.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    database = Database(paths.database, StorageSettings())
    database.open()
    try:
        asyncio.run(SafeModeBook(database).remember(path, reason))
    finally:
        database.close()
