"""The two stacks evaluated once per test session under the mock monitor; tests only read them."""

from __future__ import annotations

import pytest

from tests.unit.harness import Recorder, run_stack


@pytest.fixture(scope="session")
def dev() -> Recorder:
    return run_stack("dev")


@pytest.fixture(scope="session")
def prod() -> Recorder:
    return run_stack("prod")
