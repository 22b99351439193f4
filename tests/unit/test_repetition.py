"""The repetition guard: a loop of one short n-gram stops the generation, ordinary text does not."""

from __future__ import annotations

import pytest

from localforge.models.runtime.repetition import RepetitionGuard


def trips_at(pieces: list[str], guard: RepetitionGuard | None = None) -> int | None:
    """The 1-based index of the piece that tripped the guard, or None."""
    guard = guard or RepetitionGuard()
    for index, piece in enumerate(pieces, 1):
        if guard.add(piece):
            return index
    return None


def test_one_token_repeated_trips_at_32_copies() -> None:
    assert trips_at(["Paris", " is", " "] + ["5"] * 40) == 3 + 32


def test_a_phrase_repeated_trips_once_it_covers_32_tokens() -> None:
    phrase = [" I", " don't", " know", "."]
    assert trips_at(phrase * 7) is None  # 28 tokens
    guard = RepetitionGuard()
    assert trips_at(phrase * 9, guard) == 32 and guard.period == 4


def test_a_sentence_of_16_tokens_needs_four_copies() -> None:
    sentence = [f" w{i}" for i in range(16)]
    assert trips_at(sentence * 3) is None
    assert trips_at(sentence * 4) == 64


ANSWER = (
    "The capital of France is Paris. It has been the capital since the tenth century, "
    "and it is the largest city in the country by far; the capital is also its port."
)


def test_ordinary_text_and_numbered_lists_go_on() -> None:
    text = [f" {word}" for word in ANSWER.split()]
    listing = [piece for n in range(1, 40) for piece in (f"{n}", ".", " item", "\n")]
    table = ["|", "---"] * 15  # 30 tokens of a markdown rule: short of the span
    assert trips_at(text) is None
    assert trips_at(listing) is None
    assert trips_at(table) is None


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RepetitionGuard(max_period=0)
