"""Context windows cut by a token budget, and the ring of chunks from other files."""

from __future__ import annotations

from localforge.lsp.context import ChunkRing, cursor_window, estimate_tokens, similarity

TEXT = "".join(f"line_{n} = {n}\n" for n in range(100))


def test_estimate_counts_words_punctuation_and_newlines() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a = 1\n") == 4
    assert estimate_tokens("verylongidentifier") == 3  # long words split like BPE pieces


def test_window_takes_whole_lines_within_the_budget_around_the_cursor() -> None:
    offset = TEXT.index("line_50") + len("line_50 = ")
    window = cursor_window(TEXT, offset, prefix_tokens=20, suffix_tokens=10)
    assert window.line_prefix == "line_50 = "
    assert window.line_suffix == "50"
    assert window.prefix.endswith("line_49 = 49\nline_50 = ")
    assert window.prefix.startswith("line_")  # whole lines only
    assert estimate_tokens(window.prefix) <= 20 + estimate_tokens(window.line_prefix)
    assert window.suffix.startswith("50\nline_51")
    assert window.next_lines[0] == "line_51 = 51"
    assert window.mid_line


def test_the_window_start_stays_put_while_the_user_types_on_the_cursor_line() -> None:
    offset = TEXT.index("line_50")
    first = cursor_window(TEXT, offset, 20, 0)
    typed = TEXT[:offset] + "abc def ghi jkl " + TEXT[offset:]
    later = cursor_window(typed, offset + 16, 20, 0)
    assert later.prefix.startswith(first.prefix)


def test_window_at_the_start_and_end_of_a_document() -> None:
    assert cursor_window("", 0, 10, 10).prefix == ""
    window = cursor_window("abc", 3, 10, 10)
    assert (window.prefix, window.suffix, window.next_lines, window.mid_line) == (
        "abc",
        "",
        (),
        False,
    )


def test_ring_deduplicates_and_evicts_near_duplicates() -> None:
    ring = ChunkRing(capacity=3, chunk_lines=8)
    chunk = "def f(x):\n    y = x * 2\n    return y\n"
    assert ring.add("a.py", chunk.splitlines()) is not None
    assert ring.add("a.py", chunk.splitlines()) is None  # exact repeat
    edited = chunk.replace("return y", "return y  ")
    assert ring.add("a.py", edited.splitlines()) is not None  # same words: replaces the old one
    assert len(ring) == 1 and ring.evicted == 1
    assert ring.add("a.py", ["x", "", " "]) is None  # too small to be context


def test_ring_keeps_the_newest_chunks_and_fills_a_token_budget() -> None:
    ring = ChunkRing(capacity=2, chunk_lines=4)
    for n in range(3):
        ring.add(f"f{n}.py", [f"alpha{n} = {n}", f"beta{n} = {n}", f"gamma{n} = {n}"])
    assert [c.path for c in ring.chunks] == ["f1.py", "f2.py"]
    assert [c.path for c in ring.extra(1000)] == ["f1.py", "f2.py"]
    assert [c.path for c in ring.extra(1000, exclude_path="f2.py")] == ["f1.py"]
    one = ring.chunks[0].tokens
    assert [c.path for c in ring.extra(one)] == ["f2.py"]


def test_pick_takes_the_lines_around_a_line() -> None:
    ring = ChunkRing(capacity=4, chunk_lines=4)
    chunk = ring.pick("big.py", TEXT, line=50)
    assert chunk is not None and chunk.text.startswith("line_48")
    assert chunk.text.count("\n") == 4


def test_similarity_is_the_dice_coefficient_of_words() -> None:
    a, b = frozenset({"x", "y"}), frozenset({"y", "z"})
    assert similarity(a, b) == 0.5
    assert similarity(frozenset(), frozenset()) == 1.0
