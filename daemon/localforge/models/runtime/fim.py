"""Fill-in-the-middle prompts for code completion.

When the model's GGUF carries FIM tokens, the prompt uses them in the order its
family was trained on:
  prefix-suffix-middle (Qwen2.5-Coder, StarCoder2, DeepSeek-Coder):
      <PREFIX-TOKEN>prefix<SUFFIX-TOKEN>suffix<MIDDLE-TOKEN>
  CodeLlama:   <PRE> prefix <SUF>suffix <MID>
  Codestral (suffix first):  [SUFFIX]suffix[PREFIX]prefix
Without FIM tokens the model continues the prefix (plain completion).

Extra context (chunks of other files an editor sends) goes before the prefix:
as ``<|file_sep|>path`` sections for families trained on repository layouts
(Qwen2.5-Coder, StarCoder2), otherwise as blocks headed by a comment naming the
file. ``fit_code_context`` first cuts prefix, suffix and extra to the model's
context: the text nearest the cursor is kept, extra context only fills what is
left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from localforge.models.catalogue.spec import FimTokens, ModelSpec
from localforge.models.runtime.prompts import merge_stops

# Tokens that end a completion for families that do not stop on their own.
FAMILY_STOPS: dict[str, tuple[str, ...]] = {
    "qwen": ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>"),
    "starcoder": ("<|endoftext|>", "<file_sep>"),
    "deepseek": ("<|EOT|>", "<｜end▁of▁sentence｜>"),
    "codellama": ("<EOT>",),
    "codestral": ("</s>",),
}


CHARS_PER_TOKEN = 2.5  # conservative for code: few tokenizers do worse
PROMPT_MARGIN_TOKENS = 16  # FIM markers, BOS and rounding
HASH_COMMENT = {
    "python", "ruby", "shellscript", "sh", "bash", "zsh", "fish", "perl", "r", "yaml",
    "toml", "dockerfile", "makefile", "cmake", "elixir", "julia", "nim", "powershell",
}  # fmt: skip
DASH_COMMENT = {"lua", "sql", "haskell", "ada", "elm", "purescript"}
REPO_FAMILIES = ("qwen", "starcoder")  # trained on <|file_sep|>path sections


@dataclass(frozen=True)
class ContextChunk:
    path: str | None
    text: str


@dataclass(frozen=True)
class CodeContext:
    prefix: str
    suffix: str
    extra: tuple[ContextChunk, ...] = ()


def fit_code_context(
    prefix: str,
    suffix: str,
    extra: Sequence[ContextChunk],
    *,
    n_ctx: int,
    max_tokens: int,
) -> CodeContext:
    """Cut the context to what the model's window holds next to ``max_tokens`` of answer.

    The prefix loses whole lines from its start, the suffix from its end (the suffix
    keeps at most a quarter of the room); chunks of extra context are kept newest
    last, each whole or not at all, while room is left.
    """
    answer = min(max_tokens, n_ctx // 2)
    room = int(max(0, n_ctx - answer - PROMPT_MARGIN_TOKENS) * CHARS_PER_TOKEN)
    suffix = _keep_head(suffix, min(len(suffix), room // 4))
    prefix = _keep_tail(prefix, room - len(suffix))
    left = room - len(suffix) - len(prefix)
    kept: list[ContextChunk] = []
    for chunk in reversed(extra):
        cost = len(chunk.text) + len(chunk.path or "") + 8
        if cost <= left:
            kept.append(chunk)
            left -= cost
    kept.reverse()
    return CodeContext(prefix, suffix, tuple(kept))


def _keep_tail(text: str, chars: int) -> str:
    if len(text) <= chars:
        return text
    cut = text[len(text) - chars :]
    newline = cut.find("\n")
    return cut[newline + 1 :] if 0 <= newline < len(cut) - 1 else cut


def _keep_head(text: str, chars: int) -> str:
    if len(text) <= chars:
        return text
    cut = text[:chars]
    newline = cut.rfind("\n")
    return cut[:newline] if newline > 0 else cut


def comment_leader(language: str | None) -> str:
    language = (language or "").lower()
    if language in HASH_COMMENT:
        return "#"
    if language in DASH_COMMENT:
        return "--"
    return "//"


def render_extra(
    extra: Sequence[ContextChunk], *, family: str | None, language: str | None, path: str | None
) -> str:
    """The extra context as text that goes before the prefix (empty when there is none)."""
    if not extra:
        return ""
    if any(key in (family or "").lower() for key in REPO_FAMILIES):
        sections = [f"<|file_sep|>{chunk.path or 'context'}\n{chunk.text}" for chunk in extra]
        return "".join(sections) + f"<|file_sep|>{path or 'current'}\n"
    leader = comment_leader(language)
    blocks = [f"{leader} {chunk.path or 'context'}\n{chunk.text.rstrip()}\n\n" for chunk in extra]
    return "".join(blocks) + (f"{leader} {path}\n" if path else "")


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
    extra: Sequence[ContextChunk] = (),
    language: str | None = None,
    path: str | None = None,
) -> CodePrompt:
    prefix = render_extra(extra, family=family, language=language, path=path) + prefix
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


def code_prompt_for(
    spec: ModelSpec,
    prefix: str,
    suffix: str,
    extra: Sequence[ContextChunk],
    language: str | None,
    path: str | None,
    max_tokens: int,
    stop: Sequence[str],
) -> CodePrompt:
    """The prompt a completion (or its prefill) sends this model: fitted, then laid out."""
    fitted = fit_code_context(prefix, suffix, extra, n_ctx=spec.n_ctx, max_tokens=max_tokens)
    return build_code_prompt(
        fitted.prefix,
        fitted.suffix,
        fim=spec.fim,
        family=spec.family,
        stop=stop,
        extra=fitted.extra,
        language=language,
        path=path,
    )
