"""Provisioning of RabbitMQ and NATS: pinned versions, caches outside the checkout, clear
set-up errors when missing, quick no-op re-installs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from scripts.brokers import local_nats, local_rabbitmq

REPO = Path(__file__).resolve().parents[2]


def pinned(key: str) -> str:
    for line in (REPO / "versions.env").read_text().splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"{key} is not pinned in versions.env")


def test_a_missing_nats_install_is_a_clear_setup_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(local_nats.NatsUnavailable, match="run `make setup`"):
        local_nats.nats_home()


def test_a_missing_rabbitmq_install_is_a_clear_setup_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the PerfTest jars are not in this cache
    with pytest.raises(local_rabbitmq.RabbitMQUnavailable, match="run `make setup`"):
        local_rabbitmq.rabbitmq_home()


def test_the_installed_nats_server_and_cli_are_the_pinned_versions_outside_the_checkout() -> None:
    home = local_nats.nats_home()
    server = subprocess.run([str(home / "bin" / "nats-server"), "--version"], capture_output=True, text=True,
                            check=True)
    cli = subprocess.run([str(home / "bin" / "nats"), "--version"], capture_output=True, text=True, check=True)
    assert f"v{pinned('NATS_SERVER_VERSION')}" in server.stdout
    assert pinned("NATSCLI_VERSION") in cli.stdout + cli.stderr
    assert not str(home).startswith(str(REPO))


def test_the_installed_rabbitmq_is_the_pinned_debian_build_with_management_and_perftest() -> None:
    home = local_rabbitmq.rabbitmq_home()
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"], capture_output=True,
                             text=True, check=True).stdout
    jars = {jar.name for jar in (home / "lib").iterdir()}
    plugins = Path(f"/usr/lib/rabbitmq/lib/rabbitmq_server-{version.split('-')[0]}/plugins")
    assert version == pinned("RABBITMQ_DEB_VERSION")
    assert f"perf-test-{pinned('RABBITMQ_PERFTEST_VERSION')}.jar" in jars
    assert any(p.name.startswith("rabbitmq_management-") for p in plugins.iterdir())
    assert (home / "bin" / "rabbitmq-server").exists()
    assert not str(home).startswith(str(REPO))


@pytest.mark.parametrize("script", ["rabbitmq.sh", "nats.sh"])
def test_a_second_install_is_a_quick_no_op(script: str) -> None:
    done = subprocess.run([str(REPO / "scripts" / "brokers" / script), "install"], capture_output=True, text=True,
                          check=True, timeout=30, env={**os.environ})
    assert "already installed" in done.stderr
