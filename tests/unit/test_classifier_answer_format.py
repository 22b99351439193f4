"""The classifier reads a query's task without the instructions about its answer's format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from localforge.errors import Unavailable
from localforge.routing import artifact as artifacts
from localforge.routing import training
from localforge.routing.answer_format import is_format_clause, split_format
from localforge.routing.classifier import TaskClassifier


@pytest.mark.parametrize(
    "clause",
    [
        "Only the words, no period.",
        "Answer with a JSON list.",
        "Respond in lowercase with no punctuation.",
        "Keep it under 50 words.",
        "Your reply must be exactly two words.",
        "Digits only please.",
        "Return only the code, no explanation.",
        "Do not add a full stop.",
        "Be concise.",
        "Show your work.",
        "Single-word reply, title case.",
        # evaluation-harness framings and answer slots
        "The last line of your response should be of the following format: 'Answer: $LETTER' "
        "(without quotes) where LETTER is one of ABCD.",
        'Remember to put your answer on its own line after "Answer:", and you do not need to '
        "use a \\boxed command.",
        "Please reason step by step, and put your final answer within \\boxed{}.",
        "End your response with 'The answer is X'.",
        '"The correct answer is (insert answer here)"',
        "Answer the following multiple choice question.",
        "Choose the correct answer from the options below.",
        "What is the correct answer to this question:",
    ],
)
def test_answer_format_clauses_are_recognised(clause: str) -> None:
    assert is_format_clause(clause)


@pytest.mark.parametrize(
    "clause",
    [
        "Write a 300-word essay about dogs.",
        "Write a Python function that returns the nth triangular number.",
        "Use Python to compute the mean of a list.",
        "Just tell me who won the World Cup in 1998",
        "List the planets in order from the Sun.",
        "Give me five catchy names for a bakery.",
        "Do not use recursion.",
        "Summarise the plot of Hamlet in three sentences.",
        "What is the capital of Peru?",
        "Why does echo $HOME output nothing in my cron job?",
        "Answer the following question about photosynthesis in plants.",
        "Why does the form say (insert your name here) instead of my name?",
        "Choose the best data structure for an LRU cache and explain why.",
    ],
)
def test_task_clauses_are_kept(clause: str) -> None:
    assert not is_format_clause(clause)


@pytest.mark.parametrize(
    ("text", "task", "wrapper"),
    [
        (
            "Who painted Guernica? Answer with the name only.",
            "Who painted Guernica?",
            "Answer with the name only.",
        ),
        (
            "Answer in one word: what is the capital of Peru?",
            "what is the capital of Peru?",
            "Answer in one word",
        ),
        (
            "Name three moons of Mars; output them as a YAML list",
            "Name three moons of Mars",
            "output them as a YAML list",
        ),
        (
            "Solve the following math problem step by step. The last line of your response "
            "should be of the form Answer: $ANSWER (without quotes) where $ANSWER is the answer "
            "to the problem.\n\nFind all real x such that x^2 - 5x + 6 = 0.",
            "Solve the following math problem step by step. Find all real x such that "
            "x^2 - 5x + 6 = 0.",
            "The last line of your response should be of the form Answer: $ANSWER (without "
            "quotes) where $ANSWER is the answer to the problem.",
        ),
        (
            "<|im_start|>user\nWho wrote Emma?<|im_end|>\n<|im_start|>assistant\n",
            "Who wrote Emma?",
            "<|im_start|>user <|im_end|> <|im_start|>assistant",
        ),
        (
            "[INST] Answer in one word: what is the capital of Peru? [/INST]",
            "what is the capital of Peru?",
            "[INST] [/INST] Answer in one word",
        ),
        (  # a question about a template token is not a templated prompt
            "Why does my tokenizer print <|endoftext|> at the end?",
            "Why does my tokenizer print <|endoftext|> at the end?",
            "",
        ),
        (  # few-shot: the worked examples show the answer's form; the last question is the task
            "Q: What is the capital of Italy?\nA: Rome\n\nQ: What is 17 times 23?\nA:",
            "What is 17 times 23?",
            "Q: What is the capital of Italy?\nA: Rome",
        ),
        (
            "The following are multiple choice questions (with answers) about physics.\n\n"
            "What is 2+2?\nA. 3\nB. 4\nAnswer: B\n\nWhich particle has no charge?\n"
            "A. proton\nB. neutron\nAnswer:",
            "The following are multiple choice questions (with answers) about physics. Which "
            "particle has no charge? A. proton B. neutron",
            "What is 2+2?\nA. 3\nB. 4\nAnswer: B",
        ),
        (  # a dialogue to work on has no empty answer slot: it is the task
            "Summarise this chat:\nA: hi\nB: hello\nA: how are you?",
            "Summarise this chat:\nA: hi\nB: hello\nA: how are you?",
            "",
        ),
        ("What is 2 + 2?", "What is 2 + 2?", ""),
        ("Answer in one word.", "Answer in one word.", ""),  # nothing else: keep it all
    ],
)
def test_split_format_separates_task_and_wrapper(text: str, task: str, wrapper: str) -> None:
    assert split_format(text) == (task, wrapper)


def _fit(drop: bool) -> training.Fitted:
    examples = [e for path in training.own_data_files() for e in training.read_examples(path)]
    config = training.TrainConfig(max_features=2000, loso=False, drop_format_clauses=drop)
    return training.fit([e.text for e in examples][::3], [e.label for e in examples][::3], config)


@pytest.fixture(scope="module")
def dropping(tmp_path_factory: pytest.TempPathFactory) -> TaskClassifier:
    fitted = _fit(drop=True)
    path = tmp_path_factory.mktemp("drop")
    artifacts.save(training.export(fitted, 1.0, {}, [], fitted.config, []), path)
    return TaskClassifier.load(path)


def test_a_format_clause_does_not_move_the_probabilities(dropping: TaskClassifier) -> None:
    plain = dropping.probabilities("Who wrote War and Peace?")
    wrapped = dropping.probabilities("Who wrote War and Peace? Answer with a JSON list.")
    assert plain is not None and wrapped is not None
    np.testing.assert_allclose(plain, wrapped, atol=1e-12)
    assert dropping.metadata["tokenizer"]["format_clauses"]["mode"] == "drop"


def test_a_harness_template_does_not_move_the_probabilities(dropping: TaskClassifier) -> None:
    task = "Answer the following multiple choice question. Which gas do plants absorb? A) O2 B) CO2"
    plain = dropping.probabilities("Which gas do plants absorb? A) O2 B) CO2")
    framed = dropping.probabilities(
        f"{task}\nThe last line of your response should be of the following format: "
        "'Answer: $LETTER' (without quotes) where LETTER is one of AB."
    )
    assert plain is not None and framed is not None
    np.testing.assert_allclose(plain, framed, atol=1e-12)


def test_gpqa_prompt_does_not_move_the_probabilities(dropping: TaskClassifier) -> None:
    plain = dropping.probabilities("Which gas do plants absorb? Choices: (A) O2 (B) CO2")
    framed = dropping.probabilities(
        "What is the correct answer to this question: Which gas do plants absorb?\n"
        "Choices: (A) O2 (B) CO2\n"
        'Format your response as follows: "The correct answer is (insert answer here)"'
    )
    assert plain is not None and framed is not None
    np.testing.assert_allclose(plain, framed, atol=1e-12)


LLAMA3 = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: "
    "December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user"
    "<|end_header_id|>\n\n{}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
)


def test_a_chat_template_does_not_move_the_probabilities(dropping: TaskClassifier) -> None:
    plain = dropping.probabilities("Why does salt melt ice on roads?")
    templated = dropping.probabilities(LLAMA3.format("Why does salt melt ice on roads?"))
    assert plain is not None and templated is not None
    np.testing.assert_allclose(plain, templated, atol=1e-12)


def test_few_shot_examples_do_not_move_the_probabilities(dropping: TaskClassifier) -> None:
    plain = dropping.probabilities("What is 17 times 23?")
    shots = dropping.probabilities(
        "Q: Who wrote Hamlet?\nA: Shakespeare\n\nQ: What is the capital of Japan?\nA: Tokyo"
        "\n\nQ: What is 17 times 23?\nA:"
    )
    assert plain is not None and shots is not None
    np.testing.assert_allclose(plain, shots, atol=1e-12)


def test_artifacts_that_read_whole_texts_still_do(tmp_path: Path) -> None:
    fitted = _fit(drop=False)
    artifacts.save(training.export(fitted, 1.0, {}, [], fitted.config, []), tmp_path)
    whole = TaskClassifier.load(tmp_path)
    assert whole.metadata["tokenizer"]["format_clauses"] is None
    plain = whole.probabilities("Who wrote War and Peace?")
    wrapped = whole.probabilities("Who wrote War and Peace? Answer with a JSON list.")
    assert plain is not None and wrapped is not None
    assert not np.allclose(plain, wrapped)


def _saved_with_rules(path: Path, rules: int) -> Path:
    """A small dropping artifact whose metadata names answer-format ``rules``."""
    fitted = _fit(drop=True)
    artifacts.save(training.export(fitted, 1.0, {}, [], fitted.config, []), path)
    meta_path = path / artifacts.METADATA_FILE
    meta = json.loads(meta_path.read_text())
    meta["tokenizer"]["format_clauses"]["rules"] = rules
    meta_path.write_text(json.dumps(meta))
    return path


def test_unknown_format_rules_are_refused_with_a_fix(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="retrain"):
        TaskClassifier(artifacts.load(_saved_with_rules(tmp_path, 999)))


def test_artifacts_trained_with_older_format_rules_still_load(tmp_path: Path) -> None:
    """Newer rules only skip more answer-format clauses, so an artifact a user trained with
    an older lfd keeps working after an upgrade."""
    loaded = TaskClassifier(artifacts.load(_saved_with_rules(tmp_path, 1)))
    assert loaded.metadata["tokenizer"]["format_clauses"]["rules"] == 1


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Which river runs through Vienna? Only the words, no period.", "general"),
        ("Name the planets with rings. Answer with a JSON list.", "general"),
        ("who invented the telescope. reply in lowercase, one word", "general"),
        ("In which year did the Titanic sink? Respond with the year alone.", "general"),
        ("Tell me the capital of Chile.", "general"),
        ("Create a function that returns the sum of the squares of 1..n.", "coding"),
        ("Explain why SN2 reactions invert the configuration at carbon.", "hard_reasoning"),
        ("What is 12% of 450? Respond with the number only.", "math"),
        ("Write a sonnet about the sea. Use lowercase only.", "instruction"),
        (LLAMA3.format("Who wrote Pride and Prejudice?"), "general"),
        (LLAMA3.format("Write a haiku about rain."), "instruction"),
        (
            "Q: What is the capital of Italy?\nA: Rome\n\nQ: What is the capital of Japan?\n"
            "A: Tokyo\n\nQ: A baker sells 36 muffins and twice as many buns. How many items "
            "does she sell?\nA:",
            "math",
        ),
        (
            "Solve the following math problem step by step. The last line of your response "
            "should be of the form Answer: $ANSWER (without quotes) where $ANSWER is the answer "
            "to the problem.\n\nCompute the remainder when 7^100 is divided by 5.\n\nRemember "
            'to put your answer on its own line after "Answer:", and you do not need to use a '
            "\\boxed command.",
            "math",
        ),
    ],
)
def test_bundled_artifact_reads_wrapped_queries_by_their_task(text: str, label: str) -> None:
    assert TaskClassifier.load().classify(text).task_type == label
