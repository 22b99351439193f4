# ruff: noqa: E501
"""Build ``localforge-phrasings.jsonl``: the same tasks in the many ways people phrase them.

Quick facts asked as questions, fragments or requests ("Tell me who wrote Dune"), very often
wrapped in instructions about the answer ("Answer using one word only.", "Give your answer as a
JSON list."); code tasks phrased as orders with arithmetic inside ("Create a Go function that
computes compound interest"); graduate science asked as requests ("Walk me through the
mechanism of ..."); explanations and logic puzzles; and writing, math and science requests in
the same wrappers, so that a wrapper carries no label.

Everything here was written by the LocalForge developers (Apache-2.0): the facts and topics in
``phrasing_content.py``, the frames and wrappers below. Deterministic (seeded per row). Run from
the repository root::

    python data/make_phrasings.py
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import phrasing_content as content  # noqa: E402

OUT = HERE / "localforge-phrasings.jsonl"
SOURCE = "localforge-phrasings"

FRAMES = {
    "capital": [
        "What is the capital of {x}?",
        "capital of {x}?",
        "What's {x}'s capital city?",
        "Which city is the capital of {x}?",
        "Tell me the capital of {x}.",
        "Name the capital of {x}.",
        "{x} capital",
        "What city is the seat of government of {x}?",
        "do you know the capital of {x}",
        "The capital of {x} is ___.",
    ],
    "book": [
        "Who wrote {x}?",
        "Who is the author of {x}?",
        "Author of {x}?",
        "Name the author of {x}.",
        "{x}: who wrote it?",
        "Which writer gave us {x}?",
        "Tell me who wrote {x}.",
        "who wrote {x}",
        "When was {x} first published?",
        "In what language was {x} originally written?",
    ],
    "painting": [
        "Who painted {x}?",
        "Which artist painted {x}?",
        "{x} was painted by whom?",
        "Name the painter of {x}.",
        "Where is {x} displayed today?",
        "who painted {x}",
        "In which century was {x} painted?",
    ],
    "film": [
        "Who directed {x}?",
        "What year did {x} come out?",
        "Who was the director of {x}?",
        "{x} director?",
        "When was {x} released?",
        "who directed {x}",
        "Which actor starred in {x}?",
    ],
    "currency": [
        "What currency does {x} use?",
        "What is the currency of {x}?",
        "{x} currency?",
        "What money do they use in {x}?",
        "Name the official currency of {x}.",
        "which currency is used in {x}",
    ],
    "element": [
        "What is the chemical symbol for {x}?",
        "Symbol of {x}?",
        "What is the atomic number of {x}?",
        "What's the symbol for {x} on the periodic table?",
        "chemical symbol of {x}",
        "Is {x} a metal?",
    ],
    "event": [
        "When did {x}?",
        "In what year did {x}?",
        "What year did {x}?",
        "Which year did {x}?",
        "In which century did {x}?",
    ],
    "invention": [
        "Who invented {x}?",
        "Who came up with {x}?",
        "Who is credited with inventing {x}?",
        "{x} was invented by?",
        "When was {x} invented?",
        "who invented {x}",
        "In which country was {x} invented?",
    ],
}
FACTS = {
    "capital": content.CAPITALS,
    "book": content.BOOKS,
    "painting": content.PAINTINGS,
    "film": content.FILMS,
    "currency": content.COUNTRIES_CURRENCY,
    "element": content.ELEMENTS,
    "event": content.EVENTS_YEAR,
    "invention": content.INVENTIONS,
}
# Openings people put before a question; they fit any question, whatever its label.
ASK = [
    "Tell me: ",
    "Can you tell me this? ",
    "Quick one. ",
    "Random question: ",
    "I forgot, ",
    "Settle a bet: ",
    "My kid just asked me this. ",
    "For a pub quiz: ",
    "Do you know this? ",
    "Hey, ",
    "Okay so ",
    "Real quick: ",
    "I've always wondered: ",
    "Help me out here. ",
    "Out of curiosity, ",
]
# Answer-format instructions (none of them written for another file).
FORMAT_QUESTION = """
Respond only with the answer.
Answer using one word only.
Give your answer as a JSON list.
Reply with a JSON object {"answer": "..."}.
Output the answer in lowercase, without punctuation.
No period at the end, just the words.
Answer in all caps.
Just give me the name, nothing else.
Respond with only the relevant words.
Please answer in under five words.
Give the answer inside double square brackets, like [[answer]].
Format your answer as: ANSWER: <answer>
Return a YAML mapping with the key answer.
Do not include any explanation or punctuation.
Keep your response to a single line.
Reply with only the answer, wrapped in backticks.
Your answer should be a single lowercase word or number.
Write your answer in bold.
Answer as a Python list of strings.
Provide the answer as a comma-separated list.
The response must not exceed ten words.
Use no capital letters in your reply.
Only output the final answer; do not repeat the question.
Output as CSV with a header row.
Answer tersely.
Without explanation, please.
Give a one-word response in quotation marks.
Answer in Spanish.
Respond in German, briefly.
Answer with a number or a name, no sentence.
Return your answer as a JSON string.
Don't use any punctuation in the answer.
Reply with the bare answer, no full stop.
Answer first, then one sentence of context at most.
Put the answer between <ans> and </ans>.
Give me the short version, a few words.
Respond in exactly one sentence.
Output nothing but the answer.
Answer in a numbered list if there is more than one item.
Use the format {"result": value}.
"""
FORMAT_LEAD = [
    "Answer in one word: ",
    "JSON only: ",
    "Short answer please: ",
    "Lowercase only. ",
    "No explanation needed: ",
    "One line: ",
    "Just the answer: ",
    "Reply tersely. ",
    "Answer with a JSON list. ",
]
FORMAT_WRITING = """
Use lowercase only.
Return the result as JSON with the key "text".
No more than 40 words.
Do not use any commas.
Write it in all capital letters.
Keep it to one paragraph.
Output only the text, no preamble.
Wrap the whole reply in double quotes.
Respond in exactly three sentences.
Format it as a bulleted list.
Avoid exclamation marks.
No emojis.
Give two versions, numbered.
Return plain text without markdown.
"""
FORMAT_CODE = """
Return only the code.
No explanation, code only.
Include a short docstring.
Keep it under 15 lines.
Output a single fenced code block.
Do not add comments.
Respond with the code and one sentence at most.
Print the result in the format "Result: <value>".
Return the answer as JSON with keys "code" and "explanation".
No markdown, just code.
"""
SYSTEM = [
    "You are a helpful assistant. Be as brief as possible.",
    "You are an assistant that answers with the minimum number of words.",
    "System: follow the format instructions exactly.",
    "You are a precise assistant.",
    "Act as a concise expert.",
]

CODE_VERBS = [
    "Write a {lang} {thing} that {task}.",
    "Create a {lang} {thing} that {task}.",
    "Implement a {thing} in {lang} that {task}.",
    "Make a {lang} {thing} which {task}.",
    "Code a {thing} that {task}, in {lang}.",
    "Give me {lang} code that {task}.",
    "I need a {lang} {thing} that {task}.",
    "Please produce a {thing} that {task}. Use {lang}.",
    "Generate {lang} code for a {thing} that {task}.",
    "Can you write a {thing} in {lang} that {task}?",
    "Build a small {lang} {thing} that {task}.",
    "Develop a {thing} that {task} ({lang}).",
]
HARD_EXPLAIN_FRAMES = [
    "Explain {x}.",
    "Walk me through {x}.",
    "Can you explain {x}?",
    "I'd like a graduate-level explanation of {x}.",
    "Describe {x}.",
    "Discuss {x}, with the relevant equations.",
    "Give a rigorous account of {x}.",
    "Help me understand {x}.",
    "For my qualifying exam, explain {x}.",
    "Please write an explanation of {x}.",
]
HARD_TASK_LEADS = [
    "",
    "Please ",
    "Could you ",
    "I need you to ",
    "For my graduate course: ",
    "Homework help: ",
    "Task: ",
    "Try this: ",
]
REASON_WHY_FRAMES = [
    "Why {x}?",
    "Explain why {x}.",
    "Can you tell me why {x}?",
    "What is the reason {x}?",
    "Help me understand why {x}.",
    "why {x}",
    "I've never understood why {x}. Can you explain?",
]
REASON_HOW_FRAMES = [
    "How does {x}?",
    "Explain how {x}.",
    "Can you walk me through how {x}?",
    "how {x}",
    "What happens, step by step, when {x}?",
    "Describe how {x}.",
]
OPTION_STYLES = ["{l}) {o}", "({l}) {o}", "{l}. {o}", "{n}. {o}", "- {o}"]
REASON_COMPARE_FRAMES = [
    "What is the difference between {a} and {b}?",
    "Compare {a} and {b}.",
    "How does {a} differ from {b}?",
    "{a} vs {b}: what sets them apart?",
    "Explain the difference between {a} and {b}.",
]


def lines(block: str) -> list[str]:
    return [line for line in block.strip().splitlines() if line.strip()]


def rng_for(*parts: str) -> random.Random:
    return random.Random(hashlib.sha256("|".join(parts).encode()).digest())


def wrapped(text: str, rng: random.Random, formats: list[str], plain: float = 0.3) -> str:
    """The text alone, behind an opening, or with an answer-format instruction around it."""
    style = rng.random()
    if style < plain:
        return text
    if style < plain + 0.08:
        return rng.choice(ASK) + text[0].lower() + text[1:]
    if style < plain + 0.45:
        return text + rng.choice((" ", " ", "\n")) + rng.choice(formats)
    if style < plain + 0.55:
        return rng.choice(FORMAT_LEAD) + text
    if style < plain + 0.63:
        return rng.choice(SYSTEM) + "\n" + text + " " + rng.choice(formats)
    first, second = rng.sample(formats, 2)
    return f"{text} {first} {second}"


def general() -> Iterator[str]:
    for kind, facts in FACTS.items():
        for fact in facts:
            rng = rng_for(kind, fact)
            for frame in rng.sample(FRAMES[kind], 2):
                yield wrapped(frame.format(x=fact), rng, lines(FORMAT_QUESTION), plain=0.25)
    for question in (
        lines(content.TRIVIA) + lines(content.TRIVIA_LISTS) + lines(content.TRIVIA_STYLES)
    ):
        rng = rng_for("trivia", question)
        yield (
            question if rng.random() < 0.2 else wrapped(question, rng, lines(FORMAT_QUESTION), 0.0)
        )
        yield wrapped(question, rng, lines(FORMAT_QUESTION), 0.0)


def coding() -> Iterator[str]:
    for task in lines(content.CODE_TASKS):
        rng = rng_for("code", task)
        for verb in rng.sample(CODE_VERBS, 4):
            text = verb.format(
                lang=rng.choice(content.CODE_LANGS),
                thing=rng.choice(content.CODE_THINGS),
                task=task,
            )
            yield wrapped(text, rng, lines(FORMAT_CODE), plain=0.55)


def hard_reasoning() -> Iterator[str]:
    for topic in lines(content.HARD_EXPLAIN):
        rng = rng_for("hard", topic)
        for frame in rng.sample(HARD_EXPLAIN_FRAMES, 3):
            text = frame.format(x=topic, subject=rng.choice(content.HARD_SUBJECTS))
            yield wrapped(text, rng, lines(FORMAT_WRITING) + lines(FORMAT_QUESTION)[:12], plain=0.6)
    for task in lines(content.HARD_TASKS) + lines(content.HARD_DESIGN):
        rng = rng_for("hard-task", task)
        for lead in rng.sample(HARD_TASK_LEADS, 2):
            lead = lead.format(subject=rng.choice(content.HARD_SUBJECTS))
            text = lead + (task[0].lower() + task[1:] if lead and not lead.endswith(": ") else task)
            yield wrapped(text, rng, lines(FORMAT_WRITING), plain=0.6)


def reasoning() -> Iterator[str]:
    formats = lines(FORMAT_QUESTION) + lines(FORMAT_WRITING)
    for fact in lines(content.REASON_WHY):
        rng = rng_for("why", fact)
        for frame in rng.sample(REASON_WHY_FRAMES, 3):
            yield wrapped(frame.format(x=fact), rng, formats, plain=0.5)
    for a, b in content.REASON_COMPARE:
        rng = rng_for("compare", a, b)
        for frame in rng.sample(REASON_COMPARE_FRAMES, 2):
            text = frame.format(a=a, b=b)
            yield wrapped(text[0].upper() + text[1:], rng, formats, plain=0.5)
    for fact in lines(content.REASON_HOW):
        rng = rng_for("how", fact)
        for frame in rng.sample(REASON_HOW_FRAMES, 2):
            text = frame.format(x=fact)
            yield wrapped(text[0].upper() + text[1:], rng, formats, plain=0.5)
    for item in lines(content.CHOICE):
        rng = rng_for("choice", item)
        for _ in range(3):
            yield wrapped(choice(item, rng), rng, lines(FORMAT_QUESTION), plain=0.6)
    for index in range(160):
        rng = rng_for("puzzle", str(index))
        yield wrapped(puzzle(rng), rng, lines(FORMAT_QUESTION), plain=0.5)


def choice(item: str, rng: random.Random) -> str:
    """A multiple-choice question with its options shuffled and laid out in one of many styles."""
    stem, *options = (part.strip() for part in item.split("|"))
    rng.shuffle(options)
    if rng.random() < 0.2:
        return f"{rng.choice(content.CHOICE_LEADS)}{stem}\nOptions: {'; '.join(options)}"
    style = rng.choice(OPTION_STYLES)
    laid = "\n".join(style.format(l="ABCD"[i], n=i + 1, o=o) for i, o in enumerate(options))
    return f"{rng.choice(content.CHOICE_LEADS)}{stem}\n{laid}"


def puzzle(rng: random.Random) -> str:
    """A small ordering, syllogism or truth-teller puzzle with invented names."""
    names = rng.sample(content.NAMES, 4)
    kind = rng.randrange(7)
    if kind == 3:
        things = rng.sample(
            ["a red ball", "a blue ball", "a green ball", "a book", "a hat", "a key"], 3
        )
        swaps = [rng.sample(names[:3], 2) for _ in range(rng.randint(2, 4))]
        steps = " Then ".join(f"{a} and {b} swap" for a, b in swaps)
        start = ", ".join(f"{n} has {t}" for n, t in zip(names, things, strict=False))
        return f"At the start, {start}. {steps}. What does {rng.choice(names[:3])} have at the end?"
    if kind == 4:
        moves = ", ".join(
            f"take {rng.randint(1, 9)} steps {rng.choice(['forward', 'backward', 'left', 'right'])}"
            for _ in range(rng.randint(3, 5))
        )
        return f"Always facing forward, {moves}. Do you end up where you started?"
    if kind == 5:
        a, b, c, d = names
        return (
            f"{a} finished before {b}. {c} finished after {b} but before {d}. Who finished third?"
        )
    if kind == 6:
        a, b = names[:2]
        event = rng.choice(
            ["the window broke", "the plant died", "the train was late", "the cake burned"]
        )
        return f"{a} left the door open and {b} forgot to check it; then {event}. Did {a} cause it? Explain."
    if kind == 0:
        a, b, c = names[:3]
        trait, least = rng.choice(
            [
                ("taller", "shortest"),
                ("older", "youngest"),
                ("faster", "slowest"),
                ("richer", "poorest"),
            ]
        )
        return f"{a} is {trait} than {b}, and {c} is {trait} than {a}. Who is the {least}?"
    if kind == 1:
        x, y, z = rng.sample(["florps", "gribs", "tavs", "mooks", "zents", "plins"], 3)
        return f"All {x} are {y}. No {y} are {z}. Can any {x} be {z}? Explain your reasoning."
    a, b, c = names[:3]
    return f"{a} says {b} lies. {b} says {c} lies. {c} says both {a} and {b} lie. Who is telling the truth?"


def instruction() -> Iterator[str]:
    own = [
        json.loads(line)["text"]
        for line in (HERE / "localforge-writing.jsonl").read_text().splitlines()
        if line.strip()
    ]
    for text in lines(content.WRITE_TASKS) + own[::2]:
        rng = rng_for("write", text)
        yield wrapped(text, rng, lines(FORMAT_WRITING), plain=0.0)


def math() -> Iterator[str]:
    own = [
        json.loads(line)["text"]
        for line in (HERE / "localforge-math.jsonl").read_text().splitlines()
        if line.strip()
    ]
    for text in own[::2]:
        rng = rng_for("math", text)
        yield wrapped(text, rng, lines(FORMAT_QUESTION), plain=0.0)


def rows() -> list[dict[str, str]]:
    out = []
    seen: set[str] = set()
    for label, make in (
        ("general", general),
        ("coding", coding),
        ("hard_reasoning", hard_reasoning),
        ("reasoning", reasoning),
        ("instruction", instruction),
        ("math", math),
    ):
        for text in make():
            if text.lower() not in seen:
                seen.add(text.lower())
                out.append({"text": text, "label": label, "source": SOURCE})
    return out


def main() -> None:
    with OUT.open("w", encoding="utf-8") as handle:
        for row in rows():
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
