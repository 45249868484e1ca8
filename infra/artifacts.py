"""Every chart, release manifest and image the platform deploys, pinned here and only here.

Upstream locations are the default. Air-gapped users and CI point ``mirror`` (stack config
``event-platform:platform.artifacts.mirror`` or the ``EVENTPLATFORM_MIRROR`` environment
variable) at a folder laid out like an offline mirror:

    charts/<name>-<version>.tgz             Helm chart archives (no leading ``v`` in the file name)
    manifests/rabbitmq/<operator>-<ver>.yaml RabbitMQ operator release manifests
    manifests/knative/<version>/<file>       Knative release manifests

Nothing from a mirror is ever copied into this repository; the program reads it in place.
"""

from __future__ import annotations

import io
import os
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIRROR_ENV = "EVENTPLATFORM_MIRROR"


@dataclass(frozen=True)
class ChartPin:
    """A Helm chart at an exact version and where upstream publishes it."""

    name: str
    version: str
    repo: str | None = None  # classic Helm repository URL
    oci: str | None = None  # OCI reference without tag

    @property
    def archive_name(self) -> str:
        # Mirror archives drop the leading "v" some upstreams put in chart versions.
        return f"{self.name}-{self.version.removeprefix('v')}.tgz"


@dataclass(frozen=True)
class ManifestPin:
    """A release manifest (plain YAML) at an exact version."""

    component: str
    version: str
    url: str
    mirror_path: str  # relative to the mirror root


# --- Helm charts -----------------------------------------------------------------------
STRIMZI = ChartPin("strimzi-kafka-operator", "1.2.0", oci="oci://quay.io/strimzi-helm/strimzi-kafka-operator")
KEDA = ChartPin("keda", "2.20.2", repo="https://kedacore.github.io/charts")
NATS = ChartPin("nats", "2.14.2", repo="https://nats-io.github.io/k8s/helm/charts/")
NACK = ChartPin("nack", "0.34.0", repo="https://nats-io.github.io/k8s/helm/charts/")
CERT_MANAGER = ChartPin("cert-manager", "v1.21.1", repo="https://charts.jetstack.io")
KUBE_PROMETHEUS_STACK = ChartPin(
    "kube-prometheus-stack", "88.5.3", repo="https://prometheus-community.github.io/helm-charts"
)
KNATIVE_OPERATOR = ChartPin("knative-operator", "1.23.0", repo="https://knative.github.io/operator")

# --- Release manifests -----------------------------------------------------------------
RABBITMQ_CLUSTER_OPERATOR = ManifestPin(
    "rabbitmq-cluster-operator",
    "2.22.3",
    url="https://github.com/rabbitmq/cluster-operator/releases/download/v2.22.3/cluster-operator.yml",
    mirror_path="manifests/rabbitmq/cluster-operator-2.22.3.yaml",
)
RABBITMQ_TOPOLOGY_OPERATOR = ManifestPin(
    "rabbitmq-messaging-topology-operator",
    "1.20.1",
    url=(
        "https://github.com/rabbitmq/messaging-topology-operator/releases/download/v1.20.1/"
        "messaging-topology-operator-with-certmanager.yaml"
    ),
    mirror_path="manifests/rabbitmq/messaging-topology-operator-1.20.1.yaml",
)
# Knative Serving/Eventing come from the operator image's bundled release manifests (spec.version
# of the KnativeServing/KnativeEventing resources); only the Kafka Broker data plane is applied
# from its release asset, which the offline mirror cannot provide (it is a ko-built asset).
KNATIVE_VERSION = "1.23.0"
KNATIVE_KAFKA_BROKER_DATA_PLANE = ManifestPin(
    "knative-eventing-kafka-broker",
    KNATIVE_VERSION,
    url=(
        "https://github.com/knative-extensions/eventing-kafka-broker/releases/download/knative-v1.23.0/"
        "eventing-kafka-broker.yaml"
    ),
    mirror_path="manifests/knative/1.23.0/eventing-kafka-broker.yaml",
)
# The CRDs the Knative Operator installs at run time for KnativeEventing/KnativeServing 1.23.0
# (the render checks validate Brokers, Triggers, sources and Services against them).
KNATIVE_EVENTING_CRDS = ManifestPin(
    "knative-eventing-crds",
    KNATIVE_VERSION,
    url="https://github.com/knative/eventing/releases/download/knative-v1.23.0/eventing-crds.yaml",
    mirror_path="manifests/knative/1.23.0/1-eventing-crds.yaml",
)
KNATIVE_SERVING_CRDS = ManifestPin(
    "knative-serving-crds",
    KNATIVE_VERSION,
    url="https://github.com/knative/serving/releases/download/knative-v1.23.0/serving-crds.yaml",
    mirror_path="manifests/knative/1.23.0/1-serving-crds.yaml",
)
# With `source.kafka` enabled, the operator also installs the Kafka control plane, whose manifest
# holds the KafkaSource (and KafkaSink, KafkaChannel) CRDs.
KNATIVE_KAFKA_CONTROLLER_CRDS = ManifestPin(
    "knative-eventing-kafka-controller",
    KNATIVE_VERSION,
    url=(
        "https://github.com/knative-extensions/eventing-kafka-broker/releases/download/knative-v1.23.0/"
        "eventing-kafka-controller.yaml"
    ),
    mirror_path="manifests/knative/1.23.0/eventing-kafka-controller.yaml",
)
# Strimzi publishes its CRDs as a separate release asset; the chart's crds/ folder holds the
# same definitions, which is what the mirror offers.
STRIMZI_CRDS_URL = "https://github.com/strimzi/strimzi-kafka-operator/releases/download/1.2.0/strimzi-crds-1.2.0.yaml"

# --- Images and application versions ----------------------------------------------------
KAFKA_VERSION = "4.3.1"
KAFKA_METADATA_VERSION = "4.3-IV0"
RABBITMQ_IMAGE = "rabbitmq:4.2.6-management"
NATS_SERVER_VERSION = "2.14.2"
# The workloads' own image, built from apps/Dockerfile (README "Workloads"); stacks that push it
# elsewhere set workloads.image.
APPS_IMAGE = "ghcr.io/event-platform/event-platform-apps:0.1.0"
# kube-prometheus-stack 88.5.3 vendors the grafana 12.11.1 chart, whose appVersion this is; stated
# here so a chart bump cannot move Grafana's major version unnoticed.
GRAFANA_VERSION = "13.2.0"


class ArtifactError(Exception):
    """An artifact is not where the configured source says it is."""


@dataclass(frozen=True)
class ArtifactSource:
    """Resolves pinned artifacts to upstream locations or to a local mirror folder."""

    mirror: Path | None = None

    @classmethod
    def from_settings(cls, mirror: str | None) -> ArtifactSource:
        chosen = os.environ.get(MIRROR_ENV) or mirror
        if not chosen:
            return cls(None)
        path = Path(chosen).expanduser().resolve()
        if not path.is_dir():
            raise ArtifactError(
                f"artifact mirror {path} does not exist: set {MIRROR_ENV} or "
                "platform.artifacts.mirror to a folder laid out like shared/mirror, or unset it "
                "to use upstream locations"
            )
        return cls(path)

    def _mirror_file(self, relative: str) -> Path:
        assert self.mirror is not None
        path = self.mirror / relative
        if not path.is_file():
            raise ArtifactError(f"{relative} is missing from the artifact mirror {self.mirror}")
        return path

    def chart_location(self, pin: ChartPin) -> dict[str, str]:
        """Where the chart comes from: ``{"path"}`` (a mirror archive) or ``{"chart", "version", "repo"}``."""
        if self.mirror is not None:
            return {"path": str(self._mirror_file(f"charts/{pin.archive_name}"))}
        if pin.oci:
            return {"chart": pin.oci, "version": pin.version}
        assert pin.repo is not None
        return {"chart": pin.name, "version": pin.version, "repo": pin.repo}

    def has_manifest(self, pin: ManifestPin) -> bool:
        """False when the configured mirror lacks the manifest (upstream always has it)."""
        return self.mirror is None or (self.mirror / pin.mirror_path).is_file()

    def manifest(self, pin: ManifestPin) -> str:
        """A file path or URL that ``yaml.v2.ConfigFile`` can read."""
        if self.mirror is not None:
            return str(self._mirror_file(pin.mirror_path))
        return pin.url

    def manifest_without_namespace(self, pin: ManifestPin) -> dict[str, Any]:
        """Keyword arguments for ``yaml.v2.ConfigGroup``: the manifest minus its Namespace object,
        for a second manifest that declares the same namespace as the first (creating it twice
        fails: "namespaces ... already exists"; owning it twice lets either delete it)."""
        if self.mirror is not None:
            text = self._mirror_file(pin.mirror_path).read_text(encoding="utf-8")
        else:
            text = fetch_text(pin.url)
        return {"yaml": "\n---\n".join(d for d in split_documents(text) if not is_namespace(d))}

    def strimzi_crds(self) -> dict[str, Any]:
        """Keyword arguments for ``yaml.v2.ConfigGroup`` holding Strimzi's CRDs."""
        if self.mirror is None:
            text = fetch_text(STRIMZI_CRDS_URL)
        else:
            archive = self._mirror_file(f"charts/{STRIMZI.archive_name}")
            text = "\n---\n".join(chart_crd_documents(archive, f"{STRIMZI.name}/crds/"))
        return {"yaml": without_empty_properties(text)}


def without_empty_properties(text: str) -> str:
    """Strimzi's Kafka CRD declares an empty ``properties: {}`` that the API server drops when it
    stores the CRD: left in, every preview after ``up`` wanted to update kafkas.kafka.strimzi.io.
    Dropping it changes no meaning (an object schema with no properties listed)."""
    return "\n".join(line for line in text.splitlines() if line.strip() != "properties: {}")


def fetch_text(url: str) -> str:
    """A pinned upstream manifest, downloaded while the program runs (as the provider would)."""
    with urllib.request.urlopen(url, timeout=60) as response:
        text: str = response.read().decode("utf-8")
    return text


def split_documents(text: str) -> list[str]:
    """The non-empty documents of a YAML stream (separated by lines that are exactly ``---``)."""
    documents: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.rstrip() == "---":
            documents.append("\n".join(current))
            current = []
        else:
            current.append(line)
    documents.append("\n".join(current))
    return [d for d in documents if d.strip() and not all(ln.lstrip().startswith("#") or not ln.strip()
                                                          for ln in d.splitlines())]


def is_namespace(document: str) -> bool:
    return any(line.rstrip() == "kind: Namespace" for line in document.splitlines())


def chart_crd_documents(archive: Path, folder: str) -> list[str]:
    """The YAML texts under ``folder`` inside a chart archive, in file-name order."""
    with tarfile.open(archive) as tar:
        members = sorted(
            (m for m in tar.getmembers() if m.isfile() and m.name.startswith(folder)),
            key=lambda m: m.name,
        )
        texts = []
        for member in members:
            extracted = tar.extractfile(member)
            assert extracted is not None
            texts.append(io.TextIOWrapper(extracted, encoding="utf-8").read())
    return texts
