"""The platform's policies as plain functions over Kubernetes objects.

The Pulumi policy pack (policy/__main__.py) and the render check (policy/check_render.py)
both call these, so a manifest is judged the same way before `pulumi up` and in GitOps.
Each check returns human-readable violations: empty means compliant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

Manifest = dict[str, Any]

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
SECRET_LIKE_ENV = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY|SASL_JAAS)", re.I)
SINGLETON_ANNOTATION = "eventplatform.io/singleton"
STATEFUL_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "RabbitmqCluster", "Stream", "PersistentVolumeClaim"}


def pod_spec(obj: Manifest) -> Manifest | None:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return dict(spec)
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    elif kind not in WORKLOAD_KINDS:
        return None
    template: Manifest = spec.get("template") or {}
    pod: Manifest | None = template.get("spec")
    return pod


def containers(spec: Manifest) -> Iterator[Manifest]:
    yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def where(obj: Manifest) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{obj.get('kind')} {namespace + '/' if namespace else ''}{meta.get('name')}"


def restricted_pod_security(obj: Manifest) -> list[str]:
    """The `restricted` Pod Security Standard, checked before admission would reject the pod."""
    spec = pod_spec(obj)
    if spec is None:
        return []
    found = []
    pod_ctx = spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            found.append(f"{where(obj)}: {flag} is not allowed")
    for container in containers(spec):
        ctx = container.get("securityContext") or {}
        name = f"{where(obj)} container {container.get('name')}"
        if ctx.get("privileged"):
            found.append(f"{name}: privileged is not allowed")
        if ctx.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: set securityContext.allowPrivilegeEscalation=false")
        if "ALL" not in ((ctx.get("capabilities") or {}).get("drop") or []):
            found.append(f"{name}: drop ALL capabilities (securityContext.capabilities.drop=[ALL])")
        if not (ctx.get("runAsNonRoot") or pod_ctx.get("runAsNonRoot")):
            found.append(f"{name}: set runAsNonRoot=true (pod or container securityContext)")
        seccomp = (ctx.get("seccompProfile") or pod_ctx.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: set seccompProfile.type=RuntimeDefault")
    return found


def resources_set(obj: Manifest) -> list[str]:
    """Every container requests CPU and memory and limits memory."""
    spec = pod_spec(obj)
    if spec is None:
        return []
    found = []
    for container in spec.get("containers") or []:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        missing = [f"requests.{r}" for r in ("cpu", "memory") if r not in requests]
        missing += ["limits.memory"] if "memory" not in limits else []
        if missing:
            found.append(f"{where(obj)} container {container.get('name')}: set resources {', '.join(missing)}")
    return found


def pinned_images(obj: Manifest) -> list[str]:
    """Images carry a version tag or digest, never `latest` or nothing."""
    spec = pod_spec(obj)
    if spec is None:
        return []
    found = []
    for container in containers(spec):
        image = str(container.get("image") or "")
        if "@sha256:" in image:
            continue
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if not tag or tag == "latest" or tag.endswith("-latest"):
            found.append(f"{where(obj)} container {container.get('name')}: image {image!r} is not pinned "
                         "to a version tag or digest")
    return found


def no_plaintext_secrets(obj: Manifest) -> list[str]:
    """Secret-looking environment variables come from Secrets, not literals."""
    spec = pod_spec(obj)
    if spec is None:
        return []
    return [
        f"{where(obj)} container {container.get('name')}: env {env['name']} holds a literal value; "
        "take it from a Secret (valueFrom.secretKeyRef)"
        for container in containers(spec)
        for env in container.get("env") or []
        if SECRET_LIKE_ENV.search(str(env.get("name", ""))) and env.get("value")
    ]


def prod_availability(objs: Iterable[Manifest]) -> list[str]:
    """Prod Deployments/StatefulSets run ≥ 2 replicas and have a PodDisruptionBudget.

    A workload a KEDA ScaledObject scales has no fixed count: its floor is ``minReplicaCount``.
    """
    objs = list(objs)
    budgets = [o for o in objs if o.get("kind") == "PodDisruptionBudget"]
    floors = _scaled_floors(objs)
    found = []
    for obj in objs:
        if obj.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        if ((obj.get("metadata") or {}).get("annotations") or {}).get(SINGLETON_ANNOTATION) == "true":
            continue  # one aggregate, one instance by design (documented per workload)
        meta = obj.get("metadata") or {}
        replicas = floors.get((obj.get("kind"), meta.get("namespace"), meta.get("name")),
                              (obj.get("spec") or {}).get("replicas", 1))
        violations = []
        if replicas < 2:
            violations.append(f"{where(obj)}: prod workloads need at least 2 replicas (has {replicas})")
        if not any(_budget_covers(b, obj) for b in budgets):
            violations.append(f"{where(obj)}: no PodDisruptionBudget selects its pods")
        found += [v for v in violations if not any(e.covers("prod-availability", obj, v) for e in EXEMPTIONS)]
    return found


def _scaled_floors(objs: list[Manifest]) -> dict[tuple[Any, Any, Any], int]:
    """(kind, namespace, name) of each ScaledObject's target → its minReplicaCount."""
    floors = {}
    for obj in objs:
        if obj.get("kind") != "ScaledObject":
            continue
        spec = obj.get("spec") or {}
        target = spec.get("scaleTargetRef") or {}
        key = (target.get("kind", "Deployment"), (obj.get("metadata") or {}).get("namespace"), target.get("name"))
        floors[key] = int(spec.get("minReplicaCount", 0))
    return floors


def _budget_covers(budget: Manifest, obj: Manifest) -> bool:
    if (budget.get("metadata") or {}).get("namespace") != (obj.get("metadata") or {}).get("namespace"):
        return False
    selector = ((budget.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    labels = (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def network_policy_per_namespace(objs: Iterable[Manifest]) -> list[str]:
    objs = list(objs)
    covered = {(o.get("metadata") or {}).get("namespace") for o in objs if o.get("kind") == "NetworkPolicy"}
    return [
        f"Namespace {(o.get('metadata') or {}).get('name')}: no NetworkPolicy in it (add at least a default deny)"
        for o in objs
        if o.get("kind") == "Namespace" and (o.get("metadata") or {}).get("name") not in covered
    ]


@dataclass(frozen=True)
class Exemption:
    """One upstream object that breaks one rule in one known way, and why that is accepted.

    Matching is exact: the rule, the object (kind, namespace, name) and a text the violation
    contains; nothing else is exempt, so a new breach in the same object still fails.
    """

    rule: str
    kind: str
    namespace: str
    name: str
    detail: str
    reason: str

    def covers(self, rule: str, obj: Manifest, violation: str) -> bool:
        meta = obj.get("metadata") or {}
        return (rule == self.rule and obj.get("kind") == self.kind and meta.get("namespace", "") == self.namespace
                and meta.get("name") == self.name and self.detail in violation)


_CONTROLLER = ("a controller outside the data path: while its single pod restarts, brokers and workloads keep "
               "serving and only reconciliation pauses; upstream ships it as one replica")
EXEMPTIONS = [
    Exemption("no-plaintext-secrets", "Deployment", "knative-operator", "operator-webhook",
              "env WEBHOOK_SECRET_NAME",
              "the value is the name of the Secret the webhook keeps its serving certificate in, not a secret"),
    # node-exporter reads the node's own metrics: host network and PID namespace are its purpose.
    *(Exemption("restricted-pod-security", "DaemonSet", "monitoring", "kps-prometheus-node-exporter", detail,
                "node-exporter reports the node itself, which needs the host's network and process namespaces "
                "and its root filesystem read-only; it runs in the baseline-labelled monitoring namespace only")
      for detail in ("hostNetwork", "hostPID", "allowPrivilegeEscalation", "capabilities", "seccompProfile")),
    # Single-replica controllers upstream: the replica and budget rules are for what serves traffic.
    *(Exemption("prod-availability", "Deployment", namespace, name, "", reason)
      for namespace, name, reason in (
          ("monitoring", "kps-operator", "prometheus-operator has no leader election: two replicas would both "
                                         "reconcile; " + _CONTROLLER),
          ("monitoring", "kps-kube-state-metrics", "a second replica would export every series twice; "
                                                   "Prometheus alerts on its absence (KubeStateMetricsDown)"),
          ("monitoring", "grafana", "Grafana keeps its state in SQLite on one volume; more replicas need an "
                                    "external database. Dashboards are provisioned, so a restart loses nothing"),
          ("knative-operator", "knative-operator", _CONTROLLER),
          ("knative-operator", "operator-webhook", "validates only the operator's own KnativeServing/"
                                                   "KnativeEventing objects; " + _CONTROLLER),
          ("nats", "nats-nack", "the NACK chart has no replica or leader-election setting; " + _CONTROLLER),
          ("rabbitmq-system", "rabbitmq-cluster-operator", _CONTROLLER),
          ("rabbitmq-system", "messaging-topology-operator", _CONTROLLER),
      )),
]


def exempting(rule: str, check: Callable[[Manifest], list[str]]) -> Callable[[Manifest], list[str]]:
    """``check`` without the violations EXEMPTIONS accept."""
    def checked(obj: Manifest) -> list[str]:
        return [v for v in check(obj) if not any(e.covers(rule, obj, v) for e in EXEMPTIONS)]
    return checked


PER_OBJECT = {
    name: exempting(name, check)
    for name, check in {
        "restricted-pod-security": restricted_pod_security,
        "resources-set": resources_set,
        "pinned-images": pinned_images,
        "no-plaintext-secrets": no_plaintext_secrets,
    }.items()
}
