"""BROKER picks the adapter; each broker's connection settings are checked like Kafka's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.apps.support.pipeline import REPO


def start_without_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "RABBITMQ_", "NATS_", "BROKER"))}
    return subprocess.run([sys.executable, "-m", "event_platform.apps.orders.payment_service"], cwd=REPO,
                          env={**clean, "PYTHONPATH": str(REPO), "SERVICE_NAME": "payment-service", **env},
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("broker", "variable"), [("rabbitmq", "RABBITMQ_URL"), ("nats", "NATS_URL")])
def test_a_service_on_another_broker_asks_for_that_brokers_address_only(broker: str, variable: str) -> None:
    done = start_without_settings(BROKER=broker)
    assert done.returncode == 1
    assert f"{variable}: is required but not set" in done.stderr
    assert "KAFKA_BOOTSTRAP_SERVERS" not in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_broker_is_named_in_the_error() -> None:
    done = start_without_settings(BROKER="pulsar", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9")
    assert done.returncode == 1
    assert "BROKER: Input should be 'kafka', 'rabbitmq' or 'nats'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_malformed_broker_address_is_rejected_before_connecting() -> None:
    done = start_without_settings(BROKER="nats", NATS_URL="127.0.0.1:4222")
    assert done.returncode == 1
    assert "NATS_URL: String should match pattern" in done.stderr
