"""Post-processing rules: what the model wrote becomes a suggestion worth showing."""

from __future__ import annotations

import re

from localforge.lsp.postprocess import block_stop_pattern, postprocess


def test_mid_line_keeps_one_line_and_drops_what_repeats_the_rest_of_the_line() -> None:
    assert postprocess("a, b)\n    return a", line_prefix="add(", line_suffix=")") == "a, b"
    assert postprocess("f(x)):", line_prefix="print(", line_suffix=")") == "f(x)"
    assert postprocess("x + 1]", line_prefix="v = [", line_suffix="]") == "x + 1"


def test_mid_line_keeps_a_suggestion_that_does_not_reach_the_suffix() -> None:
    assert postprocess("name", line_prefix="print(", line_suffix=")") == "name"


def test_at_the_end_of_a_line_several_lines_come_until_the_block_ends() -> None:
    text = "\n    return a + b\n\ndef sub(a, b):\n    return a - b\n"
    assert postprocess(text, line_prefix="def add(a, b):", line_suffix="") == ("\n    return a + b")


def test_indentation_below_the_cursor_block_ends_the_suggestion() -> None:
    text = "total += x\n    print(total)\nprint('done')\n"
    assert postprocess(text, line_prefix="    ", line_suffix="") == "total += x\n    print(total)"


def test_the_opener_closing_line_is_kept_and_ends_the_block() -> None:
    text = "\n    return 1;\n}\nint other() {\n"
    assert postprocess(text, line_prefix="int one() {", line_suffix="") == ("\n    return 1;\n}")


def test_lines_that_repeat_the_lines_after_the_cursor_are_dropped() -> None:
    text = "x = 1\n    y = 2\n    z = 3\n"
    assert (
        postprocess(text, line_prefix="    ", line_suffix="", next_lines=["    y = 2", "    z = 3"])
        == "x = 1"
    )
    assert postprocess("y = 2", line_prefix="    ", line_suffix="", next_lines=["    y = 2"]) == ""


def test_repetition_loops_are_cut() -> None:
    looped = "print(i)\n    print(i)\n    print(i)\n"
    assert postprocess(looped, line_prefix="    ", line_suffix="") == "print(i)"
    block = "a = 1\n    b = 2\n    a = 1\n    b = 2\n"
    assert postprocess(block, line_prefix="    ", line_suffix="") == "a = 1\n    b = 2"
    inline = "[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0"
    assert postprocess(inline, line_prefix="zeros = ", line_suffix="") == "[0, 0,"


def test_short_repeated_lines_such_as_closing_braces_are_not_a_loop() -> None:
    text = "\n        }\n    }\n}"
    assert postprocess(text, line_prefix="        if (x) {", line_suffix="").count("}") >= 1


def test_never_whitespace_only() -> None:
    assert postprocess("   \n\n  ", line_prefix="x = ", line_suffix="") == ""
    assert postprocess("\t", line_prefix="f(", line_suffix=")") == ""
    assert postprocess("", line_prefix="", line_suffix="") == ""


def test_carriage_returns_are_normalised_and_trailing_blank_lines_dropped() -> None:
    assert postprocess("1\r\n\r\n", line_prefix="x = ", line_suffix="") == "1"


def test_the_block_stop_pattern_stops_where_the_dedent_rule_cuts() -> None:
    def stop_at(pattern: str | None, text: str) -> int | None:
        assert pattern is not None
        found = re.search(pattern, text)
        return None if found is None else found.start()

    opener = block_stop_pattern("def add(a, b):")
    text = "\n    return a + b\n\ndef sub(a, b):"
    assert text[: stop_at(opener, text)] == "\n    return a + b\n"
    braces = "\n    x = 1\n}\nint f()"
    assert braces[: stop_at(opener, braces)] == "\n    x = 1\n}"  # the closing line stays
    inside = block_stop_pattern("        ")
    assert stop_at(inside, "x = 1\n        y = 2\n    z = 3") == 19
    assert stop_at(inside, "x = 1\n\n        y = 2") is None
    assert block_stop_pattern("total = a +") is None  # column 0: nothing dedents below it
    assert stop_at(block_stop_pattern("\t\t"), "x\n\t\ty\n\tz") == 5  # tabs count as tabs
