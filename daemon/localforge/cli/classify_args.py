"""Argument parsers for `lfd classify` and `lfd train`.

Kept apart from ``cli.classify`` so that building ``lfd``'s parser (on every
``lfd serve``) imports no numpy or scikit-learn; the command runs import them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from localforge.cli.flags import add_settings_flags


def _classify(args: argparse.Namespace) -> int:
    from localforge.cli.classify import cmd_classify

    return cmd_classify(args)


def _train(args: argparse.Namespace) -> int:
    from localforge.cli.classify import cmd_train

    return cmd_train(args)


def register_classify(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "classify",
        help="label queries with a task type, no daemon needed",
        description=(
            "Classify one query given as arguments, or every line of stdin: JSON Lines "
            '({"text": ...}, other fields passed through) or plain text. One JSON object per '
            "line comes out; a line that cannot be read gets an error object and the rest go on "
            "(exit status 1 when any line failed)."
        ),
    )
    parser.add_argument("text", nargs="*", help="the query (omit to read stdin)")
    parser.add_argument(
        "--json", action="store_true", help="print the single query's result as JSON"
    )
    parser.add_argument(
        "--artifact", type=Path, help="trained artifact directory (default: configured or bundled)"
    )
    parser.add_argument(
        "--min-confidence", type=float, help="below this, route as general (default 0.6)"
    )
    add_settings_flags(parser)
    parser.set_defaults(func=_classify)


def register_train(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "train",
        help="train the task classifier from labelled JSON Lines",
        description=(
            'Train on JSON Lines {"text", "label", "source"?} (default: the routing corpus and '
            "the repository's data/ files), print per-class precision/recall/F1, the confusion "
            "matrix, accuracy, leave-one-source-out accuracy (sources of one origin held out "
            "together), accuracy on the held-out files and the out-of-distribution estimate, "
            "and write the artifact."
        ),
    )
    parser.add_argument("--data", type=Path, action="append", help="training file (repeatable)")
    parser.add_argument("--eval", type=Path, help="evaluation file (default: the corpus dev.jsonl)")
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation file")
    parser.add_argument("--out", type=Path, help="artifact directory to write")
    parser.add_argument("--features", choices=["tfidf", "tfidf+embedding"])
    parser.add_argument("--max-features", type=int, default=5000)
    parser.add_argument("--c", type=float, default=3.0, help="inverse regularisation strength")
    parser.add_argument(
        "--no-loso",
        action="store_true",
        help="skip leave-one-source-out evaluation (the temperature is then fitted out-of-fold)",
    )
    parser.add_argument(
        "--calibrate-per-row",
        action="store_true",
        help="fit the temperature with every leave-one-source-out row weighted alike "
        "(by default every origin weighs the same, so data/, the largest, does not set it alone)",
    )
    parser.add_argument(
        "--heldout",
        type=Path,
        action="append",
        help="held-out file to report on, never trained on (default: data/heldout/*.jsonl)",
    )
    parser.add_argument("--no-heldout", action="store_true", help="skip the held-out files")
    parser.add_argument(
        "--no-char-ngrams", action="store_true", help="word n-grams only, no character n-grams"
    )
    parser.add_argument(
        "--keep-format-clauses",
        action="store_true",
        help="read whole texts (by default the n-grams skip clauses such as 'Only the year.')",
    )
    add_settings_flags(parser)
    parser.set_defaults(func=_train)
