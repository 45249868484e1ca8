"""The render checks catch a seeded broken manifest, a policy violation, a dangling reference and
a replacement of stateful objects, and pass a sound render."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from event_platform.infra import artifacts
from event_platform.policy import operator_crds, render
from event_platform.policy.check_render import main as check_render
from tests.unit.crds import mirror_root
from tests.unit.test_policy_rules import GOOD_DEPLOYMENT

NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}
DENY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "apps"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
ACCOUNT = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "payments", "namespace": "apps"}}
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "u", "namespace": "apps"}, "type": "Opaque"}
NODE_POOL = {"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaNodePool",
             "metadata": {"name": "brokers", "namespace": "apps", "labels": {"strimzi.io/cluster": "events"}},
             "spec": {"replicas": 3, "roles": ["broker"],
                      "storage": {"type": "jbod", "volumes": [{"id": 0, "type": "persistent-claim", "size": "10Gi"}]}}}
STATEFUL_SET = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "nats", "namespace": "apps"},
                "spec": {"serviceName": "nats", "selector": {"matchLabels": {"app": "nats"}},
                         "template": {"metadata": {"labels": {"app": "nats"}},
                                      "spec": {"containers": [{"name": "nats", "image": "nats:2.14.2"}]}},
                         "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                                   "spec": {"resources": {"requests": {"storage": "10Gi"}}}}]}}


def deployment() -> dict[str, Any]:
    good = copy.deepcopy(GOOD_DEPLOYMENT)
    good["spec"]["template"]["spec"]["serviceAccountName"] = "payments"
    return good


def write_render(folder: Path, manifests: list[dict[str, Any]]) -> Path:
    """A render tree as the Kubernetes provider writes it: CRDs first, then the rest."""
    crds = artifacts.chart_crd_documents(mirror_root() / "charts" / artifacts.STRIMZI.archive_name,
                                         "strimzi-kafka-operator/crds/045")
    (folder / "0-crd").mkdir(parents=True)
    (folder / "0-crd" / "kafkanodepools.yaml").write_text(crds[0])
    (folder / "1-manifest").mkdir()
    for index, manifest in enumerate(manifests):
        (folder / "1-manifest" / f"{index:03d}.yaml").write_text(yaml.safe_dump(manifest))
    return folder


def sound() -> list[dict[str, Any]]:
    return [NAMESPACE, DENY, ACCOUNT, SECRET, deployment(), NODE_POOL, STATEFUL_SET]


def test_a_sound_render_passes_every_check(tmp_path: Path) -> None:
    folder = write_render(tmp_path / "r", sound())
    objects = render.load(folder)
    assert len(objects) == 8
    assert render.schema_findings(objects) == []
    assert render.reference_findings(objects) == []
    assert render.policy_findings(objects, "dev") == []
    assert check_render(["check", str(folder), "--environment", "dev"]) == 0


def test_a_broken_core_manifest_is_reported_with_file_object_and_path(tmp_path: Path) -> None:
    broken = deployment()
    broken["spec"]["replicas"] = "two"
    objects = render.load(write_render(tmp_path / "r", [NAMESPACE, DENY, ACCOUNT, SECRET, broken]))
    findings = [str(f) for f in render.schema_findings(objects)]
    assert findings == [
        "1-manifest/004.yaml: Deployment apps/payments at spec.replicas: 'two' is not of type 'integer', 'null'"
    ]


def test_a_broken_custom_resource_is_reported_against_its_crd(tmp_path: Path) -> None:
    pool = copy.deepcopy(NODE_POOL)
    pool["spec"]["roles"] = ["zookeeper"]
    objects = render.load(write_render(tmp_path / "r", [pool]))
    findings = render.schema_findings(objects)
    assert len(findings) == 1 and findings[0].path == "spec.roles.0" and "zookeeper" in findings[0].message


def test_a_seeded_policy_violation_is_caught(tmp_path: Path) -> None:
    latest = deployment()
    latest["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/payments:latest"
    folder = write_render(tmp_path / "r", [*sound()[:4], latest])
    findings = [str(f) for f in render.policy_findings(render.load(folder), "dev")]
    assert any("[pinned-images]" in f and "payments:latest" in f for f in findings)
    assert check_render(["check", str(folder), "--environment", "dev"]) == 1


def test_prod_is_stricter_than_dev(tmp_path: Path) -> None:
    single = deployment()
    single["spec"]["replicas"] = 1
    objects = render.load(write_render(tmp_path / "r", [*sound()[:4], single]))
    assert render.policy_findings(objects, "dev") == []
    assert any("at least 2 replicas" in str(f) for f in render.policy_findings(objects, "prod"))


def test_dangling_references_are_caught(tmp_path: Path) -> None:
    scaled = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "x", "namespace": "apps"},
              "spec": {"scaleTargetRef": {"name": "missing"}}}
    objects = render.load(write_render(tmp_path / "r", [NAMESPACE, deployment(), scaled]))
    findings = {str(f) for f in render.reference_findings(objects)}
    assert any("ServiceAccount apps/payments is not in the render" in f for f in findings)
    assert any("Secret apps/u is not in the render" in f for f in findings)
    assert any("Deployment apps/missing is not in the render" in f for f in findings)


@pytest.mark.parametrize(("change", "field"), [
    (lambda objs: objs.remove(NODE_POOL), "metadata.name"),
    (lambda objs: objs[-1]["spec"].update(serviceName="nats-headless"), "spec.serviceName"),
    (lambda objs: objs[-1]["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"].update(storage="20Gi"),
     "spec.volumeClaimTemplates"),
])
def test_the_gate_names_each_replaced_or_deleted_stateful_object(tmp_path: Path, change: Any, field: str) -> None:
    base = write_render(tmp_path / "base", sound())
    head_objects = copy.deepcopy(sound())
    head_objects[-1] = copy.deepcopy(STATEFUL_SET)
    change(head_objects)
    head = write_render(tmp_path / "head", head_objects)
    findings = render.replacement_findings(render.load(base), render.load(head))
    assert [f.path for f in findings] == [field]
    assert check_render(["gate", str(base), str(head)]) == 1


def test_the_gate_passes_changes_that_update_in_place(tmp_path: Path) -> None:
    base = write_render(tmp_path / "base", sound())
    head_objects = copy.deepcopy(sound())
    head_objects[5]["spec"]["replicas"] = 5
    head = write_render(tmp_path / "head", head_objects)
    assert render.replacement_findings(render.load(base), render.load(head)) == []


@pytest.mark.parametrize("kafka_source_enabled", [True, False])
def test_a_kafka_source_is_checked_against_the_crd_the_operator_installs_with_the_kafka_source(
        tmp_path: Path, kafka_source_enabled: bool) -> None:
    eventing = {"apiVersion": "operator.knative.dev/v1beta1", "kind": "KnativeEventing",
                "metadata": {"name": "knative-eventing", "namespace": "knative-eventing"},
                "spec": {"version": "1.23.0", "source": {"kafka": {"enabled": kafka_source_enabled}}}}
    source = {"apiVersion": "sources.knative.dev/v1", "kind": "KafkaSource",
              "metadata": {"name": "orders", "namespace": "apps"},
              "spec": {"bootstrapServers": ["events-kafka-bootstrap.kafka.svc:9092"], "topics": ["orders"],
                       "consumerGroup": "g", "sink": {"ref": {"apiVersion": "eventing.knative.dev/v1",
                                                              "kind": "Broker", "name": "default"}}}}
    objects = render.load(write_render(tmp_path / "r", [eventing, source]))
    findings = render.schema_findings(
        objects, runtime_crds=operator_crds.runtime_crds(objects, artifacts.ArtifactSource(mirror_root())))
    kafka_source_findings = [f for f in findings if "KafkaSource" in str(f)]
    if kafka_source_enabled:
        assert kafka_source_findings == []
    else:
        assert any("no CustomResourceDefinition" in str(f) for f in kafka_source_findings)
