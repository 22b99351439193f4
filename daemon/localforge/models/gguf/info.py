"""Read a GGUF file's header — metadata, tokenizer facts, tensor table — without loading it.

The file is memory-mapped and walked once: key/value metadata, then the tensor
infos; tensor data is never touched, only checked to lie inside the file. The
``gguf`` package supplies the format's constants (value types, quantisation
block sizes, file types). Its ``GGUFReader`` builds a numpy view of every
vocabulary entry, which takes many seconds on a 262k-token vocabulary, so the
walk here is a lean, bounds-checked one that reads the token strings only where
a fact needs them (FIM markers).

Every failure is a ``ModelError`` naming what is wrong with the file and what to
do about it; nothing here ever raises anything else for a bad file.
"""

from __future__ import annotations

import mmap
import os
import re
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from gguf import LlamaFileType

from localforge.errors import ModelError
from localforge.models.catalogue.spec import FimTokens
from localforge.models.gguf.header import (
    GGUF_MAGIC,
    SUPPORTED_VERSIONS,
    Corrupt,
    Header,
    TokenTable,
    Truncated,
    UnsupportedVersion,
    parse_header,
)

MIB = 1024 * 1024
SPLIT_PART = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)  # NAME-0000k-of-0000N.gguf
# What a loaded model needs on top of weights and KV cache: scratch/compute buffers
# and the runtime itself. llama.cpp's compute buffer grows with the context.
OVERHEAD_FIXED = 64 * MIB
OVERHEAD_WEIGHTS_FRACTION = 0.05

# FIM markers by family: (prefix, suffix, middle, end-of-text candidates), as vocabulary strings.
FIM_FAMILIES: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    (
        "qwen",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        ("<|endoftext|>", "<|fim_pad|>"),
    ),
    ("starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", ("<|endoftext|>",)),
    ("codellama", "▁<PRE>", "▁<SUF>", "▁<MID>", ("▁<EOT>",)),
    (
        "deepseek-coder",
        "<｜fim▁begin｜>",
        "<｜fim▁hole｜>",
        "<｜fim▁end｜>",
        ("<|EOT|>", "<｜end▁of▁sentence｜>"),
    ),
    ("codestral", "[PREFIX]", "[SUFFIX]", "[MIDDLE]", ("</s>",)),
)
_WANTED_TOKENS = frozenset(
    token for _, pre, suf, mid, eots in FIM_FAMILIES for token in (pre, suf, mid, *eots)
)
_METADATA_FIM_KEYS = (
    "tokenizer.ggml.fim_pre_token_id",
    "tokenizer.ggml.fim_suf_token_id",
    "tokenizer.ggml.fim_mid_token_id",
)


@dataclass(frozen=True)
class GgufInfo:
    path: Path
    file_size: int
    version: int
    architecture: str
    name: str | None
    model_type: str | None  # general.type: "model" | "adapter" | ...
    size_label: str | None
    finetune: str | None
    parameter_count: int
    quantization: str
    context_length: int | None
    block_count: int | None
    embedding_length: int | None
    head_count: int | None
    head_count_kv: int | None
    kv_heads_total: int | None  # sum over layers (per-layer head counts differ in some models)
    head_dim_k: int | None
    head_dim_v: int | None
    sliding_window: int | None
    chat_template: str | None
    fim: FimTokens | None
    fim_style: str | None
    tokenizer_model: str | None
    tokenizer_pre: str | None
    vocab_size: int
    tensor_count: int
    weights_bytes: int
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly summary for ``models show``."""
        return {
            "file": str(self.path),
            "file_size": self.file_size,
            "gguf_version": self.version,
            "architecture": self.architecture,
            "name": self.name,
            "type": self.model_type,
            "size_label": self.size_label,
            "finetune": self.finetune,
            "parameters": self.parameter_count,
            "quantization": self.quantization,
            "context_length": self.context_length,
            "layers": self.block_count,
            "embedding_length": self.embedding_length,
            "heads": self.head_count,
            "kv_heads": self.head_count_kv,
            "head_dim": self.head_dim_k,
            "sliding_window": self.sliding_window,
            "has_chat_template": self.chat_template is not None,
            "fim": None
            if self.fim is None
            else {
                "style": self.fim_style,
                "prefix": self.fim.prefix,
                "suffix": self.fim.suffix,
                "middle": self.fim.middle,
                "eot": self.fim.eot,
            },
            "tokenizer": self.tokenizer_model,
            "vocab_size": self.vocab_size,
            "tensors": self.tensor_count,
            "weights_bytes": self.weights_bytes,
        }


@dataclass(frozen=True)
class MemoryEstimate:
    weights_bytes: int
    kv_cache_bytes: int
    overhead_bytes: int
    n_ctx: int

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.overhead_bytes

    def describe(self) -> dict[str, int]:
        return {
            "weights_bytes": self.weights_bytes,
            "kv_cache_bytes": self.kv_cache_bytes,
            "overhead_bytes": self.overhead_bytes,
            "total_bytes": self.total_bytes,
            "n_ctx": self.n_ctx,
        }


def kv_cache_bytes(info: GgufInfo, n_ctx: int, bytes_per_element: int = 2) -> int:
    """K and V of all layers at ``n_ctx`` tokens: 2 × layers × n_ctx × kv_heads × head_dim × 2 B."""
    if not info.kv_heads_total or not info.head_dim_k:
        return 0
    head_dim_v = info.head_dim_v or info.head_dim_k
    per_token = info.kv_heads_total * (info.head_dim_k + head_dim_v) * bytes_per_element
    return per_token * n_ctx


def estimate_memory(info: GgufInfo, n_ctx: int) -> MemoryEstimate:
    overhead = OVERHEAD_FIXED + int(info.weights_bytes * OVERHEAD_WEIGHTS_FRACTION)
    return MemoryEstimate(info.weights_bytes, kv_cache_bytes(info, n_ctx), overhead, n_ctx)


# --- reading -----------------------------------------------------------------


T = TypeVar("T")
_CACHE: dict[tuple[str, int, int], GgufInfo] = {}
_CACHE_LOCK = threading.Lock()


def read_gguf_info(path: Path) -> GgufInfo:
    """Parse ``path``'s header, cached per (path, size, mtime); ModelError names cause and fix."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ModelError(
            f"model file {path} does not exist: fix the path, or remove the entry that points to it"
        ) from None
    except OSError as exc:
        raise ModelError(
            f"cannot read model file {path}: {exc.strerror}; check its permissions"
        ) from exc
    if not path.is_file():
        raise ModelError(f"{path} is not a file: point the model at a .gguf file inside it")
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _CACHE_LOCK:
        info = _CACHE.get(key)
    if info is None:
        info = _read(path, stat.st_size)
        with _CACHE_LOCK:
            if len(_CACHE) > 256:
                _CACHE.clear()
            _CACHE[key] = info
    split_count = info.metadata.get("split.count")
    if isinstance(split_count, int) and split_count > 1:
        info = _with_shards(info, split_count)  # the other parts are checked every time
    return info


def _with_shards(first: GgufInfo, count: int) -> GgufInfo:
    """A model split in ``NAME-0000k-of-0000N.gguf`` files: weights and size of all of them."""
    match = SPLIT_PART.search(first.path.name)
    if match is None or int(match.group(1)) != 1:
        raise ModelError(
            f"{first.path} is part of a split model ({count} files): point at the file named "
            "...-00001-of-...gguf"
        )
    weights, params, size = first.weights_bytes, first.parameter_count, first.file_size
    for number in range(2, count + 1):
        name = SPLIT_PART.sub(f"-{number:05d}-of-{count:05d}.gguf", first.path.name)
        shard = first.path.with_name(name)
        if not shard.is_file():
            raise ModelError(
                f"{first.path} is part 1 of {count} but {shard.name} is missing: download "
                "every part of the model into the same directory"
            )
        more = _parse_file(
            shard, shard.stat().st_size, lambda h: (h.weights_bytes, h.parameter_count, h.size)
        )
        weights, params, size = weights + more[0], params + more[1], size + more[2]
    return replace(first, weights_bytes=weights, parameter_count=params, file_size=size)


def _read(path: Path, size: int) -> GgufInfo:
    return _parse_file(path, size, lambda header: _build_info(path, header), _WANTED_TOKENS)


def _parse_file(
    path: Path, size: int, use: Callable[[Header], T], wanted_tokens: Collection[str] = ()
) -> T:
    """``use`` applied to one GGUF file's header, read lazily while the file is mapped.

    Every way the file can be unreadable is a ModelError that names the cause and the fix.
    """
    if size < 24:
        raise ModelError(
            f"{path} is {size} bytes, too small to be a GGUF model: the file is empty or cut "
            "short; download it again"
        )
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise ModelError(
            f"cannot open model file {path}: {exc.strerror}; check its permissions"
        ) from exc
    try:
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as buf:
            magic = buf[:4]
            if magic != GGUF_MAGIC:
                raise ModelError(
                    f"{path} is not a GGUF file (it starts with {magic!r}, not b'GGUF'): "
                    "use the .gguf release of the model, or convert it with llama.cpp's "
                    "convert_hf_to_gguf.py"
                )
            try:
                return use(parse_header(buf, wanted_tokens))
            except UnsupportedVersion as exc:
                hint = "is it big-endian? " if exc.version > 0xFFFF else ""
                raise ModelError(
                    f"{path} is GGUF version {exc.version}, which this daemon cannot read "
                    f"({hint}supported: {', '.join(map(str, SUPPORTED_VERSIONS))}): "
                    "re-convert it with a current llama.cpp"
                ) from None
            except Truncated as exc:
                raise ModelError(
                    f"{path} is truncated ({exc}): the download or copy was cut short; "
                    "download the file again"
                ) from None
            except Corrupt as exc:
                raise ModelError(
                    f"{path} is a corrupt GGUF file ({exc}): download it again or re-convert it"
                ) from None
    except (OSError, ValueError) as exc:
        if isinstance(exc, ModelError):
            raise
        raise ModelError(
            f"cannot read model file {path}: {exc}; check the file and its disk"
        ) from exc
    finally:
        os.close(fd)


def _build_info(path: Path, header: Header) -> GgufInfo:
    meta, tokens = header.meta, header.tokens
    arch = meta.get("general.architecture")
    split_no = meta.get("split.no")
    if isinstance(split_no, int) and split_no > 0:
        raise ModelError(
            f"{path} is part {split_no + 1} of a split model: point at the file named "
            "...-00001-of-...gguf (the other parts load with it)"
        )
    if not isinstance(arch, str) or not arch:
        raise Corrupt("general.architecture is missing")

    def arch_int(key: str) -> int | None:
        value = meta.get(f"{arch}.{key}")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    blocks = arch_int("block_count")
    embedding = arch_int("embedding_length")
    heads = arch_int("attention.head_count")
    kv_value = meta.get(f"{arch}.attention.head_count_kv")
    kv_heads: int | None
    kv_total: int | None
    if isinstance(kv_value, list):  # per-layer counts
        kv_heads = max(kv_value) if kv_value else None
        kv_total = sum(kv_value)
    else:
        kv_heads = kv_value if isinstance(kv_value, int) else heads
        kv_total = kv_heads * blocks if kv_heads and blocks else None
    head_dim_k = arch_int("attention.key_length") or (
        embedding // heads if embedding and heads else None
    )
    head_dim_v = arch_int("attention.value_length") or head_dim_k
    template = meta.get("tokenizer.chat_template")
    fim, style = _find_fim(meta, tokens)
    return GgufInfo(
        path=path,
        file_size=header.size,
        version=header.version,
        architecture=arch,
        name=_str(meta.get("general.name")),
        model_type=_str(meta.get("general.type")),
        size_label=_str(meta.get("general.size_label")),
        finetune=_str(meta.get("general.finetune")),
        parameter_count=header.parameter_count,
        quantization=_quantization(meta.get("general.file_type"), header.type_bytes),
        context_length=arch_int("context_length"),
        block_count=blocks,
        embedding_length=embedding,
        head_count=heads,
        head_count_kv=kv_heads,
        kv_heads_total=kv_total,
        head_dim_k=head_dim_k,
        head_dim_v=head_dim_v,
        sliding_window=arch_int("attention.sliding_window"),
        chat_template=template if isinstance(template, str) and template.strip() else None,
        fim=fim,
        fim_style=style,
        tokenizer_model=_str(meta.get("tokenizer.ggml.model")),
        tokenizer_pre=_str(meta.get("tokenizer.ggml.pre")),
        vocab_size=tokens.count if tokens else 0,
        tensor_count=header.tensor_count,
        weights_bytes=header.weights_bytes,
        metadata={k: v for k, v in meta.items() if k != "tokenizer.chat_template"},
    )


def _find_fim(
    meta: Mapping[str, Any], tokens: TokenTable | None
) -> tuple[FimTokens | None, str | None]:
    if tokens is None:
        return None, None
    ids = [meta.get(key) for key in _METADATA_FIM_KEYS]
    eot_id = meta.get("tokenizer.ggml.eot_token_id")
    if all(isinstance(i, int) for i in ids):
        texts = [tokens.text(int(i)) for i in ids]  # type: ignore[arg-type]
        if all(texts):
            eot = tokens.text(eot_id) if isinstance(eot_id, int) else None
            style = next((f for f, pre, *_ in FIM_FAMILIES if pre == texts[0]), "metadata")
            return FimTokens(texts[0] or "", texts[1] or "", texts[2] or "", eot), style
    for style, pre, suf, mid, eots in FIM_FAMILIES:
        if pre in tokens.wanted and suf in tokens.wanted and mid in tokens.wanted:
            eot = next((e for e in eots if e in tokens.wanted), None)
            return FimTokens(pre, suf, mid, eot), style
    return None, None


def _quantization(file_type: Any, type_bytes: Mapping[str, int]) -> str:
    if isinstance(file_type, int):
        try:
            return LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            pass
    if type_bytes:
        return max(type_bytes.items(), key=lambda item: item[1])[0]
    return "unknown"


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
