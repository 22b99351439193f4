"""Service "serving": the one path from a request to an answer, for every door.

``chat`` and ``complete_code`` route the request (or take the named model),
wait for or load the model, stream its tokens, and record the decision, the
result and the latency; they yield typed events and end with ``Done``. A typed
``LocalForgeError`` ends a stream early. Cancelling the task that iterates stops
the generation in the worker and frees its slot.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localforge.benchmarks import NEUTRAL_PRIOR
from localforge.errors import Busy, InvalidParams, LocalForgeError, NotFound, Unavailable
from localforge.memory.embedder import Embedded
from localforge.models.catalogue.registry import BrokenModel
from localforge.models.catalogue.spec import ModelSpec
from localforge.models.runtime.manager import Completion
from localforge.serving.decisions import DecisionFeed
from localforge.serving.evaluating import evaluation_events
from localforge.serving.events import Event, LoadProgress, RouteDecided, Token
from localforge.serving.model_views import spec_details, spec_summary
from localforge.serving.ports import (
    Catalogue,
    Embeds,
    NoObserver,
    Observer,
    OnProgress,
    OnToken,
    Outcomes,
    Routes,
    Runner,
    StoreReport,
)
from localforge.serving.requests import ChatRequest, CodeRequest, EvalRequest
from localforge.serving.streams import Emit, progress_to, run_events
from localforge.settings import Settings

log = logging.getLogger(__name__)

MAX_EMBED_INPUTS = 2048  # texts in one embeddings request, as OpenAI allows
ANSWER_EWMA = 0.2  # weight of the newest answer in the typical answer time (retry hints)

Call = Callable[[ModelSpec, OnToken | None, OnProgress | None], Awaitable[Completion]]


@dataclass(frozen=True)
class Routed:
    request_id: str
    model: str
    task_type: str
    confidence: float
    trace: dict[str, Any] = field(default_factory=dict)
    route_ms: float = 0.0


class Serving:
    name = "serving"

    def __init__(
        self,
        catalogue: Catalogue,
        runner: Runner,
        settings: Callable[[], Settings],
        *,
        router: Routes | None = None,
        outcomes: Outcomes | None = None,
        store_report: StoreReport | None = None,
        embedder: Embeds | None = None,
        observer: Observer | None = None,
        decisions: DecisionFeed | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.runner = runner
        self.router = router
        self.outcomes = outcomes
        self.embedder = embedder
        self.observer: Observer = observer or NoObserver()
        self.decisions = decisions if decisions is not None else DecisionFeed()  # the live feed
        self._settings = settings
        self._store_report = store_report
        self.in_flight = 0  # answers routing, waiting for a model or generating
        self._answer_s = 1.0  # typical time an answer takes (EWMA), for retry hints

    # --- answering ------------------------------------------------------------

    def chat(self, request: ChatRequest) -> AsyncIterator[Event]:
        async def call(spec: ModelSpec, on_token: OnToken | None, on_progress: Any) -> Completion:
            return await self.runner.chat(
                spec,
                request.messages,
                on_token=on_token,
                on_progress=on_progress,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                stop=request.stop,
            )

        return run_events(
            lambda emit: self._answer(
                emit, request.route_text, request.model, "chat", request.stream, call, request.trace
            )
        )

    def complete_code(self, request: CodeRequest) -> AsyncIterator[Event]:
        async def call(spec: ModelSpec, on_token: OnToken | None, on_progress: Any) -> Completion:
            return await self.runner.complete_code(
                spec,
                request.prefix,
                request.suffix,
                on_token=on_token,
                on_progress=on_progress,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                stop=request.stop,
                extra=request.extra,
                language=request.language,
                path=request.path,
                stop_pattern=request.stop_pattern,
            )

        async def work(emit: Emit) -> dict[str, Any]:
            model, among = self._completion_target(request.model)
            return await self._answer(
                emit, request.route_text, model, "code", request.stream, call, request.trace, among
            )

        return run_events(work)

    async def explain_route(
        self, text: str, *, kind: str = "chat", model: str | None = None, record: bool = False
    ) -> dict[str, Any]:
        """The decision a request of ``kind`` would get: code is routed as completions are."""
        if self.router is None:
            raise Unavailable("this daemon has no router, so there is no decision to explain")
        among = None
        if kind == "code" and model is None:
            target, among = self._completion_target("auto")
            model = None if target == "auto" else target
        decision = await self.router.route(text, model=model, kind=kind, record=record, among=among)
        return decision.trace

    async def prefill_code(self, request: CodeRequest) -> dict[str, Any]:
        """Get the next completion at this context ready: KV cache and routing, no generation.

        The prompt is evaluated into the KV cache of the model ``request.model`` names, else
        of a resident completion model (never loading one); at the same time the route text
        is embedded and classified, so routing the completion reuses both.
        """
        name, among = self._completion_target(request.model)
        prepared = (
            asyncio.ensure_future(self.router.prepare(request.route_text))
            if self.router is not None
            else None
        )
        try:
            if name == "auto":
                resident = [n for n in self.runner.resident() if among is None or n in among]
                name = resident[0] if resident else "auto"
            if name == "auto":
                result: dict[str, Any] = {
                    "model": None,
                    "prefilled": False,
                    "reason": "no model is resident",
                }
            else:
                result = await self.runner.prefill_code(
                    self.catalogue.get(name),
                    request.prefix,
                    request.suffix,
                    extra=request.extra,
                    language=request.language,
                    path=request.path,
                    max_tokens=request.max_tokens,
                )
            if prepared is not None:
                result["route"] = await prepared
        except BaseException:
            if prepared is not None:
                prepared.cancel()
            raise
        return result

    async def feedback(self, request_id: str, kind: str, value: float | None) -> dict[str, Any]:
        """Hand a user's verdict on an answer to the memory."""
        if self.outcomes is None:
            raise Unavailable("this daemon has no memory, so it cannot record feedback")
        result = await self.outcomes.record_outcome(request_id, kind, value)
        self.observer.feedback(kind)
        self.decisions.outcome(result)
        return result

    async def embed(self, texts: list[str]) -> Embedded:
        """Embed texts with the daemon's embedding model (the one the memory uses)."""
        if self.embedder is None:
            raise Unavailable("this daemon has no embedding model (the memory is off)")
        if not texts:
            raise InvalidParams("input is empty: send a string or a list of strings")
        if len(texts) > MAX_EMBED_INPUTS:
            raise InvalidParams(
                f"input has {len(texts)} texts; send at most {MAX_EMBED_INPUTS} per request"
            )
        return await self.embedder.embed_texts(texts)

    def retry_after_s(self) -> int:
        """Seconds after which a refused request may well be admitted."""
        return max(1, min(60, math.ceil(self._answer_s)))

    def _admit(self) -> None:
        limit = self._settings().residency.max_queue
        if limit and self.in_flight >= limit:
            wait = self.retry_after_s()
            raise Busy(
                f"{self.in_flight} requests are already waiting or running "
                f"(residency.max_queue = {limit}); retry in {wait}s, or raise residency.max_queue",
                data={"retry_after_s": wait},
            )

    async def _answer(
        self,
        emit: Emit,
        text: str,
        model: str,
        kind: str,
        stream: bool,
        call: Call,
        trace: bool = False,
        among: list[str] | None = None,
    ) -> dict[str, Any]:
        """Admit one request (``residency.max_queue``), serve it, and tell the observer."""
        forced = None if model == "auto" else model
        spec = self.catalogue.get(forced) if forced is not None else None  # NotFound names them
        self._admit()
        self.in_flight += 1
        started = time.perf_counter()
        try:
            return await self._serve(emit, text, forced, spec, kind, stream, call, trace, among)
        except LocalForgeError as exc:
            self.observer.failed(kind, forced, type(exc).__name__)
            raise
        except asyncio.CancelledError:
            self.observer.failed(kind, forced, "Cancelled")
            raise
        finally:
            self.in_flight -= 1
            seconds = time.perf_counter() - started
            self._answer_s += ANSWER_EWMA * (seconds - self._answer_s)

    async def _serve(
        self,
        emit: Emit,
        text: str,
        forced: str | None,
        spec: ModelSpec | None,
        kind: str,
        stream: bool,
        call: Call,
        trace: bool,
        among: list[str] | None,
    ) -> dict[str, Any]:
        """Route, serve and record one request.

        With ``model="auto"`` the router picks the model first. A named model starts
        generating at once while the router classifies and records the request in
        parallel; events still begin with the route, and earlier ones wait for it.
        """
        routing: asyncio.Future[Routed] = asyncio.ensure_future(
            self._route(text, forced, kind, among)
        )
        try:
            if spec is None:
                spec = self.catalogue.get((await routing).model)
        except BaseException:
            routing.cancel()
            raise
        chosen = spec
        early: list[Event] = []
        announced = False

        def announce(done: asyncio.Future[Routed]) -> None:
            nonlocal announced
            if done.cancelled() or done.exception() is not None:
                return
            routed = done.result()
            announced = True
            emit(RouteDecided(routed.request_id, chosen.name, routed.task_type, routed.confidence))
            for item in early:
                emit(item)
            early.clear()

        def send(item: Event) -> None:
            if announced:
                emit(item)
            else:
                early.append(item)

        def on_progress(progress: float) -> None:
            send(LoadProgress(chosen.name, progress))

        def on_token(piece: str) -> None:
            send(Token(piece))

        if stream:
            if routing.done():
                announce(routing)
            else:
                routing.add_done_callback(announce)
        started = time.perf_counter()
        try:
            completion = await call(
                spec, on_token if stream else None, on_progress if stream else None
            )
        except LocalForgeError as exc:
            self.runner.defer(self._record(routing, spec.name, _since(started), exc.message))
            raise
        except asyncio.CancelledError:
            self.runner.defer(
                self._record(routing, spec.name, _since(started), "cancelled by the client")
            )
            raise
        latency = _since(started)
        routed = await routing
        # The latency is final now; storing it must not delay the answer.
        self.runner.defer(self._record(routing, spec.name, latency, None))
        result = completion.as_dict()
        result["timings"]["route_ms"] = round(routed.route_ms, 1)
        result.update(
            request_id=routed.request_id,
            task_type=routed.task_type,
            confidence=routed.confidence,
        )
        if completion.note:
            result["trace"] = {"prompt_format": completion.prompt_format, "note": completion.note}
        if trace:
            result["decision"] = routed.trace
        self.observer.answered(kind, spec.name, result)
        return result

    async def _route(
        self, text: str, forced: str | None, kind: str, among: list[str] | None = None
    ) -> Routed:
        if self.router is None:
            name = forced or self._first_model()
            reason = "forced by the request" if forced else "no router: first registered model"
            return Routed(uuid.uuid4().hex, name, "general", 0.0, {"reason": reason})
        started = time.perf_counter()
        try:
            decision = await self.router.route(text, model=forced, kind=kind, among=among)
        except LocalForgeError as exc:
            if forced is None:
                raise
            # The model is chosen already: a routing failure only costs the record.
            log.warning("routing a request forced to '%s' failed: %s", forced, exc.message)
            return Routed(uuid.uuid4().hex, forced, "unknown", 0.0, {"error": exc.message})
        self.observer.routed(kind, decision.model, decision.trace)
        self.decisions.decided(kind, decision)
        return Routed(
            decision.request_id,
            decision.model,
            decision.task_type,
            decision.confidence,
            decision.trace,
            _since(started),
        )

    def _first_model(self) -> str:
        specs = self.catalogue.specs()
        if not specs:
            raise Unavailable("no models are registered: add one with `lfctl models add PATH`")
        return specs[0].name

    async def _record(
        self, routing: asyncio.Future[Routed], model: str, latency_ms: float, error: str | None
    ) -> None:
        try:
            routed = await routing
        except (LocalForgeError, asyncio.CancelledError):
            return  # never routed: nothing was recorded that a result could complete
        self.decisions.finished(routed.request_id, latency_ms, error)
        if self.router is None:
            return
        try:
            await self.router.record_result(
                routed.request_id, model=model, latency_ms=latency_ms, ok=error is None, error=error
            )
        except LocalForgeError as exc:
            log.warning("could not record the result of %s: %s", routed.request_id, exc.message)

    def _completion_target(self, requested: str) -> tuple[str, list[str] | None]:
        """The model a completion goes to, or ``("auto", models to route among)``.

        A named model is used as it is. Otherwise completions never wait for a load: they
        are routed among the resident ones of ``residency.completion_model`` (all of them
        while none is resident yet, i.e. still preloading), or, when that is unset, among
        the resident models; with nothing resident they are routed like chat.
        """
        if requested != "auto":
            return requested, None
        configured = self._settings().residency.completion_models()
        for name in configured:
            try:
                self.catalogue.get(name)
            except NotFound as exc:
                raise NotFound(
                    f"residency.completion_model: {exc.message}; set it to one of them, or "
                    "unset it to route completions among the resident models"
                ) from exc
        resident = self.runner.resident()
        if len(configured) == 1:
            return configured[0], None
        if configured:
            among = [name for name in configured if name in resident] or configured
        else:
            among = resident
        if len(among) == 1:
            return among[0], None
        return "auto", among or None

    # --- models -------------------------------------------------------------

    def list_models(self) -> dict[str, Any]:
        resident = set(self.runner.resident())
        return {
            "models": [
                {**spec_summary(spec, resident), **self.runner.runtime_facts(spec)}
                for spec in self.catalogue.specs()
            ],
            "broken": [broken.describe() for broken in self.catalogue.broken()],
            "pending": [str(path) for path in self.catalogue.pending],
            "neutral_prior": NEUTRAL_PRIOR,
        }

    def show_model(self, name: str) -> dict[str, Any]:
        found = self.catalogue.find(name)
        if found is None:
            self.catalogue.get(name)  # raises NotFound listing the known names
            raise NotFound(f"no model named '{name}'")
        if isinstance(found, BrokenModel):
            return found.describe()
        return self._details(found)

    async def add_model(self, path: Path, name: str | None) -> dict[str, Any]:
        if not path.is_absolute():
            raise InvalidParams(f"path {str(path)!r} is relative: send an absolute path")
        return self._details(await self.catalogue.add(path, name))

    async def remove_model(self, name: str) -> dict[str, Any]:
        return await self.catalogue.remove(name)

    def _details(self, spec: ModelSpec) -> dict[str, Any]:
        resident = set(self.runner.resident())
        details = spec_details(spec, resident, self.catalogue.measured(spec.name))
        return {**details, **self.runner.runtime_facts(spec)}

    def load(self, name: str) -> AsyncIterator[Event]:
        async def work(emit: Emit) -> dict[str, Any]:
            return await self.runner.load(name, progress_to(emit, name))

        return run_events(work)

    async def unload(self, name: str) -> dict[str, Any]:
        unloaded = await self.runner.unload(name)
        return {"name": name, "unloaded": unloaded}

    def pin(self, name: str, on: bool) -> AsyncIterator[Event]:
        async def work(emit: Emit) -> dict[str, Any]:
            result = self.runner.pin(name, on)
            if on and not result["resident"]:
                await self.runner.load(name, progress_to(emit, name))
                result["resident"] = True
            return result

        return run_events(work)

    def evaluate(self, request: EvalRequest) -> AsyncIterator[Event]:
        """Run the built-in mini-evaluation on a model and store its measured scores."""
        return evaluation_events(self.catalogue, self.runner, self._store_report, request)


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
