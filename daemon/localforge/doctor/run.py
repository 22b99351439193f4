"""Run every check in order: the machine, then the set-up, then the models."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from localforge import __version__
from localforge.doctor.files import config_checks, embedding_check, socket_dir_check
from localforge.doctor.memory import memory_check
from localforge.doctor.models import GROUP as MODELS
from localforge.doctor.models import ModelChecks
from localforge.doctor.report import Check, Report
from localforge.doctor.system import (
    cpu_check,
    disk_check,
    gpu_check,
    llama_build_check,
    read_cpuinfo,
)
from localforge.errors import ConfigError
from localforge.paths import Paths
from localforge.settings import LoadedSettings, Settings, load_settings


@dataclass(frozen=True)
class Options:
    config_file: Path | None = None
    flags: Mapping[str, str] = field(default_factory=dict)
    models: bool = True  # the smoke generations (a few seconds per model file)
    only: tuple[str, ...] = ()  # just these models
    socket: Path | None = None  # another daemon's socket (lfctl --socket)


def run_doctor(paths: Paths, options: Options) -> Report:
    started = time.perf_counter()
    loaded: LoadedSettings | None = None
    error = None
    try:
        loaded = load_settings(paths, flags=options.flags, config_file=options.config_file)
    except ConfigError as exc:
        error = exc.message
    settings = loaded.settings if loaded is not None else Settings()
    config_file = (
        loaded.config_file if loaded is not None else (options.config_file or paths.config_file)
    )

    model, flags = read_cpuinfo()
    build, llama_cpp = llama_build_check(flags)
    checks: list[Check] = [
        cpu_check(model, flags),
        build,
        gpu_check(settings, llama_cpp),
        disk_check(paths.data_dir),
        *config_checks(loaded, error, config_file),
        socket_dir_check(paths, options.socket),
        embedding_check(settings, paths),
        memory_check(settings, paths),
    ]
    if options.models and llama_cpp is None:
        checks.append(
            Check(
                MODELS, "models", "fail", "not tried: llama-cpp-python does not import", "see above"
            )
        )
    elif options.models:
        checks += asyncio.run(ModelChecks(settings, paths, config_file, options.only).run())
    return Report(__version__, tuple(checks), time.perf_counter() - started)
