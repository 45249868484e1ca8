"""The pinned upstream CRD schemas, read from the artifact mirror (never copied into the repo)."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

import yaml

from event_platform.infra import artifacts

REPO = Path(__file__).resolve().parents[2]

# (archive, folder inside it) holding CRDs; Helm-templated CRD files have their template lines
# dropped, which leaves the schema intact for these charts.
CHART_CRD_FOLDERS = [
    (artifacts.STRIMZI, "strimzi-kafka-operator/crds/"),
    (artifacts.KEDA, "keda/templates/crds/"),
    (artifacts.NACK, "nack/crds/"),
    (artifacts.KUBE_PROMETHEUS_STACK, "kube-prometheus-stack/charts/crds/crds/"),
    (artifacts.KNATIVE_OPERATOR, "knative-operator/templates/crds/"),
    (artifacts.CERT_MANAGER, "cert-manager/templates/crd-"),
]
MANIFEST_FILES = [artifacts.RABBITMQ_CLUSTER_OPERATOR.mirror_path, artifacts.RABBITMQ_TOPOLOGY_OPERATOR.mirror_path]


# Read once at import: tests hide the variable from the programs they run (tests/unit/conftest.py).
MIRROR_AT_START = os.environ.get(artifacts.MIRROR_ENV)


def mirror_root() -> Path:
    root = Path(MIRROR_AT_START or REPO.parent / "shared" / "mirror")
    if not (root / "charts").is_dir():
        raise RuntimeError(
            f"the artifact mirror is not at {root}: the CRD schema tests need the pinned upstream "
            f"CRDs; set {artifacts.MIRROR_ENV} to the mirror folder (CI has it at ../shared/mirror)"
        )
    return root


def _strip_templates(text: str) -> str:
    """Drop whole-line template actions; inline ones (labels, names) become a plain word."""
    lines = (line for line in text.splitlines() if not re.match(r"^\s*\{\{.*\}\}\s*$", line))
    return "\n".join(re.sub(r"\{\{.*?\}\}", "templated", line) for line in lines)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader that reads a bare `=` (YAML 1.1's "value" tag, used in some enums) as text."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def _documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.load_all(_strip_templates(text), Loader=_Loader) if isinstance(d, dict)]


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → openAPIV3Schema for every served version of every pinned CRD."""
    root = mirror_root()
    texts: list[str] = []
    for pin, folder in CHART_CRD_FOLDERS:
        texts += artifacts.chart_crd_documents(root / "charts" / pin.archive_name, folder)
    texts += [(root / path).read_text() for path in MANIFEST_FILES]
    knative = root / "manifests" / "knative"
    texts += [p.read_text() for p in sorted(knative.glob("*/*.yaml"))]
    schemas = {}
    for text in texts:
        for doc in _documents(text):
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if version.get("served") and "schema" in version:
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    schemas[key] = version["schema"]["openAPIV3Schema"]
    return schemas
