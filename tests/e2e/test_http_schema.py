"""schemathesis against the daemon's own OpenAPI document: no 500s, responses match it.

Every check but one runs: a request the schema allows may still be refused 400 for
a reason a schema cannot say (the last message must be the user's, one prompt per
request), so "schema-valid data is accepted" does not hold by design; the 400
names the field. A tiny generated GGUF answers (random weights, a few hundred KiB), so generated
requests cost milliseconds; examples per operation are few by default, to keep the suite fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support import gguf_files
from tests.support.http import HttpDaemon, http_daemon

pytestmark = pytest.mark.e2e

# Few by default; SCHEMATHESIS_EXAMPLES=200 for a thorough run.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))
TINY_CONFIG = """
[residency]
spare_worker = false
generate_timeout_s = 50

[[models]]
name = "tiny"
path = "{path}"
n_ctx = 512
"""


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpDaemon]:
    path = gguf_files.write_tiny_gguf(Path(tmp_path_factory.mktemp("models")) / "tiny.gguf")
    with http_daemon(TINY_CONFIG.format(path=path)) as running:
        yield running


@pytest.fixture(scope="module")
def api(door: HttpDaemon) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(door.base + "/openapi.json")
    schema.config.update(base_url=door.base)
    return schema


def test_no_operation_answers_500_or_outside_its_schema(api: schemathesis.BaseSchema) -> None:
    failures = []
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(timeout=90, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as exc:  # every operation's failure, not only the first
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
