"""A service started with a bad environment stops at once and says what to fix."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.apps.support.pipeline import REPO


def test_a_service_without_broker_settings_exits_naming_the_missing_variables() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "SERVICE_NAME"))}
    done = subprocess.run([sys.executable, "-m", "event_platform.apps.orders.payment_service"], cwd=REPO,
                          env={**env, "PYTHONPATH": str(REPO), "MAX_ATTEMPTS": "0"},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "SERVICE_NAME: is required but not set" in done.stderr
    assert "MAX_ATTEMPTS: Input should be greater than or equal to 1" in done.stderr
    assert "KAFKA_BOOTSTRAP_SERVERS: is required but not set" in done.stderr
    assert "Traceback" not in done.stderr
