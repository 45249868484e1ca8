"""Checks over a rendered manifest tree (`make render`): schema validity, references, policies,
and the replacement gate between two renders.

A render folder holds `0-crd/*.yaml` (CustomResourceDefinitions) and `1-manifest/*.yaml`
(everything else), as pulumi-kubernetes writes them with `renderYamlToDirectory`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from event_platform.policy import rules

KUBERNETES_VERSION = "1.36.0"  # the cluster version the platform targets (Knative 1.23 needs >= 1.34)


@dataclass(frozen=True)
class Rendered:
    file: str
    obj: dict[str, Any]

    @property
    def identity(self) -> tuple[str, str, str]:
        meta = self.obj.get("metadata") or {}
        return (str(self.obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))

    def __str__(self) -> str:
        kind, namespace, name = self.identity
        return f"{self.file}: {kind} {namespace + '/' if namespace else ''}{name}"


@dataclass(frozen=True)
class Finding:
    where: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.where} at {self.path or '<root>'}: {self.message}"


class _ManifestLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """YAML as Kubernetes reads it: a bare ``=`` is the string "=", not YAML 1.1's value tag
    (CRDs list operators such as ``=`` and ``!=`` in enums), and parsing is libyaml's."""


_ManifestLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(folder: Path) -> list[Rendered]:
    """Every object of a render, in a stable order (folder, file name, position)."""
    found = []
    for path in sorted(folder.rglob("*.yaml")):
        found += load_text(path.read_text(), str(path.relative_to(folder)))
    return found


def load_text(text: str, where: str) -> list[Rendered]:
    """The Kubernetes objects of one multi-document YAML text."""
    docs = yaml.load_all(text, Loader=_ManifestLoader)
    return [Rendered(where, doc) for doc in docs if isinstance(doc, dict) and doc.get("kind")]


def _crd_schemas(objects: Iterable[Rendered]) -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for item in objects:
        if item.obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = item.obj["spec"]
        for version in spec.get("versions", []):
            if version.get("served") and "schema" in version:
                schemas[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = version["schema"][
                    "openAPIV3Schema"
                ]
    return schemas


def _openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI v3 (structural, as the API server reads it) → JSON Schema for validation."""
    if isinstance(node, list):
        return [_openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _openapi_to_json_schema(value) for key, value in node.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.get("type") == "object" and "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


def custom_resource_errors(api_version: str, kind: str, body: dict[str, Any],
                           schemas: dict[tuple[str, str], dict[str, Any]]) -> list[tuple[str, str]]:
    """(JSON path, message) for each way ``body`` breaks its CRD's schema."""
    schema = schemas.get((api_version, kind))
    if schema is None:
        return [("", f"no CustomResourceDefinition in the render serves {api_version} {kind}")]
    converted = copy.deepcopy(_openapi_to_json_schema(schema))
    converted.get("properties", {}).pop("metadata", None)
    body = {k: v for k, v in body.items() if k not in ("apiVersion", "kind", "metadata")}
    return [(".".join(str(p) for p in e.absolute_path), e.message)
            for e in jsonschema.Draft7Validator(converted).iter_errors(body)]


def schema_findings(objects: list[Rendered], k8s_version: str = KUBERNETES_VERSION,
                    runtime_crds: list[Rendered] | None = None) -> list[Finding]:
    """Core kinds against Kubernetes' schema; custom resources against the CRDs in the render or
    in ``runtime_crds`` (those an operator of the render installs when it runs)."""
    schemas = _crd_schemas([*objects, *(runtime_crds or [])])
    findings = []
    for item in objects:
        api_version = str(item.obj.get("apiVersion", ""))
        group = api_version.split("/")[0] if "/" in api_version else ""
        core = not group or group.endswith(".k8s.io") or "." not in group
        if core:
            try:
                kubernetes_validate.validate(item.obj, k8s_version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                findings.append(Finding(str(item), ".".join(str(p) for p in exc.path), exc.message))
            except kubernetes_validate.SchemaNotFoundError:
                findings.append(Finding(str(item), "", f"{api_version} {item.obj['kind']} is not a kind of "
                                                       f"Kubernetes {k8s_version}"))
        else:
            for path, message in custom_resource_errors(api_version, str(item.obj["kind"]), item.obj, schemas):
                findings.append(Finding(str(item), path, message))
    return findings


def reference_findings(objects: list[Rendered]) -> list[Finding]:
    """Names one object uses that must exist in the same render."""
    present = {item.identity for item in objects}
    # cert-manager writes each Certificate's key pair into the Secret it names.
    present |= {("Secret", item.identity[1], str(item.obj["spec"]["secretName"]))
                for item in objects if item.obj.get("kind") == "Certificate" and "cert-manager.io/" in
                str(item.obj.get("apiVersion")) and (item.obj.get("spec") or {}).get("secretName")}
    findings = []

    def need(item: Rendered, kind: str, name: str, path: str) -> None:
        namespace = item.identity[1]
        if name and (kind, namespace, name) not in present:
            findings.append(Finding(str(item), path, f"{kind} {namespace}/{name} is not in the render"))

    for item in objects:
        kind = item.obj.get("kind")
        spec = rules.pod_spec(item.obj)
        if spec is not None:
            need(item, "ServiceAccount", spec.get("serviceAccountName", ""), "spec.serviceAccountName")
            for volume in spec.get("volumes") or []:
                if "secret" in volume:
                    need(item, "Secret", volume["secret"].get("secretName", ""), f"volumes.{volume.get('name')}")
                if "configMap" in volume:
                    need(item, "ConfigMap", volume["configMap"].get("name", ""), f"volumes.{volume.get('name')}")
            for container in rules.containers(spec):
                for env in container.get("env") or []:
                    ref = (env.get("valueFrom") or {})
                    if "secretKeyRef" in ref:
                        need(item, "Secret", ref["secretKeyRef"]["name"], f"env.{env['name']}")
                    if "configMapKeyRef" in ref:
                        need(item, "ConfigMap", ref["configMapKeyRef"]["name"], f"env.{env['name']}")
        if kind == "ScaledObject":
            target = (item.obj.get("spec") or {}).get("scaleTargetRef") or {}
            need(item, target.get("kind", "Deployment"), target.get("name", ""), "spec.scaleTargetRef")
        if kind == "Trigger":
            need(item, "Broker", (item.obj.get("spec") or {}).get("broker", ""), "spec.broker")
    return findings


def policy_findings(objects: list[Rendered], environment: str) -> list[Finding]:
    """The policy pack's rules over the render; in dev the hygiene rules are advisory (skipped)."""
    checks = dict(rules.PER_OBJECT)
    if environment != "prod":
        for name in ("restricted-pod-security", "resources-set"):
            checks.pop(name)
    findings = [Finding(str(item), "", f"[{name}] {violation}")
                for item in objects for name, check in checks.items() for violation in check(item.obj)]
    manifests = [item.obj for item in objects]
    stack_level = rules.network_policy_per_namespace(manifests)
    if environment == "prod":
        stack_level += rules.prod_availability(manifests)
    findings += [Finding("render", "", violation) for violation in stack_level]
    return findings


# Fields whose change makes Kubernetes (or Pulumi) delete and recreate the object.
IMMUTABLE_FIELDS = {
    "StatefulSet": ["spec.selector", "spec.serviceName", "spec.volumeClaimTemplates", "spec.podManagementPolicy"],
    "PersistentVolumeClaim": ["spec.storageClassName", "spec.accessModes", "spec.volumeName", "spec.selector"],
    "KafkaTopic": ["spec.topicName"],
    "KafkaNodePool": ["spec.roles"],
    "Stream": ["spec.name", "spec.storage"],
    "RabbitmqCluster": [],
    "Kafka": [],
}


def _field(obj: dict[str, Any], dotted: str) -> Any:
    current: Any = obj
    for part in dotted.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    return current


def replacement_findings(base: list[Rendered], head: list[Rendered]) -> list[Finding]:
    """Stateful objects the change would delete or replace, each with the field that forces it."""
    head_by_id = {item.identity: item for item in head}
    findings = []
    for item in base:
        kind = item.identity[0]
        if kind not in IMMUTABLE_FIELDS:
            continue
        after = head_by_id.get(item.identity)
        if after is None:
            findings.append(Finding(str(item), "metadata.name",
                                    "would be deleted (removed or renamed): its data goes with it"))
            continue
        for dotted in IMMUTABLE_FIELDS[kind]:
            before, now = _field(item.obj, dotted), _field(after.obj, dotted)
            if before != now:
                message = f"would be replaced: {dotted} changed ({before!r} -> {now!r})"
                findings.append(Finding(str(item), dotted, message))
    return findings
