"""Fill-in-the-middle prompts for code completion.

When the model's GGUF carries FIM tokens, the prompt uses them in the order its
family was trained on:
  prefix-suffix-middle (Qwen2.5-Coder, StarCoder2, DeepSeek-Coder):
      <PREFIX-TOKEN>prefix<SUFFIX-TOKEN>suffix<MIDDLE-TOKEN>
  CodeLlama:   <PRE> prefix <SUF>suffix <MID>
  Codestral (suffix first):  [SUFFIX]suffix[PREFIX]prefix
Without FIM tokens the model continues the prefix (plain completion).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from localforge.models.catalogue.spec import FimTokens
from localforge.models.runtime.prompts import merge_stops

# Tokens that end a completion for families that do not stop on their own.
FAMILY_STOPS: dict[str, tuple[str, ...]] = {
    "qwen": ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>"),
    "starcoder": ("<|endoftext|>", "<file_sep>"),
    "deepseek": ("<|EOT|>", "<｜end▁of▁sentence｜>"),
    "codellama": ("<EOT>",),
    "codestral": ("</s>",),
}


@dataclass(frozen=True)
class CodePrompt:
    prompt: str
    stop: tuple[str, ...]
    format: str  # "fim-psm" | "fim-codellama" | "fim-spm" | "prefix"


def fim_style(fim: FimTokens, family: str | None) -> str:
    family = (family or "").lower()
    if fim.prefix.strip("▁ ") == "[PREFIX]" or "codestral" in family:
        return "fim-spm"
    if fim.prefix.strip("▁ ") == "<PRE>" or "codellama" in family:
        return "fim-codellama"
    return "fim-psm"


def family_stops(family: str | None) -> tuple[str, ...]:
    family = (family or "").lower()
    for key, stops in FAMILY_STOPS.items():
        if key in family:
            return stops
    return ()


def build_code_prompt(
    prefix: str,
    suffix: str,
    *,
    fim: FimTokens | None,
    family: str | None,
    stop: Sequence[str] = (),
) -> CodePrompt:
    if fim is None:
        return CodePrompt(prefix, tuple(s for s in stop if s), "prefix")
    style = fim_style(fim, family)
    if style == "fim-spm":
        text = f"{fim.suffix}{suffix}{fim.prefix}{prefix}"
    elif style == "fim-codellama":
        pre, suf, mid = (token.strip("▁ ") for token in (fim.prefix, fim.suffix, fim.middle))
        text = f"{pre} {prefix} {suf}{suffix} {mid}"
    else:
        text = f"{fim.prefix}{prefix}{fim.suffix}{suffix}{fim.middle}"
    own = (fim.eot or "", *family_stops(family), fim.prefix, fim.suffix)
    return CodePrompt(text, merge_stops(own, stop), style)
