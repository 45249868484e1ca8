"""SIGTERM drains: the event in hand finishes, offsets are committed, the process exits 0."""

from __future__ import annotations

import signal
import time

import pytest

from tests.apps.support.brokers import BrokerUnderTest
from tests.apps.support.pipeline import Pipeline, order

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]


def test_sigterm_finishes_in_flight_work_commits_and_exits_within_the_timeout(
    pipeline: Pipeline, broker: BrokerUnderTest
) -> None:
    pipeline.start()
    pipeline.kill("notification-service", signal.SIGTERM)
    pipeline.start("notification-service", SIMULATED_LATENCY_MS="100", SHUTDOWN_TIMEOUT_S="10")
    order_ids = [pipeline.post_order(order(n))[1]["order_id"] for n in range(25)]
    pipeline.wait_for(lambda: len(pipeline.effects("mail")) >= 5, "the first mails")

    mailer = pipeline.services["notification-service"]
    started = time.monotonic()
    assert pipeline.kill("notification-service", signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    assert "stopped cleanly" in mailer.log_text()
    sent_before = pipeline.effects("mail")
    assert 0 < len(sent_before) < len(order_ids), "stopped mid-stream"
    # Everything mailed is committed: the committed offsets cover at least those order events.
    assert broker.committed("notification-service", "orders") >= len(sent_before)

    pipeline.start("notification-service")
    pipeline.wait_terminal(order_ids)
    pipeline.wait_for(lambda: len(pipeline.effects("mail")) == len(order_ids), "every mail")
    assert pipeline.effects("mail") == dict.fromkeys(order_ids, 1)
    # A clean drain leaves nothing to redeliver: the restarted service never needed its journal.
    assert pipeline.redundant_requests("mail") == 0
    assert "already performed" not in pipeline.services["notification-service"].log_text()
