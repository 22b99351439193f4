"""The built-in mini-evaluation: small tasks written for LocalForge, each with an exact check.

Three categories, each standing in for one routing benchmark: ``coding``
(a function the model writes is executed against unit tests in the sandbox),
``math`` (word problems with one integer answer) and ``instruction`` (format
constraints checked mechanically). None of the tasks comes from a public
benchmark set. Bump ``SUITE`` whenever a task changes, so stored scores say
which set they were measured on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

SUITE = "lf-mini-1"
CATEGORIES = ("coding", "math", "instruction")


@dataclass(frozen=True)
class EvalTask:
    id: str
    category: str
    prompt: str
    max_tokens: int
    # coding: the test code appended to the model's function; math: the answer as text;
    # instruction: unused (the checker holds the rule).
    expected: str = ""
    check: Callable[[str], tuple[bool, str]] | None = None


CODE_INSTRUCTIONS = (
    "Write a Python function for the task below. Reply with only the code in one "
    "```python block, no explanation.\n\nTask: "
)
MATH_INSTRUCTIONS = (
    "Solve the problem. Think briefly, then give the final answer on the last line as "
    "'Answer: <number>'.\n\nProblem: "
)

CODING: tuple[EvalTask, ...] = (
    EvalTask(
        "code-sum-evens",
        "coding",
        CODE_INSTRUCTIONS
        + "`sum_of_evens(numbers)` returns the sum of the even integers in the list.",
        200,
        "assert sum_of_evens([1, 2, 3, 4]) == 6\n"
        "assert sum_of_evens([]) == 0\n"
        "assert sum_of_evens([-2, 5, 7]) == -2\n",
    ),
    EvalTask(
        "code-reverse-words",
        "coding",
        CODE_INSTRUCTIONS
        + "`reverse_words(sentence)` returns the words of the sentence in reverse order, "
        "joined by single spaces.",
        200,
        "assert reverse_words('red green blue') == 'blue green red'\n"
        "assert reverse_words('one') == 'one'\n"
        "assert reverse_words('  a   b ') == 'b a'\n",
    ),
    EvalTask(
        "code-palindrome",
        "coding",
        CODE_INSTRUCTIONS
        + "`is_palindrome(text)` returns True when the text reads the same backwards, "
        "ignoring case, spaces and punctuation.",
        200,
        "assert is_palindrome('Never odd or even')\n"
        "assert is_palindrome('Was it a car, or a cat I saw?')\n"
        "assert not is_palindrome('localforge')\n",
    ),
    EvalTask(
        "code-second-largest",
        "coding",
        CODE_INSTRUCTIONS
        + "`second_largest(numbers)` returns the second largest distinct value in the list, "
        "or None when there is no such value.",
        250,
        "assert second_largest([4, 9, 2, 9]) == 4\n"
        "assert second_largest([7]) is None\n"
        "assert second_largest([3, 3]) is None\n"
        "assert second_largest([-1, -5, -3]) == -3\n",
    ),
)

MATH: tuple[EvalTask, ...] = (
    EvalTask(
        "math-muffins",
        "math",
        MATH_INSTRUCTIONS
        + "A baker fills 7 trays with 12 muffins each and sells 65 muffins. How many muffins "
        "are left?",
        160,
        "19",
    ),
    EvalTask(
        "math-pencils",
        "math",
        MATH_INSTRUCTIONS
        + "Tom has 3 boxes of 24 pencils. He gives 17 pencils to his sister and shares the "
        "rest equally among 5 friends. How many pencils does each friend get?",
        200,
        "11",
    ),
    EvalTask(
        "math-train",
        "math",
        MATH_INSTRUCTIONS
        + "A train runs at 80 km/h for 2.5 hours and then at 60 km/h for 1.5 hours. How many "
        "kilometres does it cover in total?",
        200,
        "290",
    ),
    EvalTask(
        "math-discount",
        "math",
        MATH_INSTRUCTIONS
        + "A jacket costs 40 dollars. The shop takes 25% off, then a 5 dollar coupon is "
        "applied. What is the final price in dollars?",
        200,
        "25",
    ),
)


def _reply_exact_word(response: str) -> tuple[bool, str]:
    cleaned = response.strip().strip(".!\"'`").strip()
    return cleaned == "blue", f"expected exactly 'blue', got {cleaned[:40]!r}"


def _three_fruits(response: str) -> tuple[bool, str]:
    line = response.strip().splitlines()[0] if response.strip() else ""
    items = [item.strip().strip(".") for item in line.split(",")]
    ok = len(items) == 3 and all(item and len(item.split()) <= 3 for item in items)
    ok = ok and len(response.strip().splitlines()) == 1
    return ok, f"expected one line with 3 comma-separated items, got {response.strip()[:60]!r}"


def _all_caps(response: str) -> tuple[bool, str]:
    letters = [c for c in response if c.isalpha()]
    ok = len(letters) >= 3 and all(c.isupper() for c in letters) and "BLUE" in response
    return ok, f"expected an all-capitals answer naming BLUE, got {response.strip()[:60]!r}"


def _json_city(response: str) -> tuple[bool, str]:
    text = response.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1).strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return False, f"not a JSON object: {response.strip()[:60]!r}"
    ok = isinstance(value, dict) and value.get("city") == "Paris"
    return ok, f'expected {{"city": "Paris"}}, got {text[:60]!r}'


INSTRUCTION: tuple[EvalTask, ...] = (
    EvalTask(
        "inst-one-word",
        "instruction",
        "Reply with exactly the word blue in lowercase and nothing else.",
        16,
        check=_reply_exact_word,
    ),
    EvalTask(
        "inst-three-fruits",
        "instruction",
        "Name three fruits as a comma-separated list on one line, with no other text.",
        40,
        check=_three_fruits,
    ),
    EvalTask(
        "inst-all-caps",
        "instruction",
        "Answer using only capital letters: what colour is the sky on a clear day?",
        32,
        check=_all_caps,
    ),
    EvalTask(
        "inst-json",
        "instruction",
        'Output only a JSON object with the key "city" set to "Paris".',
        40,
        check=_json_city,
    ),
)

TASKS: tuple[EvalTask, ...] = (*CODING, *MATH, *INSTRUCTION)


def select_tasks(
    categories: tuple[str, ...] | None = None, limit: int | None = None
) -> list[EvalTask]:
    """The tasks of ``categories`` (all by default), at most ``limit`` per category."""
    chosen = []
    for category in categories or CATEGORIES:
        group = [task for task in TASKS if task.category == category]
        chosen.extend(group[:limit] if limit else group)
    return chosen


# --- answer extraction and checks -------------------------------------------------


def extract_code(response: str) -> str:
    """The model's code: the first fenced block, else all from the first ``def``/``import``."""
    fenced = re.search(r"```(?:python|py)?[^\n]*\n(.*?)(?:```|\Z)", response, re.DOTALL)
    if fenced and fenced.group(1).strip():
        return fenced.group(1)
    start = re.search(r"^(def |import |from |class )", response, re.MULTILINE)
    return response[start.start() :] if start else response


def extract_number(response: str) -> str | None:
    """The number after the last 'Answer:', else the last number; ``1,000`` → ``1000``."""
    marked = re.findall(r"answer\s*[:=]?\s*\$?\s*(-?[\d,]*\.?\d+)", response, re.IGNORECASE)
    found = marked or re.findall(r"-?\d[\d,]*\.?\d*", response)
    if not found:
        return None
    value = found[-1].replace(",", "").rstrip(".")
    if "." in value:
        number = float(value)
        value = str(int(number)) if number.is_integer() else str(number)
    return value


def coding_program(task: EvalTask, response: str) -> str:
    return extract_code(response).rstrip() + "\n\n\n" + task.expected


def check_math(task: EvalTask, response: str) -> tuple[bool, str]:
    got = extract_number(response)
    return got == task.expected, f"expected {task.expected}, got {got}"
