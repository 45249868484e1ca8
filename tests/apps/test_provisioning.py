"""Broker provisioning: the install script and what happens when Kafka is missing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from scripts.brokers import local_kafka


def test_a_missing_kafka_install_is_a_clear_setup_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # an empty cache: nothing installed
    with pytest.raises(local_kafka.KafkaUnavailable, match="run `make setup`"):
        local_kafka.kafka_home()


def test_the_installed_kafka_is_the_pinned_version_with_a_logging_binding() -> None:
    home = local_kafka.kafka_home()
    pinned = subprocess.run([str(local_kafka.KAFKA_SH), "version"], capture_output=True, text=True, check=True)
    jars = {jar.name for jar in (home / "lib").iterdir()}
    assert home.name == f"kafka-{pinned.stdout.strip()}"
    assert f"kafka_2.13-{pinned.stdout.strip()}.jar" in jars
    assert any(j.startswith("log4j-slf4j-impl-") for j in jars), "without the binding the broker logs nothing"
    assert not any(j.startswith(("slf4j-api-2.", "log4j-slf4j2-impl")) for j in jars)
    assert not str(home).startswith(str(Path(__file__).resolve().parents[2])), "the cache lives outside the checkout"


def test_a_second_install_is_a_quick_no_op() -> None:
    done = subprocess.run([str(local_kafka.KAFKA_SH), "install"], capture_output=True, text=True, check=True,
                          timeout=30, env={**os.environ})
    assert "already installed" in done.stderr
