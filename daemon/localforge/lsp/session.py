"""One editor window's state, and everything it asks of the daemon (over RPC, never in process).

The language server's handlers convert LSP types and call a ``Session``; the
session keeps the suggestion cache, the context ring, the debounce, the
feedback book and the status, and speaks ``code.complete``, ``code.prefill``,
``chat.complete``, ``feedback.record`` and ``daemon.status`` to the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from localforge.lsp import status as status_line
from localforge.lsp.cache import Suggestion, SuggestionCache, around
from localforge.lsp.context import ChunkRing, Window, cursor_window
from localforge.lsp.daemon_client import DaemonClient, DaemonError, DaemonUnavailable
from localforge.lsp.debounce import Debounce
from localforge.lsp.documents import DocumentView
from localforge.lsp.feedback import FeedbackBook, Outcome
from localforge.lsp.postprocess import block_stop_pattern, postprocess
from localforge.settings import LspSettings

log = logging.getLogger(__name__)

Notify = Callable[[str, Any], None]
TextOf = Callable[[str], str | None]
TICK_S = 0.5
WARNING = 2  # LSP MessageType.Warning
TRACES_KEPT = 32


class SessionError(Exception):
    """A request from the editor that cannot be answered; the message says why and what to do."""


@dataclass(frozen=True)
class Served:
    suggestion: Suggestion
    typed: int  # characters of it the user has typed since it was made
    source: str  # "model" | "cache" | "typed-ahead"

    @property
    def text(self) -> str:
        return self.suggestion.text[self.typed :]


class Session:
    def __init__(
        self,
        settings: LspSettings,
        daemon: DaemonClient,
        *,
        notify: Notify,
        text_of: TextOf,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.daemon = daemon
        self.notify = notify
        self.text_of = text_of
        self.clock = clock
        self.cache = SuggestionCache(settings.cache_size)
        self.debounce = Debounce(settings.debounce_min_ms, settings.debounce_max_ms, clock)
        self.ring = ChunkRing(settings.ring_chunks, settings.ring_chunk_lines, clock)
        self.book = FeedbackBook(
            min_shown_s=settings.min_shown_ms / 1000,
            reject_after_s=settings.reject_after_s,
            persistence_s=settings.persistence_check_s,
            min_kept=settings.persistence_min_kept,
            clock=clock,
        )
        self.traces: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.last_request: str | None = None
        self.last_chat: str | None = None
        self.last_model: str | None = None
        self._inflight: dict[str, asyncio.Task[Served | None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._records: set[asyncio.Task[Any]] = set()
        self._prefill: asyncio.TimerHandle | None = None
        self._prefilling: asyncio.Task[Any] | None = None
        self._loading: tuple[str, float] | None = None
        self._status: dict[str, Any] | None = None
        self._status_due = 0.0
        self._edits: dict[str, int] = {}  # uri -> offset of its last edit
        self._last_uri: str | None = None
        self._paths: dict[str, str] = {}
        self._languages: dict[str, str | None] = {}
        self._warned: str | None = None

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        self._spawn(self._ticker())

    async def stop(self) -> None:
        """Quickly (editors wait for shutdown): cancel the work, deliver decided outcomes."""
        if self._prefill is not None:
            self._prefill.cancel()
        pending = [*self._tasks, *self._inflight.values()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)
        if self._records:  # outcomes already decided: let them reach the daemon
            await asyncio.wait(set(self._records), timeout=2.0)
        await self.daemon.close()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _ticker(self) -> None:
        while True:
            self._record_all(self.book.tick(self.text_of))
            if self.clock() >= self._status_due:
                self._status_due = self.clock() + self.settings.status_interval_s
                await self.refresh_status()
            await asyncio.sleep(TICK_S)

    # --- documents ----------------------------------------------------------------

    def opened(self, doc: DocumentView) -> None:
        self._paths[doc.uri] = doc.path or doc.uri
        self._languages[doc.uri] = doc.language_id
        self.ring.pick(doc.path or doc.uri, doc.text)

    def changed(self, uri: str, offset: int, *, new_line: bool = False) -> None:
        """A keystroke (or any edit) ending at ``offset``; ``new_line``: it added a line.

        A new line changes what the next completion is routed on: the prefill (which also
        prepares the routing) then starts at once, not after the idle time.
        """
        self.debounce.keystroke()
        self._edits[uri] = offset
        self._schedule_prefill(uri, offset, at_once=new_line)

    def saved(self, uri: str) -> None:
        self._pick_around_edit(uri)

    def closed(self, uri: str) -> None:
        self._pick_around_edit(uri)
        self.cache.forget(uri)
        self._edits.pop(uri, None)
        self._paths.pop(uri, None)
        self._languages.pop(uri, None)

    def yanked(self, uri: str, text: str) -> None:
        self.ring.add(self._paths.get(uri, uri), text.split("\n"))

    def _pick_around_edit(self, uri: str) -> None:
        text = self.text_of(uri)
        offset = self._edits.get(uri)
        if text is not None and offset is not None:
            self.ring.pick(self._paths.get(uri, uri), text, text.count("\n", 0, offset))

    # --- completion -----------------------------------------------------------------

    async def complete(self, doc: DocumentView, offset: int, *, invoked: bool) -> Served | None:
        """The suggestion for the cursor at ``offset``: from the cache, or from the model."""
        if doc.uri != self._last_uri:
            if self._last_uri is not None:
                self._pick_around_edit(self._last_uri)  # the user left that file
            self._last_uri = doc.uri
        self._paths[doc.uri] = doc.path or doc.uri
        self._languages[doc.uri] = doc.language_id
        hit = self.cache.lookup(doc.uri, doc.text, offset)
        if hit is not None:
            served = Served(hit.suggestion, hit.typed, "typed-ahead" if hit.typed else "cache")
            self._served(doc.uri, served)
            return served if served.text else None
        previous = self._inflight.pop(doc.uri, None)
        if previous is not None:
            previous.cancel()  # a newer keystroke supersedes it: the worker stops
        self._stop_prefill()
        work = asyncio.ensure_future(self._generate(doc, offset, invoked))
        self._inflight[doc.uri] = work
        try:
            answer = await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the editor cancelled this request
            return None  # superseded by a newer request
        finally:
            if self._inflight.get(doc.uri) is work:
                del self._inflight[doc.uri]
        self._served(doc.uri, answer)
        return answer if answer is not None and answer.text else None

    async def _generate(self, doc: DocumentView, offset: int, invoked: bool) -> Served | None:
        if not invoked:
            await asyncio.sleep(self.debounce.remaining_s())
        window = cursor_window(
            doc.text, offset, self.settings.prefix_tokens, self.settings.suffix_tokens
        )
        try:
            result = await self.daemon.call(
                "code.complete", self._code_params(doc, window), self._on_stream
            )
        except (DaemonError, DaemonUnavailable) as exc:
            self._daemon_failed(exc)
            return None
        finally:
            self._loading = None
        self._remember(result)
        text = postprocess(
            str(result.get("text") or ""),
            line_prefix=window.line_prefix,
            line_suffix=window.line_suffix,
            next_lines=window.next_lines,
        )
        anchor, tail = around(doc.text, offset)
        suggestion = Suggestion(
            str(result.get("request_id") or ""),
            str(result.get("model") or ""),
            text,
            doc.uri,
            offset,
            anchor,
            tail,
        )
        self.cache.put(suggestion)
        return Served(suggestion, 0, "model")

    def _code_params(self, doc: DocumentView, window: Window) -> dict[str, Any]:
        settings = self.settings
        path = doc.path or doc.uri
        extra = self.ring.extra(settings.ring_tokens, exclude_path=path)
        return {
            "prefix": window.prefix,
            "suffix": window.suffix,
            "language": doc.language_id,
            "path": doc.path,
            "extra": [{"path": chunk.path, "text": chunk.text} for chunk in extra],
            "max_tokens": settings.max_tokens,
            "temperature": settings.temperature,
            "stop": ["\n"] if window.mid_line else [],
            "stop_pattern": None if window.mid_line else block_stop_pattern(window.line_prefix),
            "stream": True,
            "trace": True,
        }

    def _served(self, uri: str, served: Served | None) -> None:
        rid = served.suggestion.request_id if served is not None and served.text else None
        self._record_all(self.book.completion_requested(uri, rid))
        if served is not None and served.text:
            self.book.served(served.suggestion, served.typed)

    def _on_stream(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        if data.get("type") == "load":
            self._loading = (str(data.get("model")), float(data.get("progress") or 0.0))
            self._spawn(self.refresh_status())
        elif data.get("type") == "route":
            self.last_model = str(data.get("model"))

    def _remember(self, result: dict[str, Any]) -> None:
        request_id = result.get("request_id")
        self.last_model = result.get("model") or self.last_model
        if request_id:
            self.last_request = str(request_id)
            trace = result.get("decision")
            if isinstance(trace, dict):
                self.traces[str(request_id)] = trace
                while len(self.traces) > TRACES_KEPT:
                    self.traces.popitem(last=False)

    # --- idle-time prefill ------------------------------------------------------------

    def _schedule_prefill(self, uri: str, offset: int, *, at_once: bool = False) -> None:
        self._stop_prefill()
        idle = self.settings.prefill_idle_ms
        if idle <= 0:
            return
        loop = asyncio.get_running_loop()
        delay = 0.0 if at_once else idle / 1000
        self._prefill = loop.call_later(delay, self._start_prefill, uri, offset)

    def _stop_prefill(self) -> None:
        if self._prefill is not None:
            self._prefill.cancel()
            self._prefill = None
        if self._prefilling is not None and not self._prefilling.done():
            self._prefilling.cancel()  # a completion needs the worker now

    def _start_prefill(self, uri: str, offset: int) -> None:
        self._prefill = None
        text = self.text_of(uri)
        if text is None or self._inflight:
            return
        path = self._paths.get(uri)
        doc = DocumentView(uri, text, self._languages.get(uri), None if path == uri else path)
        self._prefilling = self._spawn(self._run_prefill(doc, offset))

    async def _run_prefill(self, doc: DocumentView, offset: int) -> None:
        window = cursor_window(
            doc.text, offset, self.settings.prefix_tokens, self.settings.suffix_tokens
        )
        params = self._code_params(doc, window)
        params = {key: params[key] for key in ("prefix", "suffix", "language", "path", "extra")}
        params["model"] = self.last_model or "auto"
        try:
            result = await self.daemon.call("code.prefill", params)
            log.debug("prefilled: %s", result)
        except (DaemonError, DaemonUnavailable) as exc:
            log.debug("prefill skipped: %s", exc)

    # --- feedback ---------------------------------------------------------------------

    def shown(self, request_id: str) -> None:
        self._record_all(self.book.shown(request_id))

    def rejected(self, request_id: str) -> None:
        self._record_all(self.book.rejected(request_id))

    def partially_accepted(self, request_id: str, accepted_length: int) -> None:
        self._record_all(self.book.partially_accepted(request_id, accepted_length))

    def accepted(self, request_id: str) -> None:
        self._record_all(self.book.accepted(request_id))

    async def thumbs(self, up: bool, request_id: str | None) -> dict[str, Any]:
        target = request_id or self.last_chat
        if target is None:
            raise SessionError("no chat answer to rate yet: ask LocalForge something first")
        kind = "thumbs_up" if up else "thumbs_down"
        try:
            result: dict[str, Any] = await self.daemon.call(
                "feedback.record", {"request_id": target, "kind": kind}
            )
        except (DaemonError, DaemonUnavailable) as exc:
            raise SessionError(str(exc)) from exc
        return result

    def _record_all(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            task = asyncio.get_running_loop().create_task(self._record(outcome))
            self._records.add(task)
            task.add_done_callback(self._records.discard)

    async def _record(self, outcome: Outcome) -> None:
        params = {"request_id": outcome.request_id, "kind": outcome.kind, "value": outcome.value}
        try:
            await self.daemon.call("feedback.record", params)
            log.info(
                "recorded %s %.3f for %s (%s)",
                outcome.kind,
                outcome.value,
                outcome.request_id,
                outcome.reason,
            )
        except (DaemonError, DaemonUnavailable) as exc:
            log.warning("could not record %s for %s: %s", outcome.kind, outcome.request_id, exc)

    async def flush(self) -> None:
        """Wait until every outcome decided so far has reached the daemon."""
        if self._records:
            await asyncio.wait(set(self._records), timeout=10.0)

    # --- chat, explain, status --------------------------------------------------------

    async def chat(
        self,
        messages: list[dict[str, str]],
        *,
        model: str = "auto",
        max_tokens: int = 512,
        on_delta: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        def on_stream(data: Any) -> None:
            if isinstance(data, dict) and data.get("type") == "token" and on_delta is not None:
                on_delta(str(data.get("text") or ""))
            else:
                self._on_stream(data)

        params = {
            "messages": messages,
            "model": model,
            "max_tokens": max_tokens,
            "stream": True,
            "trace": True,
        }
        try:
            result = await self.daemon.call("chat.complete", params, on_stream)
        except (DaemonError, DaemonUnavailable) as exc:
            raise SessionError(str(exc)) from exc
        finally:
            self._loading = None
        self._remember(result)
        self.last_chat = str(result.get("request_id") or "") or None
        return {
            "text": result.get("text", ""),
            "model": result.get("model"),
            "requestId": result.get("request_id"),
            "taskType": result.get("task_type"),
        }

    def explain(self, request_id: str | None) -> dict[str, Any]:
        target = request_id or self.last_request
        if target is None or target not in self.traces:
            if request_id is not None:
                raise SessionError(
                    f"no decision {request_id!r} in this window; only the last "
                    f"{TRACES_KEPT} are kept (lfctl route --explain shows any query)"
                )
            raise SessionError("no decision yet: ask for a completion or a chat answer first")
        return {"requestId": target, **self.traces[target]}

    async def refresh_status(self) -> dict[str, Any]:
        try:
            daemon_status = await self.daemon.call("daemon.status")
        except (DaemonError, DaemonUnavailable) as exc:
            current = status_line.offline(str(exc))
        else:
            current = status_line.summarize(
                daemon_status, model=self.last_model, loading=self._loading
            )
        if current != self._status:
            self._status = current
            self.notify("localforge/status", current)
        return current

    def _daemon_failed(self, exc: Exception) -> None:
        """Say why suggestions stopped: offline in the status, an error once as a message."""
        log.warning("completion failed: %s", exc)
        if isinstance(exc, DaemonUnavailable):
            current = status_line.offline(str(exc))
            if current != self._status:
                self._status = current
                self.notify("localforge/status", current)
        elif isinstance(exc, DaemonError) and not exc.cancelled and exc.message != self._warned:
            self._warned = exc.message  # the same cause is not repeated every keystroke
            self.notify(
                "window/showMessage", {"type": WARNING, "message": f"LocalForge: {exc.message}"}
            )

    @property
    def status(self) -> dict[str, Any] | None:
        return self._status
