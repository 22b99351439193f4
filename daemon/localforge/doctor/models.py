"""A few tokens from every local model, each in a throwaway worker, in normal and in safe mode.

A worker that dies by a signal is what a broken llama.cpp kernel looks like (the
AMX matrix kernel of some builds segfaults at the first decode). When only normal
mode dies, safe mode (no extra buffer types: no AMX, no repacked weights) is the
fix. Workers here are the daemon's own ``WorkerProcess``, so a fault injected
with ``LOCALFORGE_WORKER_FAULT`` (see ``models/runtime/faults.py``) reaches them.
"""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from localforge.doctor.report import Check
from localforge.errors import LocalForgeError, WorkerCrashed
from localforge.models.catalogue import store
from localforge.models.catalogue.bundled import bundled_gguf
from localforge.models.catalogue.registry import BrokenModel, ModelRegistry
from localforge.models.catalogue.spec import ModelSpec
from localforge.models.catalogue.spec_build import spec_from_file
from localforge.models.runtime.worker import GenerateRequest, WorkerProcess
from localforge.paths import Paths
from localforge.settings import Settings

GROUP = "models"
PROMPT = "The capital of France is"
SMOKE_TOKENS = 4
SMOKE_N_CTX = 512  # enough for the prompt; a small KV cache loads faster
GENERATE_TIMEOUT_S = 60.0
MODES = ("normal", "safe")


@dataclass(frozen=True)
class Smoke:
    """One throwaway worker's try: load the model, generate a few tokens."""

    mode: str
    tokens: int = 0
    text: str = ""
    load_ms: float = 0.0
    generate_ms: float = 0.0
    crashed: str | None = None  # how the worker died ("SIGSEGV while generating")
    error: str | None = None  # a failure that was not a crash (the message names the fix)
    log: Path | None = None

    @property
    def ok(self) -> bool:
        return self.crashed is None and self.error is None

    def describe(self) -> str:
        if self.crashed:
            return f"{self.mode} mode crashed ({self.crashed})"
        if self.error:
            return f"{self.mode} mode failed: {self.error}"
        return (
            f"{self.mode} mode {self.tokens} tokens in {self.generate_ms / 1000:.2f} s "
            f"(load {self.load_ms / 1000:.1f} s)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "ok": self.ok,
            "tokens": self.tokens,
            "text": self.text,
            "load_ms": round(self.load_ms, 1),
            "generate_ms": round(self.generate_ms, 1),
            "crashed": self.crashed,
            "error": self.error,
            "log": str(self.log) if self.log else None,
        }


async def smoke(
    path: Path,
    *,
    name: str,
    safe: bool,
    n_gpu_layers: int = -1,
    max_tokens: int = SMOKE_TOKENS,
    load_timeout: float = 120.0,
    log_path: Path | None = None,
) -> Smoke:
    """Load ``path`` in a new worker and generate ``max_tokens`` greedy tokens; never raises."""
    mode = "safe" if safe else "normal"
    if log_path is not None:
        log_path.unlink(missing_ok=True)  # this try's log only
    worker = WorkerProcess(model=name, log_path=log_path)
    phase = "starting"
    try:
        await worker.start()
        phase = "loading"
        info = await worker.load(
            path,
            n_ctx=SMOKE_N_CTX,
            n_gpu_layers=n_gpu_layers,
            timeout=load_timeout,
            safe=safe,
        )
        phase = "generating"
        request = GenerateRequest(
            kind="completion", prompt=PROMPT, max_tokens=max_tokens, temperature=0.0, fresh=True
        )
        generation = await worker.generate(request, on_token=None, timeout=GENERATE_TIMEOUT_S)
    except WorkerCrashed as exc:
        return Smoke(mode, crashed=f"{_how(exc)} while {phase}", log=log_path)
    except LocalForgeError as exc:
        return Smoke(mode, error=exc.message, log=log_path)
    finally:
        await worker.stop()
    return Smoke(
        mode,
        tokens=generation.completion_tokens,
        text=generation.text,
        load_ms=info.load_ms,
        generate_ms=generation.total_ms,
        log=log_path,
    )


def _how(exc: WorkerCrashed) -> str:
    code = (exc.data or {}).get("exit_code")
    if isinstance(code, int) and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}" if code is not None else "died"


def verdict(name: str, results: Sequence[Smoke], data: dict[str, Any]) -> Check:
    """One line for a model from its normal and safe tries."""
    normal, safe = results
    detail = "; ".join(result.describe() for result in results)
    logs = ", ".join(str(r.log) for r in results if not r.ok and r.log)
    see = f" (log: {logs})" if logs else ""
    if normal.ok and safe.ok:
        return Check(GROUP, name, "ok", detail, data=data)
    if normal.ok:
        return Check(
            GROUP,
            name,
            "warn",
            detail,
            "normal mode works, so nothing is needed now; safe mode would not rescue this "
            f"model if normal mode broke{see}",
            data,
        )
    if normal.crashed and safe.ok:
        return Check(
            GROUP,
            name,
            "fail",
            detail,
            "use safe mode for this model (no extra buffer types: no AMX or repacked weights): "
            "lfd restarts a worker that crashed this way in safe mode and remembers it, or set "
            f'residency.safe_mode = "on" to skip the first crash{see}',
            data,
        )
    if normal.crashed and safe.crashed:
        return Check(
            GROUP,
            name,
            "fail",
            detail,
            "it crashes in both modes: rebuild llama-cpp-python on this machine (see the "
            f"llama.cpp line), or try another quantisation of the model{see}",
            data,
        )
    return Check(GROUP, name, "fail", detail, f"see the message above{see}", data)


async def local_models(
    settings: Settings, paths: Paths, config_file: Path | None
) -> tuple[list[ModelSpec], list[BrokenModel]]:
    """The models lfd would register: config, added (read-only from SQLite), dirs, bundled."""
    registry = ModelRegistry(
        lambda: settings,
        None,
        config_file=lambda: config_file,
        bundled=partial(bundled_gguf, paths.cache_dir),
        watch=False,
    )
    await registry.start()
    await registry.stop()
    specs = {spec.name: spec for spec in registry.specs()}
    broken = {model.name: model for model in registry.broken()}
    added = {n: p for n, p in added_models(paths.database).items() if n not in specs | broken}
    if added:
        specs = {n: s for n, s in specs.items() if s.source != "bundled"}
    for name, path in added.items():
        try:
            specs[name] = spec_from_file(name, path, source="added")
        except LocalForgeError as exc:
            broken[name] = BrokenModel(name, path, "added", exc.message)
    return list(specs.values()), list(broken.values())


def added_models(database: Path) -> dict[str, Path]:
    """Models added with ``lfctl models add``, read without writing (a running lfd may hold it)."""
    if not database.is_file():
        return {}
    try:
        conn = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return {}
    try:
        conn.row_factory = sqlite3.Row
        return store.load_added(conn)
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


@dataclass
class ModelChecks:
    settings: Settings
    paths: Paths
    config_file: Path | None
    only: Sequence[str] = ()
    tried: dict[Path, list[Smoke]] = field(default_factory=dict)

    async def run(self) -> list[Check]:
        try:
            specs, broken = await local_models(self.settings, self.paths, self.config_file)
        except LocalForgeError as exc:
            return [Check(GROUP, "models", "fail", exc.message)]
        wanted = set(self.only)
        checks = []
        for model in broken:
            if not wanted or model.name in wanted:
                checks.append(Check(GROUP, model.name, "fail", f"{model.path}: {model.reason}"))
        for spec in specs:
            if wanted and spec.name not in wanted:
                continue
            if spec.is_remote:
                checks.append(
                    Check(GROUP, spec.name, "ok", f"remote at {spec.url}: not tried here")
                )
                continue
            checks.append(await self._check(spec))
        names = {c.name for c in checks}
        for name in sorted(wanted - names):
            checks.append(Check(GROUP, name, "fail", f"no model named '{name}' is registered"))
        if not checks:
            checks.append(
                Check(GROUP, "models", "warn", "no models are registered", "add one to [[models]]")
            )
        return checks

    async def _check(self, spec: ModelSpec) -> Check:
        assert spec.path is not None
        path = spec.path.resolve()
        if path not in self.tried:  # one file registered under several names is tried once
            logs = self.paths.state_dir / "doctor"
            logs.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.tried[path] = [
                await smoke(
                    path,
                    name=spec.name,
                    safe=mode == "safe",
                    n_gpu_layers=spec.n_gpu_layers,
                    load_timeout=self.settings.residency.load_timeout_s,
                    log_path=logs / f"{spec.name}.{mode}.log",
                )
                for mode in MODES
            ]
        results = self.tried[path]
        data = {"path": str(path), "results": [r.as_dict() for r in results]}
        return verdict(spec.name, results, data)
