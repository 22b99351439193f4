"""Feedback without clicks: shown, partial, rejected and accepted, by the rules."""

from __future__ import annotations

from localforge.lsp.cache import Suggestion
from localforge.lsp.feedback import FeedbackBook, kept_share, utf16_len


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def book(clock: Clock) -> FeedbackBook:
    return FeedbackBook(
        min_shown_s=0.25, reject_after_s=10, persistence_s=30, min_kept=0.5, clock=clock
    )


def suggestion(rid: str = "r1", text: str = "return a + b", uri: str = "u") -> Suggestion:
    return Suggestion(rid, "m", text, uri, 10, "def f(a, b):\n    ", "")


def test_accept_records_one() -> None:
    clock = Clock()
    feedback = book(clock)
    feedback.served(suggestion())
    feedback.shown("r1")
    [outcome] = feedback.accepted("r1")
    assert (outcome.kind, outcome.value) == ("accepted", 1.0)


def test_a_suggestion_shown_under_250_ms_counts_for_nothing() -> None:
    clock = Clock()
    feedback = book(clock)
    feedback.served(suggestion())
    feedback.shown("r1")
    clock.now += 0.1
    assert feedback.rejected("r1") == []


def test_a_dismissed_suggestion_shown_long_enough_is_rejected() -> None:
    clock = Clock()
    feedback = book(clock)
    feedback.served(suggestion())
    feedback.shown("r1")
    clock.now += 0.3
    [outcome] = feedback.rejected("r1")
    assert (outcome.kind, outcome.value) == ("rejected", 0.0)
    assert feedback.rejected("r1") == []  # once


def test_never_shown_means_never_rejected() -> None:
    clock = Clock()
    feedback = book(clock)
    feedback.served(suggestion())
    clock.now += 5
    assert feedback.rejected("r1") == []


def test_shown_ten_seconds_without_acceptance_is_rejected() -> None:
    clock = Clock()
    feedback = book(clock)
    feedback.served(suggestion())
    feedback.shown("r1")
    clock.now += 9.9
    assert feedback.tick(lambda uri: None) == []
    clock.now += 0.2
    [outcome] = feedback.tick(lambda uri: None)
    assert (outcome.kind, outcome.reason) == ("rejected", "shown without acceptance")


def test_another_suggestion_shown_in_the_document_supersedes_the_first() -> None:
    clock = Clock()
    feedback = book(clock)
    feedback.served(suggestion("r1"))
    feedback.served(suggestion("r2"))
    feedback.shown("r1")
    clock.now += 1
    [outcome] = feedback.shown("r2")
    assert (outcome.request_id, outcome.kind) == ("r1", "rejected")


def test_the_next_completion_not_served_from_a_shown_suggestion_hides_it() -> None:
    clock = Clock()
    feedback = book(clock)
    feedback.served(suggestion("r1"))
    feedback.shown("r1")
    clock.now += 1
    assert feedback.completion_requested("u", "r1") == []  # typed-ahead: still on screen
    [outcome] = feedback.completion_requested("u", None)
    assert outcome.kind == "rejected"


def test_partial_accept_counts_utf16_units_from_the_start_of_the_suggestion() -> None:
    clock = Clock()
    feedback = book(clock)
    text = "naïve 😀 text"
    feedback.served(suggestion(text=text))
    feedback.shown("r1")
    [outcome] = feedback.partially_accepted("r1", 6)
    assert outcome.kind == "partial"
    assert outcome.value == round(6 / utf16_len(text), 4)
    assert utf16_len(text) == len(text) + 1  # the emoji is two UTF-16 units
    assert feedback.partially_accepted("r1", 3) == []  # smaller than before: nothing new
    assert feedback.tick(lambda uri: None) == []  # partially accepted: not rejected later


def test_partial_accept_of_a_typed_ahead_item_counts_the_typed_part() -> None:
    clock = Clock()
    feedback = book(clock)
    feedback.served(suggestion(text="abcdefghij"), typed=4)  # the item showed "efghij"
    [outcome] = feedback.partially_accepted("r1", 1)
    assert outcome.value == 0.5


def test_an_accept_mostly_deleted_later_is_revised_down() -> None:
    clock = Clock()
    feedback = book(clock)
    accepted = suggestion(text="return a + b  # the sum of both")
    feedback.served(accepted)
    feedback.accepted("r1")
    clock.now += 31
    [outcome] = feedback.tick(lambda uri: "def f(a, b):\n    return 0\n")
    assert outcome.kind == "partial" and outcome.value < 0.5
    assert feedback.tick(lambda uri: "") == []  # checked once


def test_an_accept_that_stays_is_not_revised() -> None:
    clock = Clock()
    feedback = book(clock)
    feedback.served(suggestion())
    feedback.accepted("r1")
    clock.now += 31
    assert feedback.tick(lambda uri: "def f(a, b):\n    return a + b\n") == []


def test_kept_share_measures_the_accepted_text_still_in_place() -> None:
    assert kept_share("abc", "xxabcxx", 2) == 1.0
    assert kept_share("abcd", "xxabxx", 2) == 0.5
    assert kept_share("", "", 0) == 1.0
