"""Retry timing, dead-letter records, the effect guard and configuration errors."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from event_platform.apps.runtime import deadletter
from event_platform.apps.runtime.adapter import InboundRecord
from event_platform.apps.runtime.effects import EffectGuard
from event_platform.apps.runtime.envelope import WireMessage
from event_platform.apps.runtime.recent import RecentIds
from event_platform.apps.runtime.retry import (
    PermanentError,
    RetryPolicy,
    connect_with_backoff,
    connect_with_backoff_async,
)
from event_platform.apps.runtime.settings import ConfigurationError, KafkaSettings, RuntimeSettings, load
from tests.apps.support.memory import MemoryJournal


def test_backoff_grows_exponentially_with_full_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, initial_delay_s=0.1, max_delay_s=1.0, rng=random.Random(7))
    for attempt, bound in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        delays = [policy.delay_s(attempt) for _ in range(200)]
        assert all(0 <= d <= bound for d in delays)
        assert max(delays) > bound * 0.8  # jitter spreads over the whole range


def test_retries_stop_at_max_attempts_and_never_retry_permanent_errors() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.should_retry(a, RuntimeError()) for a in (1, 2, 3)] == [True, True, False]
    assert not policy.should_retry(1, PermanentError())


def test_a_dead_letter_keeps_the_original_record_and_says_why_and_whence() -> None:
    original = WireMessage(value=b"v", key=b"k", headers=(("ce_type", b"t"),))
    failed = datetime(2026, 1, 1, tzinfo=UTC)
    letter = deadletter.dead_letter(InboundRecord("orders", 2, 41, original),
                                    deadletter.Failure("handler-error", "boom", 5, failed, failed), "g.dlq", "g")
    assert letter.topic == "g.dlq"
    assert deadletter.original_message(letter.message) == original
    assert deadletter.dlq_headers(letter.message) == {
        "dlq.reason": "handler-error", "dlq.error": "boom", "dlq.attempts": "5",
        "dlq.first_failure": "2026-01-01T00:00:00+00:00", "dlq.last_failure": "2026-01-01T00:00:00+00:00",
        "dlq.source_topic": "orders", "dlq.source_partition": "2", "dlq.source_offset": "41",
        "dlq.consumer_group": "g",
    }


class Receipt(BaseModel):
    number: int


def test_the_effect_guard_acts_once_per_key_and_replays_the_recorded_result() -> None:
    journal = MemoryJournal()
    calls: list[str] = []

    def act() -> Receipt:
        calls.append("acted")
        return Receipt(number=len(calls))

    first = EffectGuard(lambda: journal).once("charge:1", Receipt, act)
    after_restart = EffectGuard(lambda: journal).once("charge:1", Receipt, act)  # same durable journal
    other = EffectGuard(lambda: journal).once("charge:2", Receipt, act)
    assert (first, after_restart, other) == (Receipt(number=1), Receipt(number=1), Receipt(number=2))
    assert calls == ["acted", "acted"]


def test_a_failed_effect_is_not_journaled() -> None:
    journal = MemoryJournal()

    def fail() -> Receipt:
        raise TimeoutError("provider down")

    with pytest.raises(TimeoutError):
        EffectGuard(lambda: journal).once("charge:1", Receipt, fail)
    assert journal.entries == {}


def test_missing_and_invalid_settings_name_the_variables_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    with pytest.raises(ConfigurationError, match="KAFKA_BOOTSTRAP_SERVERS: is required but not set"):
        load(KafkaSettings)
    monkeypatch.setenv("SERVICE_NAME", "payment-service")
    monkeypatch.setenv("HEALTH_PORT", "http")
    monkeypatch.setenv("AUTO_OFFSET_RESET", "newest")
    with pytest.raises(ConfigurationError) as error:
        load(RuntimeSettings)
    assert "HEALTH_PORT:" in str(error.value) and "AUTO_OFFSET_RESET:" in str(error.value)


def test_scram_over_tls_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9093")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    with pytest.raises(ConfigurationError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        load(KafkaSettings)
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "orders")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "secret")
    assert load(KafkaSettings).sasl_mechanism == "SCRAM-SHA-512"


def test_runtime_defaults_derive_from_the_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_NAME", "payment-service")
    monkeypatch.setenv("HOSTNAME", "payment-service-0")
    settings = load(RuntimeSettings)
    assert (settings.group, settings.dlq_topic, settings.journal_topic, settings.txn_id) == (
        "payment-service", "payment-service.dlq", "payment-service.effects", "payment-service-payment-service-0")
    assert (settings.auto_offset_reset, settings.health_port, settings.metrics_port) == ("earliest", 8080, 9090)


def test_recent_ids_forget_the_oldest_beyond_their_capacity() -> None:
    recent = RecentIds(capacity=3)
    for event_id in ("a", "b", "c", "a", "d"):
        recent.add(event_id)
    assert [i for i in "abcd" if i in recent] == ["a", "c", "d"] and len(recent) == 3  # "a" was seen again


def test_connecting_retries_until_it_succeeds_and_gives_up_at_the_deadline() -> None:
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise OSError("refused")
        return "connected"

    assert connect_with_backoff(flaky, (OSError,), 5.0, RuntimeError) == "connected" and len(attempts) == 3

    def refused() -> str:
        raise OSError("refused")

    started = time.monotonic()
    with pytest.raises(RuntimeError) as raised:
        connect_with_backoff(refused, (OSError,), 0.5, lambda error: RuntimeError(f"gave up: {error}"))
    assert str(raised.value) == "gave up: refused" and time.monotonic() - started < 1.5


def test_connecting_a_coroutine_backs_off_the_same_way() -> None:
    attempts: list[float] = []

    async def flaky(remaining_s: float) -> str:
        attempts.append(remaining_s)
        if len(attempts) < 2:
            raise OSError("refused")
        return "connected"

    assert asyncio.run(connect_with_backoff_async(flaky, (OSError,), 5.0, RuntimeError)) == "connected"
    assert 0 < attempts[1] < attempts[0] <= 5.0  # each attempt is told the time left
