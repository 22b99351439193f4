"""Frames between the daemon and a model worker: a 4-byte big-endian length, then msgpack.

Requests (daemon → worker), each a map with ``op``:
  load      {path, n_ctx, n_gpu_layers, chat_format?}    → progress*, loaded | error
  generate  {id, kind: chat|completion, messages|prompt,
             max_tokens, temperature, stop, stop_pattern?} → token*, done | error (same id)
  generate  {id, kind: prefill, prompt}                    → done {prompt_tokens, cached_tokens}:
                                                              the prompt is evaluated into the
                                                              KV cache, nothing is generated
  cancel    {id}                                           → (the generation ends with done,
                                                              finish_reason "cancelled")
  stats     {}                                             → stats
  unload    {}                                             → unloaded, then the worker exits
"""

from __future__ import annotations

import asyncio
import struct
from typing import IO, Any

import msgpack

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024


class ProtocolError(Exception):
    """The peer sent something that is not a frame of this protocol."""


def pack(message: dict[str, Any]) -> bytes:
    body: bytes = msgpack.packb(message, use_bin_type=True)
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(body)} bytes exceeds the {MAX_FRAME}-byte limit")
    return HEADER.pack(len(body)) + body


def unpack(body: bytes) -> dict[str, Any]:
    try:
        message = msgpack.unpackb(body, raw=False)
    except Exception as exc:  # msgpack raises several unrelated types
        raise ProtocolError(f"undecodable frame: {exc}") from exc
    if not isinstance(message, dict) or "op" not in message:
        raise ProtocolError("a frame must be a map with an 'op' key")
    return message


def read_frame_sync(stream: IO[bytes]) -> dict[str, Any] | None:
    """Blocking read of one frame; None at a clean end of stream."""
    header = _read_exactly(stream, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes exceeds the {MAX_FRAME}-byte limit")
    body = _read_exactly(stream, size)
    if body is None:
        raise ProtocolError("stream ended in the middle of a frame")
    return unpack(body)


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            if remaining == size:
                return None
            raise ProtocolError("stream ended in the middle of a frame")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """Read one frame from an asyncio stream; None at a clean end of stream."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ProtocolError("stream ended in the middle of a frame header") from exc
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes exceeds the {MAX_FRAME}-byte limit")
    try:
        body = await reader.readexactly(size)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError("stream ended in the middle of a frame") from exc
    return unpack(body)
