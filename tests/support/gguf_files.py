"""Tiny GGUF files for tests, written with the ``gguf`` package, plus broken ones.

``write_tiny_gguf`` makes a complete llama-architecture model (random f32
weights, a small SentencePiece-style vocabulary with byte fallback) that
llama.cpp can load and run — a few hundred KiB, so a test can register many
models. Options add a chat template, FIM tokens of a given family, or change the
architecture facts the registry reads.

``write_truncated``, ``write_not_gguf`` and ``write_corrupt`` produce the broken
files every loader must survive.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path

import gguf
import numpy as np

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

FIM_TOKENS: dict[str, tuple[str, ...]] = {
    "qwen": ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|endoftext|>"),
    "starcoder": ("<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<|endoftext|>"),
    "codellama": ("▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"),
    "deepseek-coder": (
        "<｜fim▁begin｜>",
        "<｜fim▁hole｜>",
        "<｜fim▁end｜>",
        "<｜end▁of▁sentence｜>",
    ),
    "codestral": ("[PREFIX]", "[SUFFIX]", "[MIDDLE]"),
}

_TOKEN_NORMAL = 1
_TOKEN_UNKNOWN = 2
_TOKEN_CONTROL = 3
_TOKEN_USER_DEFINED = 4
_TOKEN_BYTE = 6
_PIECES = ("▁", "▁the", "▁a", "e", "t", "o", "n", "s", "▁def", "▁return", "(", ")", ":", "▁=")


def token_id(token: str, fim: str | None = None, extra_tokens: Sequence[str] = ()) -> int:
    """The id ``write_tiny_gguf`` gives ``token`` for the same ``fim``/``extra_tokens``."""
    tokens, _, _ = _vocabulary([*(FIM_TOKENS[fim] if fim else ()), *extra_tokens])
    return tokens.index(token)


def write_tiny_gguf(
    path: Path,
    *,
    name: str = "tiny",
    architecture: str = "llama",
    n_embd: int = 64,
    n_layers: int = 2,
    n_heads: int = 4,
    n_kv_heads: int = 2,
    context_length: int = 2048,
    chat_template: str | None = None,
    fim: str | None = None,
    extra_tokens: Sequence[str] = (),
    size_label: str | None = None,
    metadata: Mapping[str, int | str] | None = None,
    seed: int = 0,
) -> Path:
    """Write a loadable tiny model to ``path`` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tokens, scores, types = _vocabulary([*(FIM_TOKENS[fim] if fim else ()), *extra_tokens])
    n_vocab = len(tokens)
    head_dim = n_embd // n_heads
    n_ff = n_embd * 2

    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_name(name)
    writer.add_type("model")
    if size_label:
        writer.add_size_label(size_label)
    writer.add_context_length(context_length)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_heads)
    writer.add_head_count_kv(n_kv_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    for key, value in (metadata or {}).items():
        if isinstance(value, int):
            writer.add_uint32(key, value)
        else:
            writer.add_string(key, value)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    writer.add_tensor("token_embd.weight", weight(n_vocab, n_embd))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", weight(n_vocab, n_embd))
    kv_dim = head_dim * n_kv_heads
    for layer in range(n_layers):
        prefix = f"blk.{layer}"
        writer.add_tensor(f"{prefix}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"{prefix}.attn_q.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"{prefix}.attn_k.weight", weight(kv_dim, n_embd))
        writer.add_tensor(f"{prefix}.attn_v.weight", weight(kv_dim, n_embd))
        writer.add_tensor(f"{prefix}.attn_output.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"{prefix}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"{prefix}.ffn_gate.weight", weight(n_ff, n_embd))
        writer.add_tensor(f"{prefix}.ffn_up.weight", weight(n_ff, n_embd))
        writer.add_tensor(f"{prefix}.ffn_down.weight", weight(n_embd, n_ff))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _vocabulary(special: Sequence[str]) -> tuple[list[str], list[float], list[int]]:
    tokens = ["<unk>", "<s>", "</s>"]
    types = [_TOKEN_UNKNOWN, _TOKEN_CONTROL, _TOKEN_CONTROL]
    for byte in range(256):
        tokens.append(f"<0x{byte:02X}>")
        types.append(_TOKEN_BYTE)
    for piece in _PIECES:
        tokens.append(piece)
        types.append(_TOKEN_NORMAL)
    for token in special:
        if token not in tokens:
            tokens.append(token)
            types.append(_TOKEN_USER_DEFINED)
    scores = [0.0 if t != _TOKEN_NORMAL else -float(i) for i, t in enumerate(types)]
    return tokens, scores, types


def write_not_gguf(
    path: Path, content: bytes = b"PK\x03\x04 this is a zip, not a model" * 4
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def write_truncated(path: Path, source: Path, keep_fraction: float = 0.5) -> Path:
    """Copy the first ``keep_fraction`` of ``source`` (a cut-short download)."""
    data = source.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: max(8, int(len(data) * keep_fraction))])
    return path


def write_header_truncated(path: Path, source: Path) -> Path:
    """Keep only the first 64 bytes: the metadata itself is cut off."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(source.read_bytes()[:64])
    return path


def write_corrupt(path: Path, source: Path) -> Path:
    """A GGUF whose first metadata key claims an absurd length (bit rot in the header)."""
    data = bytearray(source.read_bytes())
    struct.pack_into("<Q", data, 24, 2**40)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def copy_model(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    return target


def write_split_gguf(directory: Path, stem: str, tensors: int = 5, per_file: int = 2) -> list[Path]:
    """A model split into ``stem-0000k-of-0000N.gguf`` parts, as llama.cpp's gguf-split writes."""
    directory.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(directory / f"{stem}.gguf", "llama", split_max_tensors=per_file)
    writer.add_name(stem)
    for index in range(tensors):
        writer.add_tensor(f"t{index}.weight", np.zeros(64, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return sorted(directory.glob(f"{stem}-*-of-*.gguf"))
