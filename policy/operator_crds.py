"""CRDs that an operator in the render installs at run time, not the render itself.

The Knative Operator applies Eventing's and Serving's CRDs when it reconciles a KnativeEventing or
KnativeServing resource, so a render holds Brokers, Triggers and PingSources whose CRDs it does
not contain. Their schemas are the pinned release manifests the operator bundles; loading them
keeps those custom resources validated instead of unchecked.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

from event_platform.infra import artifacts
from event_platform.policy.render import Rendered, load_text

# (apiVersion, kind) of an operator's resource → the CRD manifest it installs.
INSTALLED_BY = {
    ("operator.knative.dev/v1beta1", "KnativeEventing"): artifacts.KNATIVE_EVENTING_CRDS,
    ("operator.knative.dev/v1beta1", "KnativeServing"): artifacts.KNATIVE_SERVING_CRDS,
}


class OperatorCrdsUnavailable(Exception):
    """A runtime CRD manifest could be read neither from the mirror nor upstream."""


def runtime_crds(objects: list[Rendered], source: artifacts.ArtifactSource) -> list[Rendered]:
    """The CRDs the render's operator resources will install, as if they were rendered."""
    wanted = []
    for item in objects:
        pin = INSTALLED_BY.get((str(item.obj.get("apiVersion")), str(item.obj.get("kind"))))
        pins = [pin, *_kafka_control_plane(item)] if pin is not None else []
        wanted += [p for p in pins if p not in wanted]
    found = []
    for pin in wanted:
        location = source.manifest(pin)
        found += [doc for doc in load_text(_read(location), f"<{pin.component} {pin.version}>")
                  if doc.obj.get("kind") == "CustomResourceDefinition"]
    return found


def _kafka_control_plane(item: Rendered) -> list[artifacts.ManifestPin]:
    """A KnativeEventing with the Kafka source switched on also gets the KafkaSource CRD."""
    if item.obj.get("kind") != "KnativeEventing":
        return []
    kafka = ((item.obj.get("spec") or {}).get("source") or {}).get("kafka") or {}
    return [artifacts.KNATIVE_KAFKA_CONTROLLER_CRDS] if kafka.get("enabled") else []


def _read(location: str) -> str:
    if "://" not in location:
        return Path(location).read_text()
    try:
        with urllib.request.urlopen(location, timeout=30) as response:
            return str(response.read().decode())
    except OSError as exc:
        raise OperatorCrdsUnavailable(
            f"cannot read {location} ({exc}): set EVENTPLATFORM_MIRROR to a mirror holding it") from exc
