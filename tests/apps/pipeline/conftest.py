from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps.support.brokers import BrokerUnderTest
from tests.apps.support.pipeline import Pipeline


@pytest.fixture
def pipeline(broker: BrokerUnderTest, tmp_path: Path) -> Iterator[Pipeline]:
    """The order pipeline's services as processes against the broker under test."""
    running = Pipeline(broker, tmp_path)
    yield running
    running.stop_all()
