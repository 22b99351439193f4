"""The suggestion LRU keyed on the context, and typed-ahead served from it."""

from __future__ import annotations

from localforge.lsp.cache import Suggestion, SuggestionCache, around

DOC = "import os\n\ndef add(a, b):\n    return "
SUGGESTION = "a + b\n"


def made_at(text: str, offset: int, suggestion: str = SUGGESTION, uri: str = "u") -> Suggestion:
    anchor, tail = around(text, offset)
    return Suggestion("rid", "m", suggestion, uri, offset, anchor, tail)


def test_exact_context_is_a_hit() -> None:
    cache = SuggestionCache(8)
    cache.put(made_at(DOC, len(DOC)))
    hit = cache.lookup("u", DOC, len(DOC))
    assert hit is not None and hit.typed == 0 and hit.remainder == SUGGESTION
    assert cache.hits == 1


def test_typing_the_start_of_the_suggestion_serves_the_rest() -> None:
    cache = SuggestionCache(8)
    cache.put(made_at(DOC, len(DOC)))
    typed = DOC + "a +"
    hit = cache.lookup("u", typed, len(typed))
    assert hit is not None and hit.remainder == " b\n" and hit.suggestion.request_id == "rid"
    assert cache.typed_ahead == 1


def test_typing_something_else_misses() -> None:
    cache = SuggestionCache(8)
    cache.put(made_at(DOC, len(DOC)))
    typed = DOC + "b"
    assert cache.lookup("u", typed, len(typed)) is None
    assert cache.misses == 1


def test_an_edit_before_the_origin_invalidates_typed_ahead() -> None:
    cache = SuggestionCache(8)
    cache.put(made_at(DOC, len(DOC)))
    edited = "import sys\n" + DOC[len("import os\n") :] + "a"
    assert cache.lookup("u", edited, len(edited)) is None


def test_the_same_context_in_another_document_hits_and_continues_there() -> None:
    cache = SuggestionCache(8)
    cache.put(made_at(DOC, len(DOC)))
    hit = cache.lookup("other", DOC, len(DOC))
    assert hit is not None and hit.suggestion.uri == "other"
    typed = DOC + "a"
    again = cache.lookup("other", typed, len(typed))
    assert again is not None and again.remainder == " + b\n"


def test_least_recently_used_entries_leave_first() -> None:
    cache = SuggestionCache(2)
    docs = [f"x{n} = " for n in range(3)]
    for doc in docs:
        cache.put(made_at(doc, len(doc), "1"))
    assert len(cache) == 2
    assert cache.lookup("u", docs[0], len(docs[0])) is None
    assert cache.lookup("u", docs[2], len(docs[2])) is not None


def test_forget_drops_a_closed_document() -> None:
    cache = SuggestionCache(8)
    cache.put(made_at(DOC, len(DOC)))
    cache.forget("u")
    assert len(cache) == 0
