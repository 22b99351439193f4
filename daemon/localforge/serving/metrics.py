"""Prometheus metrics of the daemon, in one registry of its own (no module globals).

``Metrics`` is the serving core's ``Observer`` (routing decisions, answers, errors,
feedback), the model manager's load observer, and the HTTP door's request counter.
What is a state rather than an event (queue depth, memory per model and device,
points in the vector memory, swaps) is read from the services at scrape time.
``render`` is the text ``GET /metrics`` and ``lfctl metrics`` print.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
ROUTE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
LOAD_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
RATE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


@dataclass
class Live:
    """State read from the services just before a scrape."""

    models: dict[str, Any] = field(default_factory=dict)  # the models service's status
    points: int = 0
    in_flight: int = 0


@dataclass(frozen=True)
class Sources:
    """Where the scrape-time state comes from; the composition root fills it in."""

    models_status: Callable[[], dict[str, Any]]
    memory_points: Callable[[], Awaitable[int]]
    in_flight: Callable[[], int]


class Metrics:
    def __init__(self, sources: Sources | None = None) -> None:
        disable_created_metrics()  # no *_created series: they double the text for no use here
        self.sources = sources
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "localforge_http_requests",
            "HTTP requests by endpoint, method and status",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "localforge_http_request_seconds",
            "HTTP request duration until the response is complete",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "localforge_routing_decisions",
            "routing decisions by request kind, task type and chosen model",
            ["kind", "task_type", "model"],
            registry=r,
        )
        self.fallbacks = Counter(
            "localforge_routing_fallbacks",
            "decisions made on the evidence of similar past queries (low confidence)",
            ["model"],
            registry=r,
        )
        self.cooling = Counter(
            "localforge_routing_cooling_skips",
            "models left out of a decision while they cool down after failures",
            ["model"],
            registry=r,
        )
        self.answers = Counter(
            "localforge_answers", "answers by kind and model", ["kind", "model"], registry=r
        )
        self.errors = Counter(
            "localforge_answer_errors",
            "requests that ended in an error, by kind and error type",
            ["kind", "error"],
            registry=r,
        )
        self.route_seconds = Histogram(
            "localforge_route_seconds",
            "time to decide which model answers",
            buckets=ROUTE_BUCKETS,
            registry=r,
        )
        self.first_token_seconds = Histogram(
            "localforge_first_token_seconds",
            "time from the request to the first token (queue and load included)",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.answer_seconds = Histogram(
            "localforge_answer_seconds",
            "time from the request to the last token",
            ["kind", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "localforge_generated_tokens", "tokens generated, by model", ["model"], registry=r
        )
        self.tokens_per_second = Histogram(
            "localforge_tokens_per_second",
            "generation speed of each answer",
            ["model"],
            buckets=RATE_BUCKETS,
            registry=r,
        )
        self.loads = Counter(
            "localforge_model_loads", "models loaded into a worker", ["model"], registry=r
        )
        self.load_seconds = Histogram(
            "localforge_model_load_seconds",
            "time to load a model",
            ["model"],
            buckets=LOAD_BUCKETS,
            registry=r,
        )
        self.feedback_outcomes = Counter(
            "localforge_feedback", "feedback on answers, by kind", ["kind"], registry=r
        )
        self.live = Live()
        r.register(_LiveCollector(self.live))

    # --- Observer (the serving core) ------------------------------------------

    def routed(self, kind: str, model: str, trace: Mapping[str, Any]) -> None:
        self.decisions.labels(kind, str(trace.get("task_type", "unknown")), model).inc()
        if trace.get("fallback"):
            self.fallbacks.labels(model).inc()
        for skipped in trace.get("cooling") or ():
            self.cooling.labels(str(skipped.get("model"))).inc()
        total = (trace.get("timings_ms") or {}).get("total")
        if total is not None:
            self.route_seconds.observe(float(total) / 1000)

    def answered(self, kind: str, model: str, result: Mapping[str, Any]) -> None:
        self.answers.labels(kind, model).inc()
        timings = result.get("timings") or {}
        usage = result.get("usage") or {}
        if "ttft_ms" in timings:
            self.first_token_seconds.labels(model).observe(timings["ttft_ms"] / 1000)
        if "total_ms" in timings:
            self.answer_seconds.labels(kind, model).observe(timings["total_ms"] / 1000)
        generated = int(usage.get("completion_tokens") or 0)
        self.tokens.labels(model).inc(generated)
        generate_ms = float(timings.get("generate_ms") or 0.0)
        if generated and generate_ms > 0:
            self.tokens_per_second.labels(model).observe(generated / (generate_ms / 1000))

    def failed(self, kind: str, model: str | None, error: str) -> None:
        self.errors.labels(kind, error).inc()

    def feedback(self, kind: str) -> None:
        self.feedback_outcomes.labels(kind).inc()

    # --- the model manager -------------------------------------------------------

    def loaded(self, model: str, seconds: float) -> None:
        self.loads.labels(model).inc()
        self.load_seconds.labels(model).observe(seconds)

    # --- doors -------------------------------------------------------------------

    def http_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.http_requests.labels(endpoint, method, str(status)).inc()
        self.http_seconds.labels(endpoint).observe(seconds)

    async def render(self) -> bytes:
        """The Prometheus text exposition of every metric, state read now."""
        if self.sources is not None:
            self.live.models = self.sources.models_status()
            self.live.points = await self.sources.memory_points()
            self.live.in_flight = self.sources.in_flight()
        return generate_latest(self.registry)


class _LiveCollector:
    """Gauges (and the pool's own counters) from the state read before the scrape."""

    def __init__(self, live: Live) -> None:
        self.live = live

    def collect(self) -> Iterator[Metric]:
        live, models = self.live, self.live.models
        yield GaugeMetricFamily(
            "localforge_requests_in_flight",
            "answers routing, waiting for a model or generating (every door)",
            value=live.in_flight,
        )
        yield GaugeMetricFamily(
            "localforge_queue_depth",
            "requests waiting for their model's turn",
            value=models.get("queued", 0),
        )
        yield CounterMetricFamily(
            "localforge_model_swaps",
            "models unloaded to make room for another since start",
            value=models.get("evictions", 0),
        )
        yield GaugeMetricFamily(
            "localforge_memory_points", "vectors in the routing memory", value=live.points
        )
        memory = GaugeMetricFamily(
            "localforge_model_memory_bytes",
            "memory a loading or loaded model holds, by device",
            labels=["model", "device", "state"],
        )
        for slot in models.get("resident", ()):
            memory.add_metric(
                [slot["name"], str(slot["device"]), slot["state"]], slot["memory_bytes"]
            )
        yield memory
        budget = GaugeMetricFamily(
            "localforge_device_budget_bytes", "memory budget per device", labels=["device"]
        )
        used = GaugeMetricFamily(
            "localforge_device_used_bytes", "memory held by models per device", labels=["device"]
        )
        for device in models.get("budgets", ()):
            budget.add_metric([str(device["device"])], device["budget_bytes"])
            used.add_metric([str(device["device"])], device["used_bytes"])
        yield budget
        yield used
