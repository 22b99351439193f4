"""The task classifier's hot path, decision rule, bad input and artifact format."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest

from localforge.errors import ConfigError, InvalidParams
from localforge.routing import artifact as artifacts
from localforge.routing import training
from localforge.routing.classifier import (
    LABELS,
    SHARED_READINGS,
    ClassifierService,
    TaskClassifier,
    char_ngrams,
    fold_digits,
    routed_indices,
)
from localforge.settings import ClassifierSettings

DATA = training.own_data_files()
PROBES = [
    "fix this error: KeyError: 'user'",
    "What is 15% of 240?",
    "Write a haiku about rain",
    "why is the sky blue",
    "Prove that there are infinitely many primes.",
    "hello there, how are you?",
    "SELECT name FROM users WHERE id = 1;",
    "¿Cuál es la capital de Argentina?",
    "a a a a a the the of of of x = y + 1",
    "राम के पास ४५ आम हैं। हर दोस्त को ५ मिले, तो कितने दोस्त हैं?",
    "リンゴが１２個あります。",
]


@pytest.fixture(scope="module")
def examples() -> list[training.Example]:
    return [e for path in DATA for e in training.read_examples(path)]


@pytest.fixture(scope="module")
def fitted(examples: list[training.Example]) -> training.Fitted:
    config = training.TrainConfig(max_features=3000, loso=False)
    return training.fit([e.text for e in examples], [e.label for e in examples], config)


def _classifier(fitted: training.Fitted, tmp: Path, **kwargs: float) -> TaskClassifier:
    art = training.export(fitted, 1.0, {}, [], fitted.config, [])
    artifacts.save(art, tmp)
    return TaskClassifier.load(tmp, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("৪৫টি আম", "45টি আম"),  # Bengali
        ("४५ आम", "45 आम"),  # Devanagari
        ("٤٥ قلمًا", "45 قلمًا"),  # Arabic-Indic
        ("๔๕ บาท", "45 บาท"),  # Thai
        ("１２個", "12個"),  # full-width
        ("x² + 3x = 10", "x² + 3x = 10"),  # a superscript is not a digit
        ("plain ASCII 42", "plain ASCII 42"),
    ],
)
def test_digits_of_every_script_fold_to_ascii(text: str, folded: str) -> None:
    assert fold_digits(text) == folded


def test_a_number_reads_the_same_in_any_script(fitted: training.Fitted, tmp_path: Path) -> None:
    classifier = _classifier(fitted, tmp_path)
    assert classifier.metadata["tokenizer"]["digits"] == "ascii"
    native = classifier.probabilities("राम के पास ४५ आम हैं")
    ascii_digits = classifier.probabilities("राम के पास 45 आम हैं")
    assert native is not None and ascii_digits is not None
    np.testing.assert_allclose(native, ascii_digits, atol=1e-12)


def test_an_artifact_trained_without_folding_reads_digits_as_written(
    fitted: training.Fitted, tmp_path: Path
) -> None:
    """An artifact from before digit folding keeps reading what it was trained on."""
    art = training.export(fitted, 1.0, {}, [], fitted.config, [])
    artifacts.save(art, tmp_path)
    meta_path = tmp_path / artifacts.METADATA_FILE
    meta = json.loads(meta_path.read_text())
    del meta["tokenizer"]["digits"]
    meta_path.write_text(json.dumps(meta))
    classifier = TaskClassifier(artifacts.load(tmp_path))
    native = classifier.probabilities("राम के पास ४५ आम हैं")
    ascii_digits = classifier.probabilities("राम के पास 45 आम हैं")
    assert native is not None and ascii_digits is not None
    assert not np.allclose(native, ascii_digits)


def _sklearn_probs(fitted: training.Fitted, texts: list[str]) -> np.ndarray:
    probs = fitted.model.predict_proba(fitted.transform(texts))
    order = [list(fitted.model.classes_).index(label) for label in LABELS]
    result: np.ndarray = probs[:, order]
    return result


def test_hot_path_matches_sklearn_predict_proba(
    fitted: training.Fitted, examples: list[training.Example], tmp_path: Path
) -> None:
    classifier = _classifier(fitted, tmp_path)
    texts = [e.text for e in examples] + PROBES
    dev = training.default_eval_file()
    if dev.is_file():
        texts += [e.text for e in training.read_examples(dev)]
    expected = _sklearn_probs(fitted, texts)
    for text, want in zip(texts, expected, strict=True):
        got = classifier.probabilities(text)
        if got is None:  # nothing in the vocabulary: sklearn sees the intercepts only
            assert not fitted.transform([text]).nnz
            continue
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_embedding_features_match_sklearn(examples: list[training.Example], tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(len(examples), 8))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    config = training.TrainConfig(
        features="tfidf+embedding", max_features=500, embedding_weight=0.7
    )
    fitted = training.fit(
        [e.text for e in examples], [e.label for e in examples], config, embeddings
    )
    artifacts.save(training.export(fitted, 1.0, {}, [], config, []), tmp_path)
    classifier = TaskClassifier.load(tmp_path)
    assert classifier.needs_embedding
    texts = [e.text for e in examples[:50]]
    probs = fitted.model.predict_proba(fitted.transform(texts, embeddings[:50]))
    order = [list(fitted.model.classes_).index(label) for label in LABELS]
    for i, text in enumerate(texts):
        got = classifier.probabilities(text, embeddings[i])
        assert got is not None
        np.testing.assert_allclose(got, probs[i, order], atol=1e-6, rtol=0)
    # Scored in two parts (the words while the query is embedded), the answer is the same.
    for i, text in enumerate([*texts[:10], "x" * 9000, "", "§§§ ¤¤"]):
        vector = embeddings[i % len(embeddings)]
        whole = classifier.classify(text, vector)
        split = classifier.classify(text, vector, prepared=classifier.text_scores(text))
        assert split == whole
    with pytest.raises(InvalidParams, match="needs the query's sentence embedding"):
        classifier.classify("hello")
    with pytest.raises(InvalidParams, match="8"):
        classifier.classify("hello", np.zeros(5))


def test_low_confidence_is_routed_as_general(fitted: training.Fitted, tmp_path: Path) -> None:
    strict = _classifier(fitted, tmp_path, min_confidence=0.999999)
    result = strict.classify("Write a haiku about rain")
    assert result.routed_task_type == "general"
    assert result.reason.startswith(f"confidence {result.confidence:.2f} < 1.00")
    lenient = TaskClassifier.load(tmp_path, min_confidence=0.0)
    result = lenient.classify("Write a haiku about rain")
    assert result.task_type == "instruction" == result.routed_task_type
    assert "routed as instruction" in result.reason


def _row(**probabilities: float) -> list[float]:
    rest = (1.0 - sum(probabilities.values())) / (len(LABELS) - len(probabilities))
    return [probabilities.get(label, rest) for label in LABELS]


@pytest.mark.parametrize(
    ("row", "routed"),
    [
        (_row(math=0.5, hard_reasoning=0.3), "math"),  # a computation either way
        (_row(hard_reasoning=0.45, math=0.2), "hard_reasoning"),
        (_row(math=0.5, hard_reasoning=0.05, reasoning=0.41), "general"),
        (_row(instruction=0.55, general=0.05, coding=0.3), "general"),  # no shared reading
        (_row(instruction=0.7), "instruction"),
        (_row(coding=0.45, math=0.3, hard_reasoning=0.1), "general"),  # coding's top
    ],
)
def test_a_top_label_backed_by_its_shared_reading_is_not_a_fallback(
    row: list[float], routed: str
) -> None:
    assert LABELS[int(routed_indices(np.array(row), 0.6)[0])] == routed
    batch = routed_indices(np.array([row, _row(general=0.9)]), 0.6)
    assert [LABELS[i] for i in batch] == [routed, "general"]


def test_classify_says_when_the_shared_reading_kept_the_label(
    fitted: training.Fitted, tmp_path: Path
) -> None:
    text = "Prove that there are infinitely many primes."
    probabilities = _classifier(fitted, tmp_path, min_confidence=0.0).classify(text).probabilities
    top = max(probabilities, key=lambda label: probabilities[label])
    assert top in SHARED_READINGS
    together = probabilities[top] + probabilities[SHARED_READINGS[top]]
    between = (probabilities[top] + together) / 2
    result = TaskClassifier.load(tmp_path, min_confidence=between).classify(text)
    assert result.routed_task_type == top
    assert f"but {top} and {SHARED_READINGS[top]} together {together:.2f}" in result.reason
    above = TaskClassifier.load(tmp_path, min_confidence=min(together + 0.01, 1.0))
    assert above.classify(text).routed_task_type == "general"


def test_probabilities_are_a_distribution_over_all_labels(
    fitted: training.Fitted, tmp_path: Path
) -> None:
    classifier = _classifier(fitted, tmp_path)
    for text in PROBES:
        result = classifier.classify(text)
        assert list(result.probabilities) == list(LABELS)
        assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert result.confidence == max(result.probabilities.values())
        assert result.task_type == max(result.probabilities, key=result.probabilities.__getitem__)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "🙂🎉🚀",
        "你好，世界",
        "\x00\x01\x02\xff\ufffd",
        "\ud800 lone surrogate",
        "{" * 1000,
    ],
)
def test_odd_input_gets_a_defined_result(
    fitted: training.Fitted, tmp_path: Path, text: str
) -> None:
    result = _classifier(fitted, tmp_path).classify(text)
    assert result.task_type in LABELS
    assert result.routed_task_type in LABELS
    assert 0.0 <= result.confidence <= 1.0
    json.dumps(result.to_dict())


def test_empty_and_unknown_text_route_as_general_with_a_reason(
    fitted: training.Fitted, tmp_path: Path
) -> None:
    classifier = _classifier(fitted, tmp_path)
    assert classifier.classify("  ").reason == "empty query: routed as general"
    result = classifier.classify("🙂🙂🙂")
    assert result.routed_task_type == "general"
    assert "no known words" in result.reason


def test_huge_input_is_truncated_and_bounded(fitted: training.Fitted, tmp_path: Path) -> None:
    classifier = _classifier(fitted, tmp_path, max_chars=4000)
    huge = "fix this error: KeyError " * (5 * 1024 * 1024 // 25)
    start = time.perf_counter()
    result = classifier.classify(huge)
    assert time.perf_counter() - start < 0.5
    assert result.task_type == classifier.classify(huge[:4000]).task_type


def test_non_string_is_rejected(fitted: training.Fitted, tmp_path: Path) -> None:
    with pytest.raises(InvalidParams):
        _classifier(fitted, tmp_path).classify(b"bytes")  # type: ignore[arg-type]


# --- artifact format -----------------------------------------------------------


def test_artifact_round_trip_has_no_pickled_objects(
    fitted: training.Fitted, tmp_path: Path
) -> None:
    art = training.export(fitted, 0.8, {"dev": {"accuracy": 0.5}}, [], fitted.config, [])
    artifacts.save(art, tmp_path)
    with np.load(tmp_path / artifacts.ARRAYS_FILE, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(artifacts.ARRAY_NAMES)
        assert all(npz[name].dtype != object for name in npz.files)
    loaded = artifacts.load(tmp_path)
    assert loaded.labels == LABELS
    assert loaded.metadata["temperature"] == 0.8
    np.testing.assert_array_equal(loaded.coef, art.coef)
    assert loaded.vocabulary.tolist() == art.vocabulary.tolist()


def test_damaged_artifacts_are_config_errors(fitted: training.Fitted, tmp_path: Path) -> None:
    artifacts.save(training.export(fitted, 1.0, {}, [], fitted.config, []), tmp_path)
    arrays = tmp_path / artifacts.ARRAYS_FILE
    arrays.write_bytes(arrays.read_bytes()[:-10])
    with pytest.raises(ConfigError, match="checksum differs"):
        artifacts.load(tmp_path)
    arrays.unlink()
    with pytest.raises(ConfigError, match=r"has no arrays\.npz"):
        artifacts.load(tmp_path)
    meta = tmp_path / artifacts.METADATA_FILE
    meta.write_text(json.dumps({"format_version": 99}))
    arrays.write_bytes(b"x")
    with pytest.raises(ConfigError, match="format 99"):
        artifacts.load(tmp_path)


def test_bundled_artifact_is_small_and_meets_its_goals() -> None:
    path = artifacts.bundled_path()
    size = sum(f.stat().st_size for f in path.iterdir())
    assert size < 5 * 1024 * 1024
    classifier = TaskClassifier.load()
    assert classifier.labels == LABELS
    dev = classifier.metadata["metrics"]["dev"]
    assert dev["accuracy"] >= 0.90
    assert dev["macro_f1"] >= 0.88
    assert "loso" in classifier.metadata["metrics"]
    assert classifier.metadata["corpus"]["hash"]


@pytest.mark.parametrize("features", ["tfidf", "tfidf+embedding"])
def test_bundled_artifacts_report_an_out_of_distribution_estimate(features: str) -> None:
    metrics = artifacts.load(artifacts.bundled_path(features)).metadata["metrics"]
    loso, heldout, ood = metrics["loso"], metrics["heldout"], metrics["ood"]
    # Unseen phrasings are harder than the dev split, and the estimate says so.
    wrapped = metrics["dev_wrapped"]
    assert ood["estimate"] == min(
        loso["balanced_accuracy"], heldout["balanced_accuracy"], wrapped["balanced_accuracy"]
    )
    # Leave-one-source-out holds all of data/ out as one origin and trains no benchmark test set,
    # so it is the pessimistic part of the estimate: the data/ fold is predicted from the corpus
    # alone, which has none of data/'s long-context queries (TF-IDF alone ends at 0.678: the
    # more rows data/ holds, the lower that fold reads).
    assert 0.67 <= ood["estimate"] < metrics["dev"]["balanced_accuracy"]
    assert len(loso["per_group"]) >= 10 and heldout["n"] >= 400
    assert wrapped["wrappers"] >= 20 and "mmlu" not in metrics["dev"]["per_source"]
    # Calibrated out of distribution: on the other authors' folds, the ones most like public
    # prompts, about as many queries fall back to general as are wrong, math read as
    # hard_reasoning and back not counted as wrong, since routing counts the two together (the
    # temperature minimises the log-loss with every origin weighted alike: 1.2 points apart by
    # default, 3.1 with TF-IDF alone). The data/ fold, read by a model that never saw data/, is
    # over-confident instead: no other reading is as unfamiliar.
    public = metrics["loso_public"]
    apart = 0.02 if features == "tfidf+embedding" else 0.035
    assert abs(public["fallback_share"] - public["fair_error_rate"]) <= apart
    assert metrics["calibration"]["fitted_on"] == "leave-one-source-out"
    assert metrics["calibration"]["weighting"] == "per origin"


def test_default_artifact_recalls_every_label_on_the_heldout_files() -> None:
    default = artifacts.load(artifacts.bundled_path(ClassifierSettings().features)).metadata
    recalls = {k: v["recall"] for k, v in default["metrics"]["heldout"]["per_class"].items()}
    assert min(recalls.values()) >= 0.80, recalls


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Which country has the longest coastline? Answer with one word.", "general"),
        ("Answer with a JSON list: which three countries have the largest populations?", "general"),
        ("Who wrote the novel Moby-Dick? Format: Answer: <name>", "general"),
        ("What is 15% of 80? Only the number.", "math"),
        ("Write a function that returns the second smallest element of a list.", "coding"),
        (
            "Write the mechanism for the base-catalysed aldol condensation of acetone.",
            "hard_reasoning",
        ),
        ("Write a limerick about a lazy cat. Answer in lowercase.", "instruction"),
    ],
)
def test_answer_format_wrappers_do_not_decide_the_label(text: str, label: str) -> None:
    assert TaskClassifier.load().classify(text).task_type == label


def test_char_ngrams_match_scikit_learns_char_wb() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).build_analyzer()
    for text in [*PROBES, "a", "I  am\n\tHERE", "x" * 10, "déjà vu", ""]:
        assert char_ngrams(text, 2, 4) == analyzer(text)
    long = "word " * 1000
    assert len(char_ngrams(long, 2, 4)) < len(analyzer(long))  # only a window is read


def test_format_1_artifacts_without_character_ngrams_still_load(
    examples: list[training.Example], tmp_path: Path
) -> None:
    config = training.TrainConfig(max_features=500, char_ngram_range=None)
    texts = [e.text for e in examples]
    fitted = training.fit(texts, [e.label for e in examples], config)
    artifacts.save(training.export(fitted, 1.0, {}, [], config, []), tmp_path)
    art = artifacts.load(tmp_path)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, vocabulary=art.vocabulary, idf=art.idf, coef=art.coef, intercept=art.intercept
    )
    (tmp_path / artifacts.ARRAYS_FILE).write_bytes(buffer.getvalue())
    meta = json.loads((tmp_path / artifacts.METADATA_FILE).read_text())
    meta["format_version"] = 1
    meta["arrays_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    del meta["tokenizer"]["char"]
    (tmp_path / artifacts.METADATA_FILE).write_text(json.dumps(meta))
    old = TaskClassifier.load(tmp_path)
    expected = _sklearn_probs(fitted, texts[:20])
    for text, want in zip(texts[:20], expected, strict=True):
        np.testing.assert_allclose(old.probabilities(text), want, atol=1e-6, rtol=0)


def test_bundled_artifact_classifies_editor_requests() -> None:
    classifier = TaskClassifier.load()
    assert (
        classifier.classify(
            "fix this error: TypeError: 'NoneType' object is not subscriptable"
        ).task_type
        == "coding"
    )
    assert classifier.classify("convert 10 miles to kilometers").task_type == "math"
    assert classifier.classify("Write a cover letter for a nursing job").task_type == "instruction"


# --- the service -----------------------------------------------------------------


@pytest.mark.parametrize("features", ["tfidf", "tfidf+embedding"])
def test_service_status_shows_version_labels_and_dev_accuracy(features: str) -> None:
    service = ClassifierService(lambda: ClassifierSettings(features=features))  # type: ignore[arg-type]
    assert service.status()["state"] == "stopped"
    asyncio.run(service.start())
    status = service.status()
    assert status["state"] == "ready"
    assert status["version"] in status["detail"]
    assert f"({features})" in status["detail"]
    assert "coding, math, reasoning, instruction, hard_reasoning, general" in status["detail"]
    assert "dev accuracy 0.9" in status["detail"]
    classifier = service.classifier
    assert classifier.needs_embedding == (features == "tfidf+embedding")
    vector = np.ones(384) / np.sqrt(384) if classifier.needs_embedding else None
    assert classifier.classify("hello", vector).task_type in LABELS
    asyncio.run(service.stop())


def test_default_settings_use_the_artifact_with_the_best_leave_one_source_out_accuracy() -> None:
    default = artifacts.load(artifacts.bundled_path(ClassifierSettings().features)).metadata
    for features in artifacts.BUNDLED_NAMES:
        other = artifacts.load(artifacts.bundled_path(features)).metadata
        assert default["metrics"]["loso"]["accuracy"] >= other["metrics"]["loso"]["accuracy"]


def test_service_with_a_bad_artifact_is_degraded_not_dead(tmp_path: Path) -> None:
    service = ClassifierService(lambda: ClassifierSettings(artifact=tmp_path / "missing"))
    asyncio.run(service.start())
    status = service.status()
    assert status["state"] == "degraded"
    assert "has no" in status["detail"]
    with pytest.raises(Exception, match="has no"):
        _ = service.classifier
