"""What a protected platform (prod) refuses to destroy and leaves in the cluster: broker data,
the namespaces holding it and the CRDs whose deletion would delete it. dev guards nothing."""

from __future__ import annotations

import pulumi

from event_platform.infra.charts import keep_crds
from tests.unit.harness import Recorder

DATA_NAMESPACES = {"kafka", "rabbitmq", "nats"}
STATEFUL_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "RabbitmqCluster", "Stream"}


def guarded(recorder: Recorder) -> set[tuple[str, str]]:
    return {(r.type.split(":")[-1], r.object_name or r.name) for r in recorder
            if r.protect and r.retain_on_delete}


def test_prod_protects_and_retains_broker_data_and_the_namespaces_holding_it(prod: Recorder) -> None:
    namespaces = {r.object_name: r for r in prod.of_type("kubernetes:core/v1:Namespace")}
    assert {n for n, r in namespaces.items() if r.protect and r.retain_on_delete} == DATA_NAMESPACES
    for kind in STATEFUL_KINDS:
        objects = prod.custom(kind)
        assert objects, kind
        assert all(o.protect and o.retain_on_delete for o in objects), kind


def test_prod_retains_the_crds_its_broker_data_is_made_of(prod: Recorder) -> None:
    (strimzi_crds,) = [r for r in prod.of_type("kubernetes:yaml/v2:ConfigGroup") if r.name == "strimzi-crds"]
    assert strimzi_crds.retain_on_delete
    (rabbitmq,) = [r for r in prod.of_type("kubernetes:yaml/v2:ConfigFile") if r.name.endswith("cluster-operator")]
    assert rabbitmq.retain_on_delete


def test_dev_guards_nothing(dev: Recorder) -> None:
    assert guarded(dev) == set()
    assert [r.name for r in dev if r.retain_on_delete] == []


def test_keep_crds_retains_only_crds() -> None:
    crd_opts, deployment_opts = pulumi.ResourceOptions(), pulumi.ResourceOptions()
    keep_crds({"kind": "CustomResourceDefinition"}, crd_opts)
    keep_crds({"kind": "Deployment"}, deployment_opts)
    assert crd_opts.retain_on_delete is True
    assert deployment_opts.retain_on_delete is None
