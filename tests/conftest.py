from __future__ import annotations

import os
from collections.abc import Generator, Iterator

import pytest

from tests.support.daemon import DaemonProcess, Home, run_daemon, temp_home

# Under CI=true a skipped test is a failed one: CI installs every prerequisite, so a skip
# there means an install step is missing, not that the test may be left out. The few tests
# that cannot run in CI's time say so with this marker and their reason.
CI_MAY_SKIP = "ci_may_skip"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{CI_MAY_SKIP}(reason): a skip of this test is accepted under CI=true too"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    setattr(item, f"report_{report.when}", report)  # for fixtures that act on a failure
    if (
        os.environ.get("CI") == "true"
        and report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker(CI_MAY_SKIP) is None
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {reason}"


@pytest.fixture
def home() -> Iterator[Home]:
    with temp_home() as h:
        yield h


@pytest.fixture
def daemon(home: Home) -> Iterator[DaemonProcess]:
    with run_daemon(home) as d:
        yield d
