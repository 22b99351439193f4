"""LSP-style ``Content-Length`` framing with a size cap.

``FrameDecoder`` is fed raw bytes as they arrive and hands back whole bodies;
anything that cannot be framed raises ``FramingError`` and the connection that
sent it is closed (the other connections never notice).
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

HEADER_END = b"\r\n\r\n"
MAX_HEADER_BYTES = 8 * 1024
FRAMING_HELP = (
    "each message must start with 'Content-Length: N\\r\\n\\r\\n' followed by N bytes of JSON"
)


class FramingError(Exception):
    """The byte stream cannot be split into messages; the connection must close.

    ``bodies`` holds the whole messages that arrived before the break: they are still answered.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.bodies: list[bytes] = []


class FrameTooLarge(FramingError):
    """A message announced a length above the cap."""


def _plain(value: Any) -> Any:
    """JSON for values handlers commonly return: paths, sets, numpy scalars and arrays."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    for method in ("tolist", "item"):  # numpy arrays and scalars, without importing numpy
        convert = getattr(value, method, None)
        if callable(convert):
            return convert()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_plain)
# Escapes everything outside ASCII, so a lone surrogate (valid in a JSON string escape,
# not in UTF-8) goes back escaped, just as the client sent it.
_ASCII_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), default=_plain)


def encode_body(message: Any) -> bytes:
    """The JSON bytes of a message: UTF-8, and ASCII escapes when a string is not valid Unicode.

    Raises ``TypeError`` (or ``ValueError`` for circular data) only when ``message`` holds a
    value JSON cannot carry; any string, whatever a client put in it, can always be encoded.
    """
    text = _ENCODER.encode(message)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _ASCII_ENCODER.encode(message).encode("ascii")


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def encode(message: Any) -> bytes:
    """A whole frame: header and body."""
    return frame(encode_body(message))


class FrameDecoder:
    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes
        self._buffer = bytearray()
        self._body_length: int | None = None

    @property
    def pending(self) -> bool:
        """True while part of a message has arrived and the rest has not."""
        return bool(self._buffer) or self._body_length is not None

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        bodies: list[bytes] = []
        try:
            while True:
                if self._body_length is None and (not self._buffer or not self._read_header()):
                    break
                assert self._body_length is not None
                if len(self._buffer) < self._body_length:
                    break
                bodies.append(bytes(self._buffer[: self._body_length]))
                del self._buffer[: self._body_length]
                self._body_length = None
        except FramingError as exc:
            exc.bodies = bodies
            self._buffer.clear()  # nothing after a break can be framed
            self._body_length = None
            raise
        return bodies

    def _read_header(self) -> bool:
        if self._buffer[:1] in (b"{", b"["):
            raise FramingError(f"missing Content-Length header: {FRAMING_HELP}")
        end = self._buffer.find(HEADER_END, 0, MAX_HEADER_BYTES + len(HEADER_END))
        if end < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise FramingError(f"header longer than {MAX_HEADER_BYTES} bytes: {FRAMING_HELP}")
            return False
        header = bytes(self._buffer[:end])
        del self._buffer[: end + len(HEADER_END)]
        self._body_length = self._content_length(header)
        return True

    def _content_length(self, header: bytes) -> int:
        length: int | None = None
        for line in header.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if not sep:
                raise FramingError(f"malformed header line {_shown(line[:80])}: {FRAMING_HELP}")
            if name.strip().lower() != b"content-length":
                continue  # Content-Type and friends are allowed and ignored.
            text = value.strip()
            if not text.isdigit():
                raise FramingError(
                    f"Content-Length must be a non-negative integer, got {_shown(text[:40])}"
                )
            length = self._checked_length(text)
        if length is None:
            raise FramingError(f"missing Content-Length header: {FRAMING_HELP}")
        return length

    def _checked_length(self, digits: bytes) -> int:
        """The length, refused above the cap before ``int()`` (which has a digit limit) sees it."""
        significant = digits.lstrip(b"0") or b"0"
        cap = self.max_body_bytes
        if len(significant) > len(str(cap)):
            shown = (
                significant.decode()
                if len(significant) <= 40
                else f"a {len(significant)}-digit number of"
            )
            raise FrameTooLarge(_too_large(shown, cap))
        length = int(significant)
        if length > cap:
            raise FrameTooLarge(_too_large(str(length), cap))
        return length


def _too_large(length: str, cap: int) -> str:
    return (
        f"message of {length} bytes exceeds the {cap}-byte cap "
        "(daemon.max_frame_bytes); send smaller messages or raise the cap"
    )


def _shown(raw: bytes) -> str:
    """Header bytes as a quoted string a person can read (undecodable bytes escaped)."""
    return repr(raw.decode("ascii", "backslashreplace"))
