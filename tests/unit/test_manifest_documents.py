"""The RabbitMQ topology operator's manifest minus the Namespace the cluster operator's owns."""

from __future__ import annotations

from pathlib import Path

from event_platform.infra import artifacts

STREAM = """---
# a comment-only document
---
apiVersion: v1
kind: Namespace
metadata:
  name: rabbitmq-system
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
spec:
  names:
    kind: Namespace-like
---
apiVersion: apps/v1
kind: Deployment
"""


def test_split_drops_empty_and_comment_only_documents() -> None:
    documents = artifacts.split_documents(STREAM)
    assert [artifacts.is_namespace(d) for d in documents] == [True, False, False]


def test_manifest_without_namespace_keeps_every_other_document(tmp_path: Path) -> None:
    pin = artifacts.RABBITMQ_TOPOLOGY_OPERATOR
    (tmp_path / pin.mirror_path).parent.mkdir(parents=True)
    (tmp_path / pin.mirror_path).write_text(STREAM)
    source = artifacts.ArtifactSource.from_settings(str(tmp_path))
    kept = artifacts.split_documents(source.manifest_without_namespace(pin)["yaml"])
    assert len(kept) == 2
    assert not any(artifacts.is_namespace(d) for d in kept)
    assert "kind: Deployment" in kept[1]
