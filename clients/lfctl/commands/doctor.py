"""lfctl doctor [--json] [--model NAME] [--no-models]: the same checks as `lfd doctor`.

They run here, in this process, and need no daemon: the one to run when lfd will
not start or chat will not answer.
"""

from __future__ import annotations

import argparse

from lfctl.context import Context
from localforge.cli.doctor import add_doctor_arguments, doctor_command


def doctor(ctx: Context) -> int:
    return doctor_command(ctx.args, ctx.paths, ctx.args.socket)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "doctor",
        help="check this machine and set-up: CPU, llama.cpp, GPU, disk, config, models",
        description="The checks of 'lfd doctor': each line ok, warn or FAIL with its fix; "
        "exit status 1 when anything failed. No daemon is needed or started.",
    )
    add_doctor_arguments(p)
    p.set_defaults(func=doctor)
