"""Chat prompt formats: the GGUF template when present, an explicit tested format otherwise."""

from __future__ import annotations

import pytest

from localforge.errors import InvalidParams
from localforge.models.runtime.prompts import PLAIN_PREAMBLE, build_chat_prompt

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "What is 2+2?"},
]


def test_a_model_with_a_chat_template_uses_it() -> None:
    prompt = build_chat_prompt("gguf-template", "{{ messages }}", CONVERSATION)
    assert prompt.kind == "chat"
    assert prompt.format == "gguf-template"
    assert prompt.messages == CONVERSATION
    assert prompt.note is None


def test_a_model_without_a_template_falls_back_to_plain_and_says_so() -> None:
    prompt = build_chat_prompt("gguf-template", None, [{"role": "user", "content": "Hi"}])
    assert prompt.kind == "completion"
    assert prompt.format == "plain"
    assert prompt.note is not None and "no chat template" in prompt.note


def test_plain_format_is_a_transcript_the_base_model_continues() -> None:
    prompt = build_chat_prompt("plain", None, CONVERSATION, stop=["###"])
    assert prompt.prompt == (
        "Be brief.\n\nUser: Hi\nAssistant: Hello!\nUser: What is 2+2?\nAssistant:"
    )
    assert prompt.stop[0] == "\nUser:"
    assert prompt.stop[-1] == "###"


def test_plain_format_without_system_message_uses_the_preamble() -> None:
    prompt = build_chat_prompt("plain", None, [{"role": "user", "content": "  Hi  "}])
    assert prompt.prompt == f"{PLAIN_PREAMBLE}\n\nUser: Hi\nAssistant:"


@pytest.mark.parametrize(
    ("fmt", "expected", "stop"),
    [
        (
            "chatml",
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            "<|im_start|>assistant\n",
            "<|im_end|>",
        ),
        (
            "gemma",
            "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!"
            "<end_of_turn>\n<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
            "<end_of_turn>",
        ),
        (
            "llama3",
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n",
            "<|eot_id|>",
        ),
        (
            "mistral",
            "[INST] Be brief.\n\nHi [/INST]Hello!</s>[INST] What is 2+2? [/INST]",
            "</s>",
        ),
        (
            "phi3",
            "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n"
            "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n",
            "<|end|>",
        ),
    ],
)
def test_named_formats(fmt: str, expected: str, stop: str) -> None:
    prompt = build_chat_prompt(fmt, None, CONVERSATION)
    assert prompt.kind == "completion"
    assert prompt.format == fmt
    assert prompt.prompt == expected
    assert stop in prompt.stop


def test_an_unknown_format_falls_back_to_plain_naming_the_known_ones() -> None:
    prompt = build_chat_prompt("vicuna-9000", None, [{"role": "user", "content": "Hi"}])
    assert prompt.format == "plain"
    assert prompt.note is not None and "chatml" in prompt.note


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        ([], "messages is empty"),
        ([{"role": "robot", "content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}], "last message"),
    ],
)
def test_invalid_conversations_are_rejected_with_the_reason(
    messages: list[dict[str, str]], fragment: str
) -> None:
    with pytest.raises(InvalidParams, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        build_chat_prompt("plain", None, messages)
