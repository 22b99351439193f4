"""FIM prompts in each family's trained order; prefix completion without FIM tokens."""

from __future__ import annotations

import pytest

from localforge.models.catalogue.spec import FimTokens
from localforge.models.runtime.fim import build_code_prompt, fim_style

PREFIX = "def add(a, b):\n    return "
SUFFIX = "\n\nprint(add(1, 2))\n"

QWEN = FimTokens("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|endoftext|>")
STARCODER = FimTokens("<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<|endoftext|>")
DEEPSEEK = FimTokens("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "<｜end▁of▁sentence｜>")
CODELLAMA = FimTokens("▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>")
CODESTRAL = FimTokens("[PREFIX]", "[SUFFIX]", "[MIDDLE]", None)


@pytest.mark.parametrize(
    ("fim", "family", "expected"),
    [
        (QWEN, "qwen2", f"<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>"),
        (STARCODER, "starcoder2", f"<fim_prefix>{PREFIX}<fim_suffix>{SUFFIX}<fim_middle>"),
        (DEEPSEEK, "deepseek-coder", f"<｜fim▁begin｜>{PREFIX}<｜fim▁hole｜>{SUFFIX}<｜fim▁end｜>"),
        (CODELLAMA, "codellama", f"<PRE> {PREFIX} <SUF>{SUFFIX} <MID>"),
        (CODESTRAL, "codestral", f"[SUFFIX]{SUFFIX}[PREFIX]{PREFIX}"),
    ],
)
def test_each_family_gets_its_own_fim_layout(fim: FimTokens, family: str, expected: str) -> None:
    prompt = build_code_prompt(PREFIX, SUFFIX, fim=fim, family=family)
    assert prompt.prompt == expected
    assert prompt.format.startswith("fim-")


def test_style_is_recognised_from_the_tokens_when_the_family_is_unknown() -> None:
    assert fim_style(CODESTRAL, None) == "fim-spm"
    assert fim_style(CODELLAMA, None) == "fim-codellama"
    assert fim_style(QWEN, None) == "fim-psm"


def test_fim_stops_at_end_of_text_and_the_family_separators() -> None:
    prompt = build_code_prompt(PREFIX, SUFFIX, fim=QWEN, family="qwen2", stop=["\n\n\n"])
    assert prompt.stop[0] == "<|endoftext|>"
    assert "<|file_sep|>" in prompt.stop
    assert prompt.stop[-1] == "\n\n\n"
    assert len(set(prompt.stop)) == len(prompt.stop)


def test_without_fim_tokens_the_model_continues_the_prefix() -> None:
    prompt = build_code_prompt(PREFIX, SUFFIX, fim=None, family="gemma3", stop=["\n\n"])
    assert prompt.prompt == PREFIX
    assert prompt.format == "prefix"
    assert prompt.stop == ("\n\n",)


def test_extra_context_goes_before_the_prefix_as_commented_file_blocks() -> None:
    from localforge.models.runtime.fim import ContextChunk

    extra = [ContextChunk("util.py", "def helper():\n    pass\n")]
    prompt = build_code_prompt(
        PREFIX, SUFFIX, fim=None, family="gemma3", extra=extra, language="python", path="main.py"
    )
    assert prompt.prompt == "# util.py\ndef helper():\n    pass\n\n# main.py\n" + PREFIX


def test_repository_trained_families_get_file_separator_sections() -> None:
    from localforge.models.runtime.fim import ContextChunk

    extra = [ContextChunk("util.py", "X = 1\n")]
    prompt = build_code_prompt(PREFIX, SUFFIX, fim=QWEN, family="qwen2", extra=extra, path="m.py")
    assert prompt.prompt.startswith(
        "<|fim_prefix|><|file_sep|>util.py\nX = 1\n<|file_sep|>m.py\n" + PREFIX
    )


def test_context_is_fitted_to_the_window_nearest_the_cursor_first() -> None:
    from localforge.models.runtime.fim import ContextChunk, fit_code_context

    prefix = "".join(f"line {n}\n" for n in range(1000))
    suffix = "".join(f"after {n}\n" for n in range(1000))
    extra = [ContextChunk("old.py", "a\n" * 10), ContextChunk("new.py", "b\n" * 10)]
    fitted = fit_code_context(prefix, suffix, extra, n_ctx=512, max_tokens=64)
    assert prefix.endswith(fitted.prefix) and fitted.prefix.startswith("line ")
    assert suffix.startswith(fitted.suffix) and fitted.suffix.endswith(tuple("0123456789"))
    assert len(fitted.prefix) + len(fitted.suffix) <= (512 - 64 - 16) * 2.5
    assert len(fitted.suffix) <= len(fitted.prefix)
    assert fitted.extra == ()  # no room left for it
    small = fit_code_context("x = ", "", extra, n_ctx=512, max_tokens=64)
    assert [chunk.path for chunk in small.extra] == ["old.py", "new.py"]
