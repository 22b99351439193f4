"""A model served by a remote OpenAI-compatible server (llama-server, vLLM, Ollama, ...).

Chat goes to ``/v1/chat/completions`` (the server applies its own chat template),
code completion to ``/v1/completions``; both stream Server-Sent Events, which are
passed on token by token exactly like a local worker's.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx

from localforge.errors import ModelError, Timeout, Unavailable
from localforge.models.runtime.repetition import RepetitionGuard
from localforge.models.runtime.worker import GenerateRequest, Generation, OnToken

log = logging.getLogger(__name__)


def api_base(url: str) -> str:
    base = url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


class RemoteBackend:
    def __init__(self, name: str, url: str, *, connect_timeout: float = 5.0) -> None:
        self.name = name
        self.url = url
        self.base = api_base(url)
        self.connect_timeout = connect_timeout
        self._served_name: str | None = None

    async def served_name(self, client: httpx.AsyncClient) -> str:
        """The server's id for this model: our name if it serves it, else its only model."""
        if self._served_name is None:
            name = self.name
            try:
                response = await client.get(f"{self.base}/models")
                ids = [
                    item.get("id")
                    for item in response.json().get("data", [])
                    if isinstance(item, dict)
                ]
                if name not in ids and len(ids) == 1 and isinstance(ids[0], str):
                    name = ids[0]
            except (httpx.HTTPError, ValueError, AttributeError):
                log.debug("could not list models at %s", self.base)
            self._served_name = name
        return self._served_name

    async def generate(
        self, request: GenerateRequest, *, on_token: OnToken | None, timeout: float
    ) -> Generation:
        started = time.perf_counter()
        first: float | None = None
        pieces: list[str] = []
        finish = "stop"
        usage: dict[str, Any] = {}
        guard = RepetitionGuard() if request.repetition_guard else None
        limits = httpx.Timeout(timeout, connect=self.connect_timeout)
        try:
            async with httpx.AsyncClient(timeout=limits) as client:
                body: dict[str, Any] = {
                    "model": await self.served_name(client),
                    "max_tokens": request.max_tokens,
                    "temperature": request.temperature,
                    "top_p": request.top_p,
                    "stream": True,
                }
                if request.repeat_penalty != 1.0:  # not OpenAI's; llama-server reads it
                    body["repeat_penalty"] = request.repeat_penalty
                if request.stop:
                    body["stop"] = list(request.stop)
                if request.kind == "chat":
                    endpoint = "chat/completions"
                    body["messages"] = request.messages or []
                else:
                    endpoint = "completions"
                    body["prompt"] = request.prompt or ""
                async with client.stream("POST", f"{self.base}/{endpoint}", json=body) as response:
                    if response.status_code >= 400:
                        detail = (await response.aread()).decode(errors="replace")[:300]
                        raise ModelError(
                            f"remote model '{self.name}' at {self.url} answered HTTP "
                            f"{response.status_code}: {detail}; check the model name and the server"
                        )
                    async for data in _sse_data(response):
                        if data == "[DONE]":
                            break
                        chunk = json.loads(data)
                        usage = chunk.get("usage") or usage
                        choices = chunk.get("choices") or []
                        if not choices:
                            continue
                        choice = choices[0]
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
                        text = choice.get("text")
                        if text is None:
                            text = (choice.get("delta") or {}).get("content")
                        if not text:
                            continue
                        if first is None:
                            first = time.perf_counter()
                        pieces.append(text)
                        if on_token is not None:
                            on_token(text)
                        if guard is not None and guard.add(text):
                            finish = "repetition"
                            break
        except httpx.TimeoutException as exc:
            raise Timeout(
                f"remote model '{self.name}' at {self.url} timed out after {timeout:g}s; "
                "check the server or raise residency.generate_timeout_s"
            ) from exc
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"remote model '{self.name}' at {self.url} is unreachable ({exc}); "
                "start the server or fix the url in [[models]]"
            ) from exc
        except json.JSONDecodeError as exc:
            raise ModelError(
                f"remote model '{self.name}' at {self.url} sent a malformed stream event ({exc}); "
                "is it an OpenAI-compatible server?"
            ) from exc
        now = time.perf_counter()
        return Generation(
            text="".join(pieces),
            finish_reason=str(finish),
            prompt_tokens=int(usage.get("prompt_tokens", 0) or 0),
            completion_tokens=int(usage.get("completion_tokens", 0) or len(pieces)),
            ttft_ms=((first or now) - started) * 1000,
            total_ms=(now - started) * 1000,
        )


async def _sse_data(response: httpx.Response) -> Any:
    """Yield the ``data:`` payload of each Server-Sent Event."""
    buffer: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if line.startswith("data:"):
            buffer.append(line[5:].lstrip())
    if buffer:
        yield "\n".join(buffer)
