"""provider/: the schema the SDK's component provider host derives from the facades' annotations,
which is what every other language (and `pulumi package add`) sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider

from infra import __version__
from provider.components import COMPONENTS, PACKAGE, _choice

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    provider = ComponentProvider(COMPONENTS, PACKAGE, None, __version__)
    parsed: dict[str, Any] = json.loads(provider.schema)
    return parsed


def test_the_main_components_are_in_the_schema(schema: dict[str, Any]) -> None:
    assert schema["name"] == "eventplatform" and schema["version"] == __version__
    assert set(schema["resources"]) == {f"eventplatform:index:{c}" for c in
                                        ("KafkaCluster", "KafkaTopic", "KafkaUser", "KafkaWorkload")}
    assert all(r["isComponent"] for r in schema["resources"].values())
    assert set(schema["types"]) == {f"eventplatform:index:{t}" for t in
                                    ("KafkaStorageArgs", "TopicAccessArgs", "KafkaWiringArgs", "AutoscalingArgs")}


def test_names_and_namespaces_may_come_from_other_resources_the_rest_is_known_at_declaration(
        schema: dict[str, Any]) -> None:
    """Plain inputs decide resource names and the wiring guardrails, so they must be known when the
    component is declared; namespaces, bootstrap servers and CA certificates may be outputs."""
    topic = schema["resources"]["eventplatform:index:KafkaTopic"]
    assert "plain" not in topic["inputProperties"]["namespace"]
    assert topic["inputProperties"]["topicName"]["plain"] is True
    assert set(topic["requiredInputs"]) == {"namespace", "clusterName", "topicName", "partitions", "replicas",
                                            "minInsyncReplicas"}
    wiring = schema["types"]["eventplatform:index:KafkaWiringArgs"]["properties"]
    assert {k for k, v in wiring.items() if not v.get("plain")} == {"bootstrapServers", "caCert"}
    workload = schema["resources"]["eventplatform:index:KafkaWorkload"]
    assert workload["inputProperties"]["kafka"]["$ref"] == "#/types/eventplatform:index:KafkaWiringArgs"
    assert set(workload["properties"]) == {"deploymentName", "consumerGroup"}
    assert set(schema["resources"]["eventplatform:index:KafkaUser"]["properties"]) == {"password", "secretName"}


def test_string_choices_are_checked_as_the_literals_of_the_python_args_are() -> None:
    assert _choice("consumer", ("producer", "consumer"), "role") == "consumer"
    with pytest.raises(ValueError, match="role must be one of producer, consumer; got 'worker'"):
        _choice("worker", ("producer", "consumer"), "role")


def test_the_plugin_runs_in_the_virtualenv_make_setup_creates() -> None:
    plugin = yaml.safe_load((REPO / "provider" / "PulumiPlugin.yaml").read_text())
    assert plugin["runtime"]["name"] == "python"
    assert (REPO / "provider" / plugin["runtime"]["options"]["virtualenv"]).resolve() == (REPO / ".venv").resolve()
    example = yaml.safe_load((REPO / "examples" / "yaml-consumer" / "Pulumi.yaml").read_text())
    assert (REPO / "examples" / "yaml-consumer" / example["packages"]["eventplatform"]).resolve() == REPO / "provider"
