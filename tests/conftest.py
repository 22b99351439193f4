from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.daemon import DaemonProcess, Home, run_daemon, temp_home


@pytest.fixture
def home() -> Iterator[Home]:
    with temp_home() as h:
        yield h


@pytest.fixture
def daemon(home: Home) -> Iterator[DaemonProcess]:
    with run_daemon(home) as d:
        yield d
