"""Content-Length framing: whole bodies out of arbitrary chunks, and refusals that say why."""

from __future__ import annotations

import json

import pytest

from localforge.rpc.framing import FrameDecoder, FrameTooLarge, FramingError, encode

CAP = 1024


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def test_encode_round_trips_through_the_decoder() -> None:
    message = {"jsonrpc": "2.0", "id": 1, "result": {"text": "héllo ✓"}}
    data = encode(message)
    assert data.startswith(b"Content-Length: ")
    bodies = FrameDecoder(CAP).feed(data)
    assert [json.loads(b) for b in bodies] == [message]


def test_several_frames_in_one_chunk_and_one_byte_at_a_time() -> None:
    stream = frame(b'{"a":1}') + frame(b'{"b":2}') + frame(b"[]")
    assert FrameDecoder(CAP).feed(stream) == [b'{"a":1}', b'{"b":2}', b"[]"]
    decoder = FrameDecoder(CAP)
    out: list[bytes] = []
    ends = {len(frame(b'{"a":1}')), 2 * len(frame(b'{"a":1}')), len(stream)}
    for i in range(len(stream)):
        out += decoder.feed(stream[i : i + 1])
        assert decoder.pending == (i + 1 not in ends)
    assert out == [b'{"a":1}', b'{"b":2}', b"[]"]


def test_other_headers_are_ignored_and_names_are_case_insensitive() -> None:
    data = b"content-type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-length: 2\r\n\r\n{}"
    assert FrameDecoder(CAP).feed(data) == [b"{}"]


def test_partial_body_waits() -> None:
    decoder = FrameDecoder(CAP)
    assert decoder.feed(b'Content-Length: 10\r\n\r\n{"a":') == []
    assert decoder.pending
    assert decoder.feed(b'"xy"}') == [b'{"a":"xy"}']
    assert not decoder.pending


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"jsonrpc":"2.0"}', "missing Content-Length header"),
        (b"[1,2]", "missing Content-Length header"),
        (b"Content-Lenght: 2\r\n\r\n{}", "missing Content-Length header"),
        (b"hello world\r\n\r\n", "malformed header line 'hello world'"),
        (b"Content-Length: -5\r\n\r\n", "Content-Length must be a non-negative integer, got '-5'"),
        (
            b"Content-Length: ten\r\n\r\n",
            "Content-Length must be a non-negative integer, got 'ten'",
        ),
        (b"Content-Length: 1.5\r\n\r\n", "Content-Length must be a non-negative integer"),
        (b"Content-Length: \r\n\r\n", "Content-Length must be a non-negative integer, got ''"),
    ],
)
def test_bad_headers(data: bytes, message: str) -> None:
    with pytest.raises(FramingError, match=message.replace("(", r"\(").replace("[", r"\[")):
        FrameDecoder(CAP).feed(data)


def test_length_over_the_cap_is_refused_before_reading_the_body() -> None:
    with pytest.raises(FrameTooLarge, match=f"exceeds the {CAP}-byte cap"):
        FrameDecoder(CAP).feed(b"Content-Length: %d\r\n\r\n" % (CAP + 1))
    with pytest.raises(FrameTooLarge, match=r"daemon\.max_frame_bytes"):
        FrameDecoder(CAP).feed(b"Content-Length: 99999999999999999999999999\r\n\r\n")
    assert FrameDecoder(CAP).feed(frame(b" " * CAP)) == [b" " * CAP]


def test_endless_header_is_refused() -> None:
    decoder = FrameDecoder(CAP)
    assert decoder.feed(b"X-Padding: " + b"a" * 4000) == []
    with pytest.raises(FramingError, match="header longer than 8192 bytes"):
        decoder.feed(b"a" * 5000)


def test_a_length_with_thousands_of_digits_is_over_the_cap_not_a_crash() -> None:
    # Python's int() refuses more than 4,300 digits; the length is judged before it is parsed.
    with pytest.raises(
        FrameTooLarge, match="message of a 4301-digit number of bytes exceeds the 1024-byte cap"
    ):
        FrameDecoder(CAP).feed(b"Content-Length: " + b"1" * 4301 + b"\r\n\r\n")


def test_leading_zeros_in_the_length_do_not_count() -> None:
    assert FrameDecoder(CAP).feed(b"Content-Length: " + b"0" * 5000 + b"2\r\n\r\n{}") == [b"{}"]


def test_valid_text_is_sent_as_utf8() -> None:
    assert encode({"t": "héllo ✓ 😀"}).endswith('{"t":"héllo ✓ 😀"}'.encode())


def test_a_lone_surrogate_goes_back_escaped_as_the_client_sent_it() -> None:
    data = encode({"id": "\ud800", "t": "é"})
    [body] = FrameDecoder(CAP).feed(data)
    assert body == b'{"id":"\\ud800","t":"\\u00e9"}'
    assert json.loads(body) == {"id": "\ud800", "t": "é"}


def test_messages_that_arrived_whole_before_a_break_are_handed_over_with_the_error() -> None:
    decoder = FrameDecoder(CAP)
    with pytest.raises(FramingError, match="malformed header line") as err:
        decoder.feed(frame(b'{"a":1}') + frame(b"[]") + b"garbage\r\n\r\n" + frame(b"{}"))
    assert err.value.bodies == [b'{"a":1}', b"[]"]
    assert not decoder.pending


def test_a_header_over_the_limit_is_refused_even_when_its_end_arrives_with_it() -> None:
    data = b"X-Padding: " + b"a" * 9000 + b"\r\nContent-Length: 2\r\n\r\n{}"
    with pytest.raises(FramingError, match="header longer than 8192 bytes"):
        FrameDecoder(CAP).feed(data)
    assert FrameDecoder(CAP).feed(b"X-Padding: " + b"a" * 8000 + b"\r\nContent-Length: 2\r\n\r\n{}")
