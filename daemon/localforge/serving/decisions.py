"""The live feed of routing decisions, for the dashboard and ``lfctl top``.

The serving core publishes every routed request here, from any door: the decision
(``decided``), then how the answer went (``finished``: latency, error) and, when
feedback arrives, its outcome (``outcome``). Subscribers (the socket's
``route.decisions`` stream, the HTTP dashboard's event stream) each get a bounded
queue of events.

Nothing here can grow without bound or hold routing up:

- the feed keeps the last ``keep`` decisions (each with its full trace, for
  ``route.decision``) and forgets older ones;
- at most ``max_subscribers`` subscribe at once (one more is refused with ``Busy``);
- each subscriber's queue holds ``queue`` events; a subscriber that falls behind
  loses its oldest events and is told how many it skipped. Publishing appends and
  wakes, it never waits for a subscriber, and subscribers take events in batches of
  ``LINGER_S``, so a busy daemon writes a few batches a second, not one per event.

Which door a request came through is read from ``ORIGIN``, a context variable each
door sets for the tasks it runs (the socket per connection, so that a language server
that says ``daemon.hello`` is labelled ``lsp``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from localforge.errors import Busy, InvalidParams, NotFound
from localforge.routing.router import Decision

KEEP = 200  # recent decisions kept, with their traces
QUEUE = 256  # events a subscriber may have unread before it skips the oldest
MAX_SUBSCRIBERS = 16
RATE_WINDOW_S = 10  # requests/s is averaged over this many whole seconds
LINGER_S = 0.1  # a subscriber's batch gathers the events of this long (one write, not many)
SIGNALS = ("benchmark", "memory", "latency", "feedback")


@dataclass
class Origin:
    """Where the requests of a task come from; mutable, so a connection can name itself."""

    door: str = "socket"
    client: str | None = None


ORIGIN: ContextVar[Origin | None] = ContextVar("localforge_origin", default=None)


@dataclass
class _Entry:
    summary: dict[str, Any]
    trace: dict[str, Any]


@dataclass(eq=False)
class Subscription:
    """One subscriber's queue. ``take`` waits for events and returns what has arrived."""

    queue: deque[dict[str, Any]]
    skipped: int = 0
    closed: bool = False
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def put(self, event: dict[str, Any]) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.skipped += 1  # deque drops the oldest on append
        self.queue.append(event)
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def take(
        self, timeout: float | None = None, linger: float = 0.0
    ) -> tuple[list[dict[str, Any]], int]:
        """The events queued (waiting up to ``timeout`` for one) and how many were skipped.

        With ``linger``, once there is an event, the events of the next ``linger`` seconds
        come in the same batch: one write per batch instead of one per event, which is
        most of what a subscriber costs the daemon under load.
        """
        if not self.queue and not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        if linger > 0 and self.queue and not self.closed:
            await asyncio.sleep(linger)
        self._wake.clear()
        events = list(self.queue)
        self.queue.clear()
        skipped, self.skipped = self.skipped, 0
        return events, skipped


class DecisionFeed:
    def __init__(
        self,
        *,
        keep: int = KEEP,
        queue: int = QUEUE,
        max_subscribers: int = MAX_SUBSCRIBERS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keep = keep
        self.queue = queue
        self.max_subscribers = max_subscribers
        self.clock = clock
        self._recent: OrderedDict[str, _Entry] = OrderedDict()
        self._subscribers: set[Subscription] = set()
        self._seq = 0
        self._per_second: deque[list[int]] = deque(maxlen=RATE_WINDOW_S + 1)  # [second, count]
        self.published = 0
        self.skipped = 0  # events subscribers lost by falling behind, since start
        self.closed = False

    # --- publishing (the serving core) -----------------------------------------

    def decided(self, kind: str, decision: Decision) -> None:
        """A request was routed; its trace is the one ``route.explain`` gives."""
        request_id, trace = decision.request_id, decision.trace
        now = self.clock()
        origin = ORIGIN.get()
        summary: dict[str, Any] = {
            "type": "decision",
            "request_id": request_id,
            "at": round(now, 3),
            "door": origin.door if origin is not None else "internal",
            "kind": kind,
            "task_type": decision.task_type,
            "confidence": round(decision.confidence, 4),
            "model": decision.model,
            "reason": trace.get("reason"),
            "forced": bool(trace.get("forced")),
            "fallback": bool(trace.get("fallback")),
            "signals": [_signals(c) for c in trace.get("candidates") or ()],
            "route_ms": (trace.get("timings_ms") or {}).get("total"),
            "latency_ms": None,
            "ok": None,
            "error": None,
            "outcome": None,
            "outcome_kind": None,
        }
        self._recent[request_id] = _Entry(summary, dict(trace))
        self._recent.move_to_end(request_id)
        while len(self._recent) > self.keep:
            self._recent.popitem(last=False)
        self._count(now)
        self._publish(dict(summary))

    def finished(self, request_id: str, latency_ms: float, error: str | None) -> None:
        """The answer to a routed request is complete (or failed with ``error``)."""
        update = {"latency_ms": round(latency_ms, 1), "ok": error is None, "error": error}
        event = {"type": "result", "request_id": request_id, **update}
        self._update(request_id, event, update, known=True)

    def outcome(self, result: Mapping[str, Any]) -> None:
        """Feedback on a request arrived: ``result`` is what the memory recorded."""
        request_id = str(result.get("request_id", ""))
        update = {"outcome": result.get("value"), "outcome_kind": result.get("kind")}
        event = {"type": "outcome", "request_id": request_id, "model": result.get("model")}
        self._update(request_id, {**event, **update}, update, known=False)

    def _update(
        self, request_id: str, event: dict[str, Any], fields: dict[str, Any], *, known: bool
    ) -> None:
        """Complete a kept decision; ``known``: publish only when it is one the feed kept."""
        entry = self._recent.get(request_id)
        if entry is not None:
            entry.summary.update(fields)
        elif known:
            return  # not a decision the feed saw (a forced model whose routing failed)
        self._publish(event)

    def _publish(self, event: dict[str, Any]) -> None:
        self._seq += 1
        self.published += 1
        event["seq"] = self._seq
        entry = self._recent.get(str(event.get("request_id")))
        if entry is not None:
            entry.summary["seq"] = self._seq
        for subscriber in self._subscribers:
            before = subscriber.skipped
            subscriber.put(event)
            self.skipped += subscriber.skipped - before

    def _count(self, now: float) -> None:
        second = int(now)
        if self._per_second and self._per_second[-1][0] == second:
            self._per_second[-1][1] += 1
        else:
            self._per_second.append([second, 1])

    # --- reading (the doors) ---------------------------------------------------

    def subscribe(self) -> Subscription:
        if self.closed:
            raise Busy("lfd is shutting down; subscribe again once it is back")
        if len(self._subscribers) >= self.max_subscribers:
            raise Busy(
                f"{len(self._subscribers)} clients already follow the decisions, the most lfd "
                "serves at once; close a dashboard or `lfctl top` and try again"
            )
        subscription = Subscription(deque(maxlen=self.queue))
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)
        subscription.close()

    def close(self) -> None:
        """End every subscription (shutdown): their streams return instead of waiting."""
        self.closed = True
        for subscription in list(self._subscribers):
            self.unsubscribe(subscription)

    def recent(self, limit: int = KEEP, *, after: int = 0) -> list[dict[str, Any]]:
        """The latest decisions, oldest first, with their results and outcomes so far."""
        if limit <= 0:
            return []
        newer = [e.summary for e in self._recent.values() if e.summary["seq"] > after]
        return [dict(summary) for summary in newer[-limit:]]

    def trace(self, request_id: str) -> dict[str, Any]:
        """The full trace of a recent decision, by its id or a unique prefix of it."""
        entry = self._recent.get(request_id)
        if entry is None:
            if len(request_id) < 4:
                raise InvalidParams("send the request id, or at least its first 4 characters")
            found = [e for rid, e in self._recent.items() if rid.startswith(request_id)]
            if len(found) > 1:
                raise InvalidParams(f"{request_id!r} is the start of several recent request ids")
            if not found:
                raise NotFound(
                    f"no recent decision {request_id!r}: the feed keeps the last {self.keep}; "
                    "`lfctl route --explain` shows a fresh one"
                )
            entry = found[0]
        return {**entry.trace, "summary": dict(entry.summary)}

    def requests_per_s(self) -> float:
        """Decisions per second over the last whole seconds (the current one left out)."""
        now = int(self.clock())
        counted = sum(n for second, n in self._per_second if now - RATE_WINDOW_S <= second < now)
        return round(counted / RATE_WINDOW_S, 2)

    def stats(self) -> dict[str, Any]:
        return {
            "kept": len(self._recent),
            "keep": self.keep,
            "subscribers": len(self._subscribers),
            "max_subscribers": self.max_subscribers,
            "published": self.published,
            "skipped": self.skipped,
            "seq": self._seq,
        }


def _signals(candidate: Mapping[str, Any]) -> dict[str, Any]:
    signals = candidate.get("signals") or {}
    return {
        "model": candidate.get("model"),
        "final": candidate.get("final"),
        "resident": bool(candidate.get("resident")),
        **{name: signals.get(name) for name in SIGNALS},
    }
