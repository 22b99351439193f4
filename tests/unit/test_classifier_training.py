"""Training is deterministic, reproduces the shipped artifact, and reads data strictly."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from localforge.cli.classify import parse_line, read_items, run_stream
from localforge.errors import InvalidParams
from localforge.paths import Paths
from localforge.routing import artifact as artifacts
from localforge.routing import training
from localforge.routing.classifier import LABELS, TaskClassifier
from localforge.routing.embedding_cache import EmbeddingCache, embedding_cache_path

CORPUS = training.corpus_dir()
needs_corpus = pytest.mark.skipif(
    not (CORPUS / "train.jsonl").is_file(),
    reason=f"routing corpus not found at {CORPUS} (set {training.CORPUS_ENV} to its directory)",
)


def _own_examples() -> list[training.Example]:
    return [e for path in training.own_data_files() for e in training.read_examples(path)]


def test_own_data_covers_every_label_and_names_its_sources() -> None:
    examples = _own_examples()
    assert {e.label for e in examples} == set(LABELS)
    assert all(e.source.startswith("localforge-") for e in examples)
    readme = (training.REPO_ROOT / "data" / "README.md").read_text()
    for path in training.own_data_files():
        assert path.name in readme


def test_fitting_is_deterministic() -> None:
    examples = _own_examples()[::2]
    texts, labels = [e.text for e in examples], [e.label for e in examples]
    config = training.TrainConfig(max_features=1000)
    first = training.export(training.fit(texts, labels, config), 1.0, {}, [], config, [])
    second = training.export(training.fit(texts, labels, config), 1.0, {}, [], config, [])
    assert first.vocabulary.tolist() == second.vocabulary.tolist()
    np.testing.assert_array_equal(first.coef, second.coef)
    np.testing.assert_array_equal(first.intercept, second.intercept)


@needs_corpus
def test_retraining_reproduces_the_shipped_dev_accuracy() -> None:
    shipped = TaskClassifier.load().metadata
    config = training.TrainConfig(
        max_features=shipped["model"]["max_features"], c=shipped["model"]["C"], loso=False
    )
    examples = training.load_examples(training.default_data_files())
    fitted = training.fit([e.text for e in examples], [e.label for e in examples], config)
    dev = training.load_examples([training.default_eval_file()])
    predicted = fitted.model.predict(fitted.transform([e.text for e in dev]))
    accuracy = training.evaluate([e.label for e in dev], list(predicted))["accuracy"]
    assert abs(accuracy - shipped["metrics"]["dev"]["accuracy"]) <= 0.01


@needs_corpus
@pytest.mark.ci_may_skip(
    "needs the corpus embedding cache, which lfd train creates (2.5 minutes on 2 cores)"
)
def test_retraining_reproduces_the_shipped_embedding_artifact() -> None:
    shipped = artifacts.load(artifacts.bundled_path("tfidf+embedding")).metadata
    trained_on = shipped["embedding"]
    cache_path = embedding_cache_path(
        Paths.from_env().data_dir,
        trained_on["model"],
        trained_on["max_tokens"],
        trained_on.get("graph", "int8-v1"),  # recorded since the second int8 recipe
    )
    if not cache_path.is_file():
        pytest.skip(
            f"no sentence-embedding cache at {cache_path}; 'lfd train --features tfidf+embedding' "
            "creates it (2.5 minutes on 2 cores, embedding the corpus included)"
        )

    def not_cached(texts: Sequence[str]) -> np.ndarray:
        pytest.skip(f"{cache_path} lacks {len(texts)} corpus texts; rerun 'lfd train' to extend it")

    embed = EmbeddingCache(not_cached, cache_path)
    config = training.TrainConfig(
        features="tfidf+embedding",
        max_features=shipped["model"]["max_features"],
        c=shipped["model"]["C"],
        embedding_weight=shipped["embedding"]["weight"],
        loso=False,
    )
    examples = training.load_examples(training.default_data_files())
    texts = [e.text for e in examples]
    fitted = training.fit(texts, [e.label for e in examples], config, embed(texts))
    dev = training.load_examples([training.default_eval_file()])
    dev_texts = [e.text for e in dev]
    predicted = fitted.model.predict(fitted.transform(dev_texts, embed(dev_texts)))
    accuracy = training.evaluate([e.label for e in dev], list(predicted))["accuracy"]
    assert abs(accuracy - shipped["metrics"]["dev"]["accuracy"]) <= 0.01


def test_temperature_fit_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(1)
    true_logits = rng.normal(size=(4000, 6)) * 2
    p = training.softmax(true_logits)
    y = np.array([rng.choice(6, p=row) for row in p])
    assert training.fit_temperature(true_logits * 3, y) == pytest.approx(3.0, rel=0.1)


def test_every_origin_weighs_the_same_in_the_temperature_fit() -> None:
    rng = np.random.default_rng(2)
    true_logits = rng.normal(size=(4000, 6)) * 2
    p = training.softmax(true_logits)
    y = np.array([rng.choice(6, p=row) for row in p])
    # A large origin whose logits run three times too hot, a small one at the right scale.
    logits = np.vstack([true_logits[:3600] * 3, true_logits[3600:]])
    sources = ["big-a"] * 1800 + ["big-b"] * 1800 + ["small"] * 400
    weights = training.origin_weights(sources)
    assert weights[:3600].sum() == pytest.approx(weights[3600:].sum())
    by_row = training.fit_temperature(logits, y)
    by_origin = training.fit_temperature(logits, y, weights)
    assert by_row == pytest.approx(3.0, rel=0.15)
    assert 1.2 < by_origin < by_row - 0.5
    # A weight of zero leaves a row out.
    alone = training.fit_temperature(logits[3600:], y[3600:])
    zeroed = np.r_[np.zeros(3600), np.ones(400)]
    assert training.fit_temperature(logits, y, zeroed) == pytest.approx(alone, abs=1e-4)


def test_bad_training_lines_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text('{"text": "hi", "label": "general"}\n{"text": "x", "label": "chat"}\n')
    with pytest.raises(InvalidParams, match=r"mine.jsonl:2: unknown label 'chat'"):
        training.read_examples(path)
    path.write_text("not json\n")
    with pytest.raises(InvalidParams, match=r"mine.jsonl:1: expected a JSON object"):
        training.read_examples(path)


def test_train_writes_metrics_and_a_report(tmp_path: Path) -> None:
    rows = _own_examples()
    # Three origins: two sources of "alpha" are held out together, "beta" on its own.
    sources = ["alpha-one", "alpha-two", "beta"]
    train_rows = [
        training.Example(e.text, e.label, sources[i % 3]) for i, e in enumerate(rows[::2])
    ]
    train_file, eval_file = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    heldout_file = tmp_path / "heldout.jsonl"
    train_file.write_text("".join(json.dumps(e.__dict__) + "\n" for e in train_rows))
    eval_file.write_text("".join(json.dumps(e.__dict__) + "\n" for e in rows[1::4]))
    heldout_file.write_text("".join(json.dumps(e.__dict__) + "\n" for e in rows[3::4]))
    config = training.TrainConfig(max_features=1000, char_max_features=2000, n_jobs=1)
    result = training.train([train_file], eval_file, config, heldout=[heldout_file])
    meta = result.artifact.metadata
    metrics = meta["metrics"]
    assert meta["labels"] == list(LABELS)
    assert set(metrics["loso"]["per_group"]) == {"alpha", "beta"}
    assert metrics["loso"]["per_group"]["alpha"]["sources"] == ["alpha-one", "alpha-two"]
    assert metrics["dev"]["n"] == len(rows[1::4])
    assert metrics["heldout"]["n"] == len(rows[3::4])
    assert meta["calibrated_on"] == "leave-one-source-out"
    assert meta["temperature"] > 0
    for part in ("loso", "heldout"):
        assert 0 <= metrics[part]["fallback_share"] <= 1
        assert metrics[part]["error_rate"] == pytest.approx(1 - metrics[part]["accuracy"], abs=1e-3)
    ood = metrics["ood"]
    assert ood["estimate"] == min(
        metrics["loso"]["balanced_accuracy"],
        metrics["heldout"]["balanced_accuracy"],
        metrics["dev_wrapped"]["balanced_accuracy"],
    )
    # The wrapped dev split is the dev split, each query in a held-out answer-format wrapper.
    assert metrics["dev_wrapped"]["n"] == metrics["dev"]["n"]
    for needle in (
        "precision",
        "confusion",
        "accuracy",
        "leave-one-source-out accuracy",
        "held-out accuracy",
        "out-of-distribution estimate",
        "held-out answer-format wrappers",
    ):
        assert needle in result.report


def test_benchmark_test_sets_are_never_trained_or_evaluated_on(tmp_path: Path) -> None:
    rows = _own_examples()[::4]
    mixed = [
        training.Example(e.text, e.label, ("mmlu", "bbh", "localforge-x", "other")[i % 4])
        for i, e in enumerate(rows)
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(e.__dict__) + "\n" for e in mixed))
    kept = training.load_examples([path])
    assert {e.source for e in kept} == {"localforge-x", "other"}
    config = training.TrainConfig(max_features=500, char_max_features=1000, n_jobs=1)
    meta = training.train([path], path, config).artifact.metadata
    assert set(meta["corpus"]["sources"]) == {"localforge-x", "other"}
    assert meta["corpus"]["excluded_sources"] == ["bbh", "mmlu"]
    assert meta["metrics"]["dev"]["n"] == len(kept)


def test_wrapped_dev_puts_each_query_in_one_held_out_wrapper() -> None:
    wrappers = training.read_wrappers(training.heldout_wrappers_file())
    assert len(wrappers) >= 20 and not any(w.startswith("#") for w in wrappers)
    rows = [
        training.Example(f"What is the capital of country {i}?", "general", "x") for i in range(60)
    ]
    wrapped = training.wrap_for_evaluation(rows, wrappers)
    assert wrapped == training.wrap_for_evaluation(rows, wrappers)  # deterministic
    for row, out in zip(rows, wrapped, strict=True):
        assert out.label == row.label and row.text in out.text and out.text != row.text
        lead = out.text.split(row.text)[0].strip()
        assert lead == "" or (lead.endswith(":") and lead in wrappers)
    # Held out means held out: no training file contains these wrappers.
    training_text = "\n".join(p.read_text() for p in training.own_data_files())
    assert not [w for w in wrappers if w in training_text]


def test_fair_accuracy_accepts_only_the_documented_other_reading() -> None:
    from localforge.routing.classifier_eval import fair_balanced_accuracy

    truth = ["math", "hard_reasoning", "general", "general"]
    assert fair_balanced_accuracy(truth, ["hard_reasoning", "math", "general", "general"]) == 1.0
    assert fair_balanced_accuracy(truth, ["math", "hard_reasoning", "instruction", "general"]) == (
        0.8333
    )


def test_source_groups_hold_one_origin_together() -> None:
    from localforge.routing.classifier_eval import source_group

    assert source_group("conala-explain") == source_group("conala") == "conala"
    assert source_group("dolly-qa") == source_group("dolly-writing") == "dolly"
    assert source_group("localforge-trivia") == source_group("localforge-editor")
    assert source_group("gsm8k-train") == "gsm8k" and source_group("mmlu") == "mmlu"


def test_without_loso_the_temperature_is_fitted_out_of_fold(tmp_path: Path) -> None:
    train_file = tmp_path / "train.jsonl"
    train_file.write_text("".join(json.dumps(e.__dict__) + "\n" for e in _own_examples()[::3]))
    config = training.TrainConfig(max_features=500, char_ngram_range=None, loso=False, n_jobs=1)
    meta = training.train([train_file], None, config).artifact.metadata
    assert meta["calibrated_on"] == "5-fold out-of-fold"
    assert "loso" not in meta["metrics"] and meta["metrics"]["ood"]["estimate"] is None
    assert meta["tokenizer"]["char"] is None and meta["temperature"] > 0


# --- lfd classify's line handling --------------------------------------------------


def test_lines_are_json_objects_or_plain_text() -> None:
    assert parse_line(1, b'{"text": "hi", "id": 3}').extra == {"text": "hi", "id": 3}
    assert parse_line(2, b"{ not json } just code").text == "{ not json } just code"
    assert parse_line(3, b'{"id": 3}').error == 'JSON object needs a "text" string'
    assert "not valid UTF-8" in (parse_line(4, b"\xff\xfeabc").error or "")
    assert parse_line(5, b"").text == ""


def test_overlong_line_is_an_error_and_the_next_line_is_read() -> None:
    stream = io.BytesIO(b"x" * 100 + b"\nsecond line\n")
    items = list(read_items(stream, max_line_bytes=16))
    assert items[0].error is not None and "longer than 16 bytes" in items[0].error
    assert items[1].text == "second line"


def test_a_bad_line_does_not_stop_the_batch() -> None:
    classifier = TaskClassifier.load()
    stdin = io.BytesIO(
        b'{"text": "fix this error: KeyError", "id": 1}\n\xff\xfe\x00bad\n{"id": 2}\n'
        b'\xf0\x9f\x99\x82\nwhat is 2 + 2\n{"text": "\\ud800"}\n'
    )
    stdout = io.BytesIO()
    lines, errors = run_stream(classifier, stdin, stdout)
    rows = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert (lines, errors, len(rows)) == (6, 2, 6)
    assert rows[0]["id"] == 1 and rows[0]["task_type"] == "coding"
    assert rows[1] == {"line": 2, "error": "line is not valid UTF-8 (byte 0); send UTF-8 text"}
    assert rows[2]["line"] == 3 and "error" in rows[2]
    assert rows[3]["routed_task_type"] == "general"
    assert rows[4]["task_type"] == "math"
    assert rows[5]["routed_task_type"] == "general"
