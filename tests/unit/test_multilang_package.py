"""provider/: the schema the SDK's component provider host derives from the facades' annotations,
which is what every other language (and `pulumi package add`) sees."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider

from infra import __version__
from provider.components import COMPONENTS, PACKAGE, _choice, _require_known

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


def test_an_output_where_a_known_value_is_needed_is_refused_by_name() -> None:
    """Another resource's output (a StackReference's too) reaches the facade as an Output."""
    # An Output outside a running program would take the event loop the mock-monitor tests share;
    # the check only asks what the value is.
    output = object.__new__(pulumi.Output)
    _require_known({"namespace": output, "kafka": {"bootstrap_servers": output, "consumes": ["a"]}},
                   {"namespace", "kafka.bootstrap_servers"})
    with pytest.raises(ValueError, match=r"^kafka\.cluster_name must be known when the component is declared"):
        _require_known({"kafka": {"cluster_name": output}}, {"namespace"})
    with pytest.raises(ValueError, match=r"^kafka\.consumes must be known"):
        _require_known({"kafka": {"consumes": ["a", output]}}, {"namespace"})


def test_the_plugin_runs_in_the_virtualenv_make_setup_creates() -> None:
    plugin = yaml.safe_load((REPO / "provider" / "PulumiPlugin.yaml").read_text())
    assert plugin["runtime"]["name"] == "python"
    assert (REPO / "provider" / plugin["runtime"]["options"]["virtualenv"]).resolve() == (REPO / ".venv").resolve()
    example = yaml.safe_load((REPO / "examples" / "yaml-consumer" / "Pulumi.yaml").read_text())
    assert (REPO / "examples" / "yaml-consumer" / example["packages"]["eventplatform"]).resolve() == REPO / "provider"


def yaml_programs() -> list[tuple[str, dict[str, Any]]]:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### From YAML and other languages"):readme.index("#### What the multi-language")]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, re.S)
    example = (REPO / "examples" / "yaml-consumer" / "Pulumi.yaml").read_text()
    return [("README", yaml.safe_load(block)), ("examples/yaml-consumer", yaml.safe_load(example))]


@pytest.mark.parametrize(("where", "program"), yaml_programs(), ids=["readme", "example"])
def test_the_yaml_programs_use_the_schemas_names(schema: dict[str, Any], where: str, program: dict[str, Any]) -> None:
    used = {name: r for name, r in program["resources"].items() if r["type"].startswith("eventplatform:")}
    assert {r["type"] for r in used.values()} >= {"eventplatform:index:KafkaTopic", "eventplatform:index:KafkaWorkload"}

    def check(properties: dict[str, Any], declared: dict[str, Any], required: list[str], path: str) -> None:
        assert set(properties) <= set(declared), f"{where} {path}: unknown {set(properties) - set(declared)}"
        assert set(required) <= set(properties), f"{where} {path}: missing {set(required) - set(properties)}"
        for key, value in properties.items():
            ref = declared[key].get("$ref", "")
            if ref.startswith("#/types/"):
                nested = schema["types"][ref.removeprefix("#/types/")]
                check(value, nested["properties"], nested.get("required", []), f"{path}.{key}")

    for name, resource in used.items():
        declared = schema["resources"][resource["type"]]
        check(resource["properties"], declared["inputProperties"], declared["requiredInputs"], name)
