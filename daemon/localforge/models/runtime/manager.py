"""The model manager: serves chat and code completion on resident models, within a budget.

Service "models" (``app.models``). It owns the worker pool and the residency
planner, measures every load and generation (EWMA, persisted), and is the
router's ``CandidateSource``: a model that is not resident pays its expected
load time in the latency signal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Unpack

from localforge.errors import LocalForgeError, Unavailable
from localforge.models.catalogue.spec import ModelSpec
from localforge.models.runtime.calls import (
    CODE_MAX_TOKENS,
    CODE_TEMPERATURE,
    ChatOptions,
    CodeContext,
    CodeOptions,
    Completion,
    Streaming,
)
from localforge.models.runtime.fim import CodePrompt, code_prompt_for
from localforge.models.runtime.gpu import CPU, Budgets, probe_budgets
from localforge.models.runtime.healing import generate_healing, health_event
from localforge.models.runtime.health import HealthBook
from localforge.models.runtime.pool import ModelPool
from localforge.models.runtime.prompts import GGUF_TEMPLATE, SERVER_TEMPLATE, build_chat_prompt
from localforge.models.runtime.remote import RemoteBackend
from localforge.models.runtime.residency import Planner
from localforge.models.runtime.safe_mode import SafeModeBook, SafeModeRules
from localforge.models.runtime.slots import estimate_memory
from localforge.models.runtime.stats import StatsStore
from localforge.models.runtime.status import describe
from localforge.models.runtime.worker import GenerateRequest, Generation, OnProgress, OnToken
from localforge.routing.candidates import Candidate
from localforge.settings import Settings
from localforge.storage.database import Database

log = logging.getLogger(__name__)

SPAWN_MS = 600.0  # a fresh worker: interpreter start and llama.cpp import
LOAD_BYTES_PER_S = 1.5e9  # first guess until a load is measured
TTL_TICK_S = 1.0


class ModelManager:
    name = "models"
    restart_keys: tuple[str, ...] = (
        "residency.ram_budget_mb",
        "residency.vram_reserve_mb",
        "residency.max_group_wait_s",
        "residency.spare_worker",
    )  # budgets and the planner are set up at start

    def __init__(
        self,
        settings: Callable[[], Settings],
        registry: Any,
        storage: Database,
        state_dir: Path,
        *,
        on_load: Callable[[str, float], None] | None = None,
    ) -> None:
        self._settings = settings
        self._on_load = on_load  # told (model, seconds) after every load
        self.registry = registry
        self.storage = storage
        self.stats = StatsStore(storage)
        self.log_dir = state_dir / "workers"
        self.budgets: Budgets | None = None
        self.pool: ModelPool | None = None
        self.remotes: dict[str, RemoteBackend] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._deferred: set[asyncio.Task[Any]] = set()
        self._state = "stopped"
        self._preload_errors: dict[str, str] = {}
        self.safe_book = SafeModeBook(storage)
        self.safe_policy = SafeModeRules(self.safe_book, lambda: self.settings.residency.safe_mode)
        self.health = HealthBook(
            threshold=lambda: self.settings.residency.cooldown_after,
            base_s=lambda: self.settings.residency.cooldown_s,
        )

    @property
    def settings(self) -> Settings:
        return self._settings()

    # --- lifecycle --------------------------------------------------------

    async def start(self) -> None:
        residency = self.settings.residency
        self.budgets = probe_budgets(residency)
        log.info("%s", self.budgets.detail)
        planner = Planner(self.budgets.as_dict(), residency.max_group_wait_s)
        self.pool = ModelPool(
            planner,
            device_for=self._device_for,
            log_dir=self.log_dir,
            load_timeout_s=lambda: self.settings.residency.load_timeout_s,
            default_ttl_s=lambda: self.settings.residency.default_ttl_s,
            on_loaded=self._loaded,
            keep_spare=residency.spare_worker,
            expected_load_s=lambda name: (self.stats.get(name).load_ms_ewma or 0.0) / 1000,
            safe_mode=self.safe_policy,
        )
        await self.stats.load()
        await self.safe_book.load()
        subscribe = getattr(self.registry, "subscribe", None)
        if subscribe is not None:
            subscribe(self._on_registry_event)
        self._spawn(self._ttl_loop())
        self._spawn(self._preload())
        self._spawn(self.pool.warm_spare())
        self._state = "ready"

    async def stop(self) -> None:
        if self._deferred:  # bookkeeping of answered requests: let it land
            await asyncio.wait(self._deferred, timeout=5.0)
        for task in [*self._tasks, *self._deferred]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._deferred, return_exceptions=True)
        if self.pool is not None:
            await self.pool.close()
        self._state = "stopped"

    def _loaded(self, name: str, load_ms: float) -> Coroutine[Any, Any, Any]:
        if self._on_load is not None:
            self._on_load(name, load_ms / 1000)
        return self.stats.record_load(name, load_ms)

    def defer(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run bookkeeping after the answer has gone out; finished before the daemon stops."""
        task = asyncio.get_running_loop().create_task(_logged(coro))
        self._deferred.add(task)
        task.add_done_callback(self._deferred.discard)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ttl_loop(self) -> None:
        while True:
            await asyncio.sleep(TTL_TICK_S)
            if self.pool is not None:
                self.pool.expire()

    async def _preload(self) -> None:
        residency = self.settings.residency
        wanted = list(residency.preload)
        wanted += [
            spec.name for spec in self.registry.specs() if spec.pinned and not spec.is_remote
        ]
        completion = residency.completion_models()
        wanted += completion
        for name in dict.fromkeys(wanted):
            try:
                if name in completion:
                    self.pin(name, True)  # completions must never wait for a load
                await self.load(name)
            except LocalForgeError as exc:
                self._preload_errors[name] = exc.message
                log.warning("preloading '%s' failed: %s", name, exc.message)

    def _on_registry_event(self, event: str, spec: ModelSpec) -> None:
        self.remotes.pop(spec.name, None)
        if event == "removed":
            self.health.forget(spec.name)
        if self.pool is None:
            return
        if event == "removed":
            self.pool.forget(spec.name)
        elif event == "changed" and spec.name in self.pool.slots:
            self.pool.slot(spec)
            self.pool.schedule()

    def _device_for(self, spec: ModelSpec) -> str:
        budgets = self.budgets
        if budgets is None or budgets.mode != "gpu" or spec.n_gpu_layers == 0:
            return CPU
        gpus = [device for device in budgets.devices if device.key != CPU]
        used = self.pool.used_bytes() if self.pool is not None else {}
        return max(gpus, key=lambda device: device.budget_bytes - used.get(device.key, 0)).key

    def _pool(self) -> ModelPool:
        if self.pool is None:
            raise Unavailable("the model manager is not started yet; retry in a moment")
        return self.pool

    # --- CandidateSource ------------------------------------------------------

    def candidates(self) -> list[Candidate]:
        entries = {entry.name: entry for entry in self.settings.models}
        slots = self.pool.slots if self.pool is not None else {}
        result = []
        for spec in self.registry.specs():
            measured = self.stats.get(spec.name)
            entry = entries.get(spec.name)
            slot = slots.get(spec.name)
            resident = spec.is_remote or (slot is not None and slot.state in ("idle", "busy"))
            expected = 0.0
            if not resident:
                expected = (
                    measured.load_ms_ewma
                    or (entry.load_time_ms if entry else None)
                    or (SPAWN_MS + estimate_memory(spec) / LOAD_BYTES_PER_S * 1000)
                )
            latency = measured.latency_ms_ewma or (entry.avg_latency_ms if entry else None)
            health = self.health.describe(spec.name)
            result.append(
                Candidate(
                    spec.name,
                    dict(spec.benchmarks),
                    latency,
                    float(expected),
                    resident,
                    cooling_until=self.health.cooling_until(spec.name),
                    health=health.get("broken") or health.get("last_error"),
                )
            )
        return result

    def runtime_facts(self, spec: ModelSpec) -> dict[str, Any]:
        """How this model runs here: safe mode and why, and its health (breaker state)."""
        slot = self.pool.slots.get(spec.name) if self.pool is not None else None
        reason = slot.safe_reason if slot is not None else None
        if reason is None and not spec.is_remote:
            reason = self.safe_policy.initial(spec)
        return {
            "safe_mode": {"on": reason is not None, "reason": reason},
            "health": self.health.describe(spec.name),
        }

    def resident(self) -> list[str]:
        if self.pool is None:
            return []
        return [name for name, slot in self.pool.slots.items() if slot.state in ("idle", "busy")]

    # --- operations -----------------------------------------------------------

    async def load(self, name: str, on_progress: OnProgress | None = None) -> dict[str, Any]:
        spec = self.registry.get(name)
        if spec.is_remote:
            return {"name": name, "resident": True, "remote": spec.url, "load_ms": 0.0}
        pool = self._pool()
        started = time.perf_counter()
        async with pool.serving(spec, on_progress):
            pass
        slot = pool.slots[name]
        return {
            "name": name,
            "resident": True,
            "waited_ms": round((time.perf_counter() - started) * 1000, 1),
            "load_ms": round(slot.load_info.load_ms, 1) if slot.load_info else None,
            "pid": slot.worker.pid if slot.worker else None,
        }

    async def unload(self, name: str) -> bool:
        spec = self.registry.get(name)
        if spec.is_remote:
            return False
        return await self._pool().unload(name)

    def pin(self, name: str, on: bool) -> dict[str, Any]:
        spec = self.registry.get(name)
        if spec.is_remote:  # always available; nothing to keep resident here
            return {"name": name, "pinned": on, "resident": True}
        slot = self._pool().slot(spec)
        slot.pinned = on
        self._pool().schedule()
        return {"name": name, "pinned": on, "resident": slot.state in ("idle", "busy")}

    async def chat(
        self, spec: ModelSpec, messages: Sequence[dict[str, str]], **options: Unpack[ChatOptions]
    ) -> Completion:
        """Answer ``messages``; what the request leaves unset comes from ``spec.generation``."""
        defaults = spec.generation
        stop = (*options.get("stop", ()), *defaults.stop)
        if spec.is_remote and spec.prompt_format in (SERVER_TEMPLATE, GGUF_TEMPLATE):
            # The server applies the model's own template to the messages.
            prompt = build_chat_prompt(GGUF_TEMPLATE, SERVER_TEMPLATE, messages, stop)
            fmt, note = SERVER_TEMPLATE, None
        else:
            prompt = build_chat_prompt(spec.prompt_format, spec.chat_template, messages, stop)
            fmt, note = prompt.format, prompt.note
        max_tokens = options.get("max_tokens")
        temperature = options.get("temperature")
        request = GenerateRequest(
            kind=prompt.kind,
            prompt=prompt.prompt,
            messages=prompt.messages,
            max_tokens=defaults.max_tokens if max_tokens is None else max_tokens,
            temperature=defaults.temperature if temperature is None else temperature,
            top_p=defaults.top_p,
            repeat_penalty=defaults.repeat_penalty,
            stop=prompt.stop,
            fresh=not self.settings.residency.reuse_prompt_prefix,
        )
        strip = prompt.kind == "completion"
        return await self._run(spec, request, fmt, note, options, strip_leading=strip)

    async def complete_code(
        self, spec: ModelSpec, prefix: str, suffix: str = "", **options: Unpack[CodeOptions]
    ) -> Completion:
        code = _code_prompt(spec, prefix, suffix, options, options.get("stop", ()))
        request = GenerateRequest(
            kind="completion",
            prompt=code.prompt,
            max_tokens=options.get("max_tokens", CODE_MAX_TOKENS),
            temperature=options.get("temperature", CODE_TEMPERATURE),
            stop=code.stop,
            fresh=not self.settings.residency.reuse_prompt_prefix,
            stop_pattern=options.get("stop_pattern"),
        )
        return await self._run(spec, request, code.format, None, options, strip_leading=False)

    async def prefill_code(
        self, spec: ModelSpec, prefix: str, suffix: str = "", **options: Unpack[CodeContext]
    ) -> dict[str, Any]:
        """Evaluate a completion prompt into the model's KV cache, generating nothing.

        Only a resident model that is idle right now is used: a prefill never loads a
        model and never waits for (or delays) a request.
        """
        facts: dict[str, Any] = {"model": spec.name, "prefilled": False}
        if spec.is_remote:
            return {**facts, "reason": "a remote model keeps its own cache"}
        if not self.settings.residency.reuse_prompt_prefix:
            return {**facts, "reason": "residency.reuse_prompt_prefix is off"}
        code = _code_prompt(spec, prefix, suffix, options, ())
        async with self._pool().idle_worker(spec.name) as worker:
            if worker is None:
                return {**facts, "reason": "the model is not resident or not idle"}
            request = GenerateRequest(kind="prefill", prompt=code.prompt, max_tokens=0)
            timeout = self.settings.residency.generate_timeout_s
            try:
                generation = await worker.generate(request, on_token=None, timeout=timeout)
            except LocalForgeError as exc:  # the next request meets (and heals) the cause
                return {**facts, "reason": exc.message}
        return {
            **facts,
            "prefilled": generation.finish_reason != "cancelled",
            "prompt_tokens": generation.prompt_tokens,
            "cached_tokens": generation.cached_tokens,
            "prefill_ms": round(generation.total_ms, 1),
        }

    async def _run(
        self,
        spec: ModelSpec,
        request: GenerateRequest,
        prompt_format: str,
        note: str | None,
        streaming: Streaming,
        *,
        strip_leading: bool,
    ) -> Completion:
        on_token = streaming.get("on_token")
        emit = _leading_stripper(on_token) if strip_leading and on_token else on_token
        started = time.perf_counter()
        wall_start = time.time()
        loaded = False
        waited = 0.0
        generation: Generation
        timeout = self.settings.residency.generate_timeout_s
        try:
            if spec.is_remote:
                generation = await self._remote(spec).generate(
                    request, on_token=emit, timeout=timeout
                )
            else:
                generation, waited, loaded = await generate_healing(
                    self._pool(),
                    spec,
                    request,
                    emit,
                    streaming.get("on_progress"),
                    timeout=timeout,
                    started=started,
                    wall_start=wall_start,
                    policy=self.safe_policy,
                )
        except LocalForgeError as exc:
            health_event(self.health, spec.name, exc)
            self.defer(self.stats.record_request(spec.name, ok=False))
            raise
        self.health.success(spec.name)
        total = (time.perf_counter() - started) * 1000
        tps = generation.completion_tokens / max(generation.total_ms / 1000, 1e-6)
        self.defer(
            self.stats.record_request(
                spec.name,
                ok=True,
                latency_ms=generation.total_ms,
                ttft_ms=generation.ttft_ms,
                tokens_per_s=tps,
            )
        )
        text = generation.text.lstrip() if strip_leading else generation.text
        return Completion(
            text=text,
            model=spec.name,
            prompt_format=prompt_format,
            finish_reason=generation.finish_reason,
            usage={
                "prompt_tokens": generation.prompt_tokens,
                "completion_tokens": generation.completion_tokens,
            },
            timings={
                "queue_ms": round(waited, 1),
                "ttft_ms": round(waited + generation.ttft_ms, 1),
                "generate_ms": round(generation.total_ms, 1),
                "total_ms": round(total, 1),
            },
            loaded=loaded,
            note=note,
        )

    def _remote(self, spec: ModelSpec) -> RemoteBackend:
        assert spec.url is not None
        backend = self.remotes.get(spec.name)
        if backend is None or backend.url != spec.url:
            backend = RemoteBackend(spec.name, spec.url)
            self.remotes[spec.name] = backend
        return backend

    # --- status ---------------------------------------------------------------

    def settings_changed(self, changed: Sequence[str]) -> None:
        """Nothing to apply: settings are read per use, or need a restart (restart_keys)."""

    def status(self) -> dict[str, Any]:
        if self.pool is None or self.budgets is None:
            return {"state": self._state, "detail": "not started"}
        return describe(self._state, self.pool, self.budgets, self.health, self._preload_errors)


def _code_prompt(
    spec: ModelSpec, prefix: str, suffix: str, context: CodeContext, stop: Sequence[str]
) -> CodePrompt:
    return code_prompt_for(
        spec,
        prefix,
        suffix,
        context.get("extra", ()),
        context.get("language"),
        context.get("path"),
        context.get("max_tokens", CODE_MAX_TOKENS),
        stop,
    )


def _leading_stripper(on_token: OnToken) -> OnToken:
    started = False

    def emit(text: str) -> None:
        nonlocal started
        if not started:
            text = text.lstrip()
            if not text:
                return
            started = True
        on_token(text)

    return emit


async def _logged(coro: Coroutine[Any, Any, Any]) -> None:
    try:
        await coro
    except Exception:
        log.exception("deferred bookkeeping failed")
