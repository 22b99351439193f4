"""The GGUF container format, walked with bounds checks: header, key/value metadata, tensor infos.

Low-level and strict: any inconsistency raises ``Corrupt``, any read past the end
``Truncated``, an unknown version ``UnsupportedVersion``; ``gguf_info`` turns
those into messages for a person. The ``gguf`` package supplies the format's
constants (value types, quantisation block sizes).
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
# Sanity limits: a header beyond these is corrupt or hostile, not a model.
MAX_KV = 100_000
MAX_TENSORS = 1_000_000
MAX_DIMS = 8
MAX_VOCAB = 5_000_000
MAX_ARRAY_ITEMS = 50_000_000
MAX_NESTING = 4

_SCALARS: dict[int, tuple[str, int]] = {
    GGUFValueType.UINT8: ("<B", 1),
    GGUFValueType.INT8: ("<b", 1),
    GGUFValueType.UINT16: ("<H", 2),
    GGUFValueType.INT16: ("<h", 2),
    GGUFValueType.UINT32: ("<I", 4),
    GGUFValueType.INT32: ("<i", 4),
    GGUFValueType.FLOAT32: ("<f", 4),
    GGUFValueType.BOOL: ("<?", 1),
    GGUFValueType.UINT64: ("<Q", 8),
    GGUFValueType.INT64: ("<q", 8),
    GGUFValueType.FLOAT64: ("<d", 8),
}


class Corrupt(Exception):
    """The header is inconsistent (the message says how)."""


class Truncated(Exception):
    """The header or the tensor data runs past the end of the file."""


class UnsupportedVersion(Exception):
    def __init__(self, version: int) -> None:
        super().__init__(f"GGUF version {version}")
        self.version = version


class Cursor:
    def __init__(self, buf: mmap.mmap) -> None:
        self.buf = buf
        self.size = len(buf)
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > self.size:
            raise Truncated(f"needs byte {end:,} of {self.size:,}")
        data = self.buf[self.pos : end]
        self.pos = end
        return data

    def skip(self, n: int) -> None:
        end = self.pos + n
        if n < 0 or end > self.size:
            raise Truncated(f"needs byte {end:,} of {self.size:,}")
        self.pos = end

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def skip_string(self, what: str) -> None:
        length = self.u64()
        if length > self.size - self.pos:
            raise Truncated(f"{what} claims {length:,} bytes, more than the rest of the file")
        self.pos += length

    def string(self, what: str) -> str:
        length = self.u64()
        if length > self.size:
            raise Corrupt(f"{what} claims {length:,} bytes, more than the whole file")
        if length > self.size - self.pos:
            raise Truncated(f"{what} claims {length:,} bytes, more than the rest of the file")
        raw = self.take(length)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Corrupt(f"{what} is not valid UTF-8") from exc


@dataclass
class Header:
    version: int
    size: int
    meta: dict[str, Any]
    tokens: TokenTable | None
    tensor_count: int
    weights_bytes: int
    parameter_count: int
    type_bytes: dict[str, int] = field(default_factory=dict)


def parse_header(buf: mmap.mmap, wanted_tokens: Collection[str] = ()) -> Header:
    """Walk everything before the tensor data; ``wanted_tokens`` are looked up in the vocabulary."""
    cur = Cursor(buf)
    cur.skip(4)
    version = cur.u32()
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersion(version)
    tensor_count = cur.u64()
    kv_count = cur.u64()
    if kv_count > MAX_KV or tensor_count > MAX_TENSORS:
        raise Corrupt(f"header claims {kv_count:,} metadata keys and {tensor_count:,} tensors")

    meta: dict[str, Any] = {}
    tokens: TokenTable | None = None
    for _ in range(kv_count):
        key = cur.string("a metadata key")
        vtype = cur.u32()
        if key == "tokenizer.ggml.tokens" and vtype == GGUFValueType.ARRAY:
            tokens = read_token_table(cur, frozenset(wanted_tokens))
            meta[key] = f"<{tokens.count} tokens>"
        else:
            meta[key] = read_value(cur, vtype, key)

    alignment = meta.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise Corrupt(f"general.alignment = {alignment!r} is not a power of two")

    weights, params, data_end, type_bytes = read_tensor_infos(cur, tensor_count, alignment)
    if data_end > cur.size:
        raise Truncated(f"the tensors need {data_end:,} bytes but the file has {cur.size:,}")
    return Header(version, cur.size, meta, tokens, tensor_count, weights, params, type_bytes)


def read_value(cur: Cursor, vtype: int, key: str, depth: int = 0) -> Any:
    if vtype == GGUFValueType.STRING:
        return cur.string(f"the value of {key}")
    scalar = _SCALARS.get(vtype)
    if scalar is not None:
        fmt, width = scalar
        return struct.unpack(fmt, cur.take(width))[0]
    if vtype == GGUFValueType.ARRAY:
        item_type = cur.u32()
        count = cur.u64()
        if count > MAX_ARRAY_ITEMS:
            raise Corrupt(f"{key} claims {count:,} items")
        if count > cur.size:
            raise Truncated(f"{key} claims {count:,} items")
        item = _SCALARS.get(item_type)
        if item is not None:
            fmt, width = item
            if count * width > cur.size - cur.pos:
                raise Truncated(f"{key} claims {count:,} items")
            if count <= 64:
                return list(struct.unpack("<" + fmt[1] * count, cur.take(width * count)))
            cur.skip(width * count)
            return f"<{count} values>"
        if item_type == GGUFValueType.STRING:
            if count <= 64:
                return [cur.string(f"an item of {key}") for _ in range(count)]
            for _ in range(count):
                cur.skip_string(f"an item of {key}")
            return f"<{count} strings>"
        if item_type == GGUFValueType.ARRAY:
            if depth >= MAX_NESTING:
                raise Corrupt(f"{key} nests arrays more than {MAX_NESTING} deep")
            return [read_value(cur, GGUFValueType.ARRAY, key, depth + 1) for _ in range(count)]
        raise Corrupt(f"{key} has an unknown array item type {item_type}")
    raise Corrupt(f"{key} has an unknown value type {vtype}")


@dataclass
class TokenTable:
    count: int
    wanted: dict[str, int]  # FIM-related token text -> id
    offsets: list[int]  # start of each token's length prefix, to look ids up later
    buf: mmap.mmap

    def text(self, token_id: int) -> str | None:
        if not 0 <= token_id < self.count:
            return None
        start = self.offsets[token_id]
        (length,) = struct.unpack("<Q", self.buf[start : start + 8])
        return self.buf[start + 8 : start + 8 + length].decode("utf-8", "replace")


def read_token_table(cur: Cursor, wanted_tokens: frozenset[str]) -> TokenTable:
    item_type = cur.u32()
    count = cur.u64()
    if item_type != GGUFValueType.STRING:
        raise Corrupt("tokenizer.ggml.tokens is not an array of strings")
    if count > MAX_VOCAB:
        raise Corrupt(f"the vocabulary claims {count:,} tokens")
    if count > cur.size:
        raise Truncated(f"the vocabulary claims {count:,} tokens")
    wanted_lengths = {len(token.encode()) for token in wanted_tokens}
    wanted: dict[str, int] = {}
    offsets: list[int] = []
    buf, pos, size = cur.buf, cur.pos, cur.size
    unpack_from = struct.Struct("<Q").unpack_from
    for index in range(count):
        if pos + 8 > size:
            raise Truncated("the vocabulary runs past the end of the file")
        offsets.append(pos)
        (length,) = unpack_from(buf, pos)
        pos += 8
        if pos + length > size:
            raise Truncated("the vocabulary runs past the end of the file")
        if length in wanted_lengths:
            text = buf[pos : pos + length].decode("utf-8", "replace")
            if text in wanted_tokens:
                wanted.setdefault(text, index)
        pos += length
    cur.pos = pos
    return TokenTable(count, wanted, offsets, buf)


def read_tensor_infos(
    cur: Cursor, count: int, alignment: int
) -> tuple[int, int, int, dict[str, int]]:
    weights = 0
    params = 0
    max_end = 0
    type_bytes: dict[str, int] = {}
    for _ in range(count):
        name = cur.string("a tensor name")
        n_dims = cur.u32()
        if n_dims > MAX_DIMS:
            raise Corrupt(f"tensor {name!r} claims {n_dims} dimensions")
        elements = 1
        for _ in range(n_dims):
            elements *= cur.u64()
        raw_type = cur.u32()
        offset = cur.u64()
        try:
            qtype = GGMLQuantizationType(raw_type)
            block, type_size = GGML_QUANT_SIZES[qtype]
        except (ValueError, KeyError):
            raise Corrupt(f"tensor {name!r} has an unknown type {raw_type}") from None
        if elements % block:
            raise Corrupt(f"tensor {name!r} has {elements} elements, not a multiple of {block}")
        n_bytes = elements // block * type_size
        if offset % alignment:
            raise Corrupt(f"tensor {name!r} starts at a misaligned offset {offset}")
        weights += n_bytes
        params += elements
        max_end = max(max_end, offset + n_bytes)
        type_bytes[qtype.name] = type_bytes.get(qtype.name, 0) + n_bytes
    data_start = cur.pos + (-cur.pos % alignment)
    return weights, params, data_start + max_end, type_bytes
