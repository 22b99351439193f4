"""The serving core with fakes: events in order, recording, errors mid-stream, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from localforge.errors import NotFound, Unavailable, WorkerCrashed
from localforge.models.catalogue.spec import ModelSpec
from localforge.models.runtime.manager import Completion
from localforge.routing.router import Decision
from localforge.serving.events import Done, Event, LoadProgress, RouteDecided, Token
from localforge.serving.requests import ChatRequest, CodeRequest
from localforge.serving.service import Serving
from localforge.settings import Settings


def spec(name: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        path=Path(f"/models/{name}.gguf"),
        url=None,
        n_ctx=512,
        n_gpu_layers=0,
        family=None,
        prompt_format="plain",
        chat_template=None,
        fim=None,
        benchmarks={},
        benchmark_sources={},
        pinned=False,
        ttl_s=None,
        tags=(),
        memory_bytes=1,
        source="config",
    )


class FakeCatalogue:
    def __init__(self, *names: str) -> None:
        self._specs = {name: spec(name) for name in names}

    def get(self, name: str) -> ModelSpec:
        if name not in self._specs:
            raise NotFound(f"unknown model {name!r}; known models: {', '.join(self._specs)}")
        return self._specs[name]

    def specs(self) -> list[ModelSpec]:
        return list(self._specs.values())


@dataclass
class FakeRunner:
    """Loads (progress 0.5, 1.0), then streams ``pieces``; ``fail_after`` raises mid-stream."""

    pieces: Sequence[str] = ("Par", "is")
    fail_after: int | None = None
    hold: asyncio.Event | None = None  # generation waits here (for cancellation tests)
    cancelled: bool = False
    deferred: list[asyncio.Task[Any]] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)  # what resident() answers

    def resident(self) -> list[str]:
        return list(self.loaded)

    async def chat(self, spec: ModelSpec, messages: Sequence[dict[str, str]], **kw: Any) -> Any:
        return await self._generate(spec, kw.get("on_token"), kw.get("on_progress"))

    async def complete_code(self, spec: ModelSpec, prefix: str, suffix: str = "", **kw: Any) -> Any:
        return await self._generate(spec, kw.get("on_token"), kw.get("on_progress"))

    async def _generate(self, spec: ModelSpec, on_token: Any, on_progress: Any) -> Completion:
        if on_progress is not None:
            on_progress(0.5)
            on_progress(1.0)
        for index, piece in enumerate(self.pieces):
            if self.fail_after is not None and index == self.fail_after:
                raise WorkerCrashed(f"the worker for model '{spec.name}' was killed by SIGSEGV")
            if on_token is not None:
                on_token(piece)
            await asyncio.sleep(0)
        if self.hold is not None:
            try:
                await self.hold.wait()
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        return Completion(
            text="".join(self.pieces),
            model=spec.name,
            prompt_format="plain",
            finish_reason="stop",
            usage={"prompt_tokens": 3, "completion_tokens": len(self.pieces)},
            timings={"total_ms": 1.0},
            loaded=True,
        )

    def defer(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.deferred.append(asyncio.get_running_loop().create_task(coro))

    async def settle(self) -> None:
        await asyncio.gather(*self.deferred)


@dataclass
class FakeRouter:
    model: str = "writer"
    delay: float = 0.0
    results: list[dict[str, Any]] = field(default_factory=list)
    asked: list[dict[str, Any]] = field(default_factory=list)

    async def route(
        self,
        text: str,
        *,
        model: str | None = None,
        kind: str = "chat",
        record: bool = True,
        among: Sequence[str] | None = None,
    ) -> Decision:
        self.asked.append({"text": text, "model": model, "kind": kind, "among": among})
        await asyncio.sleep(self.delay)
        chosen = model or (among[-1] if among else self.model)
        return Decision("req-1", chosen, "general", 0.9, {"kind": kind})

    async def record_result(self, request_id: str, **result: Any) -> None:
        self.results.append({"request_id": request_id, **result})


def serving(runner: FakeRunner, router: FakeRouter | None, settings: Settings | None = None):  # type: ignore[no-untyped-def]
    current = settings or Settings()
    return Serving(FakeCatalogue("writer", "coder"), runner, lambda: current, router=router)  # type: ignore[arg-type]


async def collect(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


def chat(text: str = "capital of France?", **kw: Any) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": text}], **kw)


def test_a_routed_chat_yields_route_then_load_then_tokens_then_done() -> None:
    async def main() -> None:
        runner, router = FakeRunner(), FakeRouter()
        events = await collect(serving(runner, router).chat(chat()))
        await runner.settle()
        assert events[0] == RouteDecided("req-1", "writer", "general", 0.9)
        assert events[1:3] == [LoadProgress("writer", 0.5), LoadProgress("writer", 1.0)]
        assert events[3:5] == [Token("Par"), Token("is")]
        assert isinstance(events[-1], Done) and len(events) == 6
        result = events[-1].result
        assert result["text"] == "Paris" and result["request_id"] == "req-1"
        assert result["task_type"] == "general" and "route_ms" in result["timings"]
        [recorded] = router.results
        assert recorded["ok"] is True and recorded["model"] == "writer"

    asyncio.run(main())


def test_a_named_model_streams_at_once_but_the_route_comes_first() -> None:
    async def main() -> None:
        runner, router = FakeRunner(), FakeRouter(delay=0.05)
        events = await collect(serving(runner, router).chat(chat(model="coder")))
        assert events[0] == RouteDecided("req-1", "coder", "general", 0.9)
        assert [e for e in events if isinstance(e, Token)] == [Token("Par"), Token("is")]

    asyncio.run(main())


def test_without_streaming_only_done_comes_back() -> None:
    async def main() -> None:
        events = await collect(serving(FakeRunner(), FakeRouter()).chat(chat(stream=False)))
        assert len(events) == 1 and isinstance(events[0], Done)

    asyncio.run(main())


def test_an_error_mid_stream_ends_the_stream_typed_and_is_recorded() -> None:
    async def main() -> None:
        runner, router = FakeRunner(fail_after=1), FakeRouter()
        seen: list[Event] = []
        with pytest.raises(WorkerCrashed, match="SIGSEGV"):
            async for event in serving(runner, router).chat(chat()):
                seen.append(event)
        await runner.settle()
        assert Token("Par") in seen and not any(isinstance(e, Done) for e in seen)
        [recorded] = router.results
        assert recorded["ok"] is False and "SIGSEGV" in recorded["error"]

    asyncio.run(main())


def test_cancelling_the_caller_stops_the_generation_and_records_it() -> None:
    async def main() -> None:
        runner, router = FakeRunner(hold=asyncio.Event()), FakeRouter()
        tokens: list[Event] = []

        async def consume() -> None:
            async for event in serving(runner, router).chat(chat()):
                tokens.append(event)

        task = asyncio.create_task(consume())
        while len(tokens) < 5:  # route, two loads, two tokens
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert runner.cancelled, "the generation must see the cancellation"
        await runner.settle()
        assert router.results[0]["error"] == "cancelled by the client"

    asyncio.run(main())


def test_an_unknown_model_is_not_found_and_names_the_known_ones() -> None:
    async def main() -> None:
        with pytest.raises(NotFound, match="writer, coder"):
            await collect(serving(FakeRunner(), FakeRouter()).chat(chat(model="nope")))

    asyncio.run(main())


def test_without_a_router_the_first_model_answers() -> None:
    async def main() -> None:
        events = await collect(serving(FakeRunner(), None).chat(chat()))
        assert isinstance(events[0], RouteDecided) and events[0].model == "writer"

    asyncio.run(main())


def test_no_models_and_no_router_is_unavailable() -> None:
    async def main() -> None:
        empty = Serving(FakeCatalogue(), FakeRunner(), Settings)  # type: ignore[arg-type]
        with pytest.raises(Unavailable, match="no models are registered"):
            await collect(empty.chat(chat()))

    asyncio.run(main())


def test_completions_use_the_configured_completion_model() -> None:
    async def main() -> None:
        configured = Settings.model_validate({"residency": {"completion_model": "coder"}})
        router = FakeRouter()
        events = await collect(
            serving(FakeRunner(), router, configured).complete_code(CodeRequest(prefix="def f("))
        )
        assert isinstance(events[-1], Done) and events[-1].result["model"] == "coder"
        missing = Settings.model_validate({"residency": {"completion_model": "gone"}})
        with pytest.raises(NotFound, match=r"residency\.completion_model"):
            await collect(
                serving(FakeRunner(), router, missing).complete_code(CodeRequest(prefix="x"))
            )

    asyncio.run(main())


def test_completions_are_routed_among_the_resident_completion_models() -> None:
    async def main() -> None:
        both = Settings.model_validate({"residency": {"completion_model": ["writer", "coder"]}})
        router = FakeRouter()
        runner = FakeRunner(loaded=["writer", "coder"])
        events = await collect(serving(runner, router, both).complete_code(CodeRequest("x = ")))
        assert router.asked[-1]["model"] is None and router.asked[-1]["among"] == [
            "writer",
            "coder",
        ]
        assert isinstance(events[-1], Done) and events[-1].result["model"] == "coder"

        runner.loaded = ["writer"]  # the other one is not resident: never wait for its load
        events = await collect(serving(runner, router, both).complete_code(CodeRequest("x = ")))
        assert router.asked[-1]["model"] == "writer"
        assert isinstance(events[-1], Done) and events[-1].result["model"] == "writer"

        unset = Settings()
        runner.loaded = ["coder"]
        events = await collect(serving(runner, router, unset).complete_code(CodeRequest("x = ")))
        assert router.asked[-1]["model"] == "coder"
        runner.loaded = []  # nothing resident: routed like chat
        await collect(serving(runner, router, unset).complete_code(CodeRequest("x = ")))
        assert router.asked[-1]["model"] is None and router.asked[-1]["among"] is None

    asyncio.run(main())


def test_explaining_a_code_route_uses_the_completion_candidates() -> None:
    async def main() -> None:
        both = Settings.model_validate({"residency": {"completion_model": ["writer", "coder"]}})
        router = FakeRouter()
        runner = FakeRunner(loaded=["writer", "coder"])
        trace = await serving(runner, router, both).explain_route("def f(", kind="code")
        assert trace == {"kind": "code"}
        assert router.asked[-1]["among"] == ["writer", "coder"]
        await serving(runner, router, both).explain_route("hello", kind="chat")
        assert router.asked[-1]["among"] is None

    asyncio.run(main())


def test_the_code_route_text_is_bounded_and_stays_the_same_while_typing_on_a_line() -> None:
    head = "".join(f"line_{n} = {n}\n" for n in range(400))
    first = CodeRequest(prefix=head + "def f(", language="python").route_text
    later = CodeRequest(prefix=head + "def f(a, b, c):", language="python").route_text
    assert first == later
    assert first.startswith("[python] line_") and first.endswith("line_399 = 399\n")
    assert len(first) <= 512 + len("[python] ")
    assert first.count("\n") == 8
    lone = CodeRequest(prefix="import o", language="python").route_text
    assert lone == "[python] import o"
