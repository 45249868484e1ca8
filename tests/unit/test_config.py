"""The stack configuration model: presets, overrides, and errors that say what to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from event_platform.infra.config import ConfigError, build_config, json_schema
from tests.unit.harness import REPO, run_stack


def test_dev_preset_is_a_single_small_destroyable_node() -> None:
    config = build_config("dev", {})
    assert config.kafka.dual_role and config.kafka.brokers == 1
    assert (config.kafka.replication_factor, config.kafka.min_insync_replicas) == (1, 1)
    assert config.rabbitmq.replicas == 1 and config.nats.replicas == 1
    assert config.protect_stateful is False
    assert config.kafka.storage.delete_claim is True


def test_prod_preset_is_replicated_and_protected() -> None:
    config = build_config("prod", {})
    assert not config.kafka.dual_role
    assert (config.kafka.controllers, config.kafka.brokers) == (3, 3)
    assert (config.kafka.replication_factor, config.kafka.min_insync_replicas) == (3, 2)
    assert config.kafka.authentication == "scram-sha-512" and config.kafka.tls
    assert config.rabbitmq.replicas == 3 and config.nats.replicas == 3
    assert config.kafka.storage.type == "persistent" and not config.kafka.storage.delete_claim
    assert config.protect_stateful is True


def test_overrides_change_only_what_they_name() -> None:
    config = build_config("prod", {"kafka": {"storage": {"size": "500Gi"}}})
    assert config.kafka.storage.size == "500Gi"
    assert config.kafka.storage.type == "persistent"
    assert config.kafka.brokers == 3


def test_every_add_on_can_be_switched_off() -> None:
    off = {name: {"enabled": False}
           for name in ("kafka", "rabbitmq", "nats", "keda", "knative", "observability", "workloads")}
    config = build_config("dev", off)
    assert not any(getattr(config, name).enabled for name in off)


def test_stack_files_stay_short() -> None:
    for stack in ("dev", "prod"):
        lines = [line for line in (REPO / f"Pulumi.{stack}.yaml").read_text().splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
        assert len(lines) <= 15, f"Pulumi.{stack}.yaml should carry overrides only"


def test_a_workload_on_a_switched_off_broker_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"services.2 \(payment-service\): its broker kafka is switched off"):
        build_config("dev", {"kafka": {"enabled": False}})


def test_a_stack_file_scaling_past_the_partitions_fails_naming_both_numbers() -> None:
    services = build_config("prod", {}).model_dump()["workloads"]["services"]
    services[2]["autoscaling"]["max_replicas"] = 12
    with pytest.raises(ConfigError) as raised:
        build_config("prod", {"workloads": {"services": services}})
    assert ("event-platform:platform.workloads: services.2 (payment-service): maxReplicaCount 12 exceeds "
            "the 6 partitions of its topic") in str(raised.value)


BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("dev", {"kafka": {"brokerz": 3}}, "event-platform:platform.kafka.brokerz: Extra inputs are not permitted"),
    ("prod", {"kafka": {"replication_factor": 5}},
     "event-platform:platform.kafka.replication_factor: replication_factor 5 exceeds brokers 3"),
    ("prod", {"kafka": {"min_insync_replicas": 3}},
     "kafka.min_insync_replicas: min_insync_replicas 3 must be below replication_factor 3"),
    ("prod", {"kafka": {"controllers": 4}}, "kafka.controllers: controllers 4 must be odd"),
    ("dev", {"kafka": {"brokers": 0}},
     "event-platform:platform.kafka.brokers: Input should be greater than or equal to 1"),
    ("dev", {"kafka": {"storage": {"size": "lots"}}}, "event-platform:platform.kafka.storage.size"),
    ("dev", {"kafka": {"topics": [{"name": "Orders!", "partitions": 3}]}}, "kafka.topics.0.name"),
    ("dev", {"kafka": {"topics": [{"name": "a", "partitions": 1, "replicas": 2}]}},
     "topic 'a' replicas 2 exceeds brokers 1"),
    ("prod", {"rabbitmq": {"replicas": 2}}, "replicas 2 must be odd"),
    ("dev", {"rabbitmq": {"topics": [{"name": "q", "delivery_limit": 0}]}}, "rabbitmq.topics.0.delivery_limit"),
    ("dev", {"nats": {"streams": [{"name": "s", "subjects": ["s"], "max_deliver": 1}]}},
     "nats.streams.0.max_deliver: Input should be greater than or equal to 2"),
    ("dev", {"workloads": {"services": [{"name": "p", "module": "m", "broker": "rabbitmq", "consumes": ["bills"]}]}},
     "services.0 (p): rabbitmq topics ['bills'] are not declared; add them to rabbitmq.topics (e.g. - name: bills)"),
    ("dev", {"workloads": {"services": [{"name": "p", "module": "m", "broker": "nats", "produces": ["bills.v1"]}]}},
     "services.0 (p): nats has no stream for topics ['bills.v1']; add them to nats.streams "
     "(e.g. - name: bills_v1, subjects: [bills.v1])"),
    ("dev", {"rabbitmq": {"storage": {"type": "ephemeral"}}}, "storage.type must be persistent"),
    ("dev", {"nats": {"streams": [{"name": "S", "subjects": ["s.>"], "replicas": 3}]}},
     "stream 'S' replicas 3 exceeds NATS servers 1"),
    ("dev", {"target": "laptop"}, "event-platform:platform.target: Input should be 'cluster', 'local' or 'render'"),
    ("dev", ["not", "a", "mapping"], "event-platform:platform: expected a mapping"),
    ("staging", {}, "event-platform:environment: 'staging' is not a known environment"),
]


@pytest.mark.parametrize(("environment", "overrides", "expected"), BAD_INPUTS)
def test_bad_input_is_rejected_with_key_and_fix(environment: str, overrides: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        build_config(environment, overrides)
    message = str(raised.value)
    assert expected in message
    assert "fix:" in message


def test_error_shows_the_offending_value() -> None:
    with pytest.raises(ConfigError, match=r'\(got "lots"\)'):
        build_config("dev", {"kafka": {"storage": {"size": "lots"}}})


def test_bad_stack_config_stops_the_program_before_any_resource() -> None:
    with pytest.raises(pulumi.RunError) as raised:
        run_stack("dev", {"platform": {"kafka": {"partitions": 3}}})
    assert "event-platform:platform.kafka.partitions" in str(raised.value)
    assert "Traceback" not in str(raised.value)


def test_unknown_top_level_key_is_rejected() -> None:
    with pytest.raises(pulumi.RunError, match=r"unknown configuration key.*event-platform:kafka"):
        run_stack("dev", {"kafka": {"brokers": 3}})


def test_committed_json_schema_matches_the_model() -> None:
    committed = json.loads(Path(REPO / "config.schema.json").read_text())
    assert committed == json_schema(), "run `make schema` and commit config.schema.json"
