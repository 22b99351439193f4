"""Chat prompt formats: the model's own GGUF chat template, or an explicit named format.

A model with a chat template in its GGUF metadata is prompted with that template
(llama.cpp renders it in the worker). Otherwise the messages are rendered here
into a completion prompt in a named format. A base model with no template (the
bundled Gemma 3 270M) gets ``plain``: a short preamble and ``User:`` /
``Assistant:`` turns, which base models continue sensibly, stopping at the next
``User:`` turn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from localforge.errors import InvalidParams

GGUF_TEMPLATE = "gguf-template"
SERVER_TEMPLATE = "server-template"  # a remote server applies its own template
DEFAULT_FALLBACK = "plain"
PLAIN_PREAMBLE = (
    "The following is a conversation between a user and a helpful, knowledgeable assistant. "
    "The assistant answers clearly and concisely."
)
ROLES = ("system", "user", "assistant")

Message = dict[str, str]


@dataclass(frozen=True)
class ChatPrompt:
    kind: str  # "chat": the worker applies the GGUF template; "completion": ``prompt`` is final
    format: str  # the format actually used
    prompt: str | None
    messages: list[Message] | None
    stop: tuple[str, ...]
    note: str | None = None  # why this format, when it is a fallback


def check_messages(messages: Sequence[Message]) -> list[Message]:
    if not messages:
        raise InvalidParams("messages is empty: send at least one {role: user, content: ...}")
    cleaned = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role not in ROLES:
            raise InvalidParams(
                f"messages[{index}].role is {role!r}; use one of {', '.join(ROLES)}"
            )
        cleaned.append({"role": str(role), "content": str(message.get("content", ""))})
    if cleaned[-1]["role"] != "user":
        raise InvalidParams("the last message must have role 'user'")
    return cleaned


def _split_system(messages: Sequence[Message]) -> tuple[str | None, list[Message]]:
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system") or None
    return system, [m for m in messages if m["role"] != "system"]


def render_plain(messages: Sequence[Message]) -> tuple[str, tuple[str, ...]]:
    system, turns = _split_system(messages)
    lines = [system or PLAIN_PREAMBLE, ""]
    for message in turns:
        speaker = "User" if message["role"] == "user" else "Assistant"
        lines.append(f"{speaker}: {message['content'].strip()}")
    lines.append("Assistant:")
    return "\n".join(lines), ("\nUser:", "\nuser:", "\nUSER:")


def render_chatml(messages: Sequence[Message]) -> tuple[str, tuple[str, ...]]:
    parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n", ("<|im_end|>", "<|endoftext|>")


def render_gemma(messages: Sequence[Message]) -> tuple[str, tuple[str, ...]]:
    system, turns = _split_system(messages)
    parts = []
    for index, message in enumerate(turns):
        role = "user" if message["role"] == "user" else "model"
        content = message["content"]
        if index == 0 and system and role == "user":
            content = f"{system}\n\n{content}"
        parts.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
    return "".join(parts) + "<start_of_turn>model\n", ("<end_of_turn>",)


def render_llama3(messages: Sequence[Message]) -> tuple[str, tuple[str, ...]]:
    parts = [
        f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}<|eot_id|>"
        for m in messages
    ]
    return "".join(parts) + "<|start_header_id|>assistant<|end_header_id|>\n\n", ("<|eot_id|>",)


def render_mistral(messages: Sequence[Message]) -> tuple[str, tuple[str, ...]]:
    system, turns = _split_system(messages)
    out = ""
    first_user = True
    for message in turns:
        if message["role"] == "user":
            content = message["content"]
            if first_user and system:
                content = f"{system}\n\n{content}"
            first_user = False
            out += f"[INST] {content} [/INST]"
        else:
            out += f"{message['content']}</s>"
    return out, ("</s>", "[INST]")


def render_phi3(messages: Sequence[Message]) -> tuple[str, tuple[str, ...]]:
    parts = [f"<|{m['role']}|>\n{m['content']}<|end|>\n" for m in messages]
    return "".join(parts) + "<|assistant|>\n", ("<|end|>", "<|endoftext|>")


RENDERERS: dict[str, Callable[[Sequence[Message]], tuple[str, tuple[str, ...]]]] = {
    "plain": render_plain,
    "chatml": render_chatml,
    "gemma": render_gemma,
    "llama3": render_llama3,
    "mistral": render_mistral,
    "phi3": render_phi3,
}
FORMATS = (GGUF_TEMPLATE, *RENDERERS)


def build_chat_prompt(
    prompt_format: str | None,
    chat_template: str | None,
    messages: Sequence[Message],
    stop: Sequence[str] = (),
) -> ChatPrompt:
    """Pick the format for a model and render ``messages`` for it."""
    checked = check_messages(messages)
    wanted = (prompt_format or GGUF_TEMPLATE).lower()
    note = None
    if wanted == GGUF_TEMPLATE:
        if chat_template:
            return ChatPrompt("chat", GGUF_TEMPLATE, None, checked, tuple(stop))
        wanted = DEFAULT_FALLBACK
        note = (
            f"the model's GGUF has no chat template: using the '{DEFAULT_FALLBACK}' "
            "conversation format (set prompt_format in [[models]] to choose another)"
        )
    renderer = RENDERERS.get(wanted)
    if renderer is None:
        known = ", ".join(FORMATS)
        note = f"unknown prompt_format '{wanted}': using '{DEFAULT_FALLBACK}' (known: {known})"
        wanted = DEFAULT_FALLBACK
        renderer = RENDERERS[wanted]
    text, format_stops = renderer(checked)
    return ChatPrompt("completion", wanted, text, None, merge_stops(format_stops, stop), note)


def merge_stops(first: Sequence[str], second: Sequence[str]) -> tuple[str, ...]:
    """``first`` then ``second``, without empty strings or repeats."""
    merged: list[str] = []
    for item in (*first, *second):
        if item and item not in merged:
            merged.append(item)
    return tuple(merged)
