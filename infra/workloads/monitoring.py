"""What watches a workload: its alert rules (every workload's plus its broker's), its PodMonitor
and its Grafana row."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from event_platform.infra.alerts import service_failure_rules
from event_platform.infra.base import child, custom_resource
from event_platform.infra.workloads.args import EventWorkloadArgs


def alerts(parent: pulumi.Resource, name: str, args: EventWorkloadArgs, rule_labels: dict[str, str]) -> None:
    service = args.service_name
    rules = service_failure_rules(service, "dead-lettered events in the last 10 minutes",
                                  "more than 5% of processing attempts fail")
    rules += args.broker.alert_rules(args)
    custom_resource(
        f"{service}-alerts", "monitoring.coreos.com/v1", "PrometheusRule", args.namespace,
        {"groups": [{"name": f"workload-{service}", "rules": rules}]},
        child(parent), resource_name=f"{name}-alerts", labels=rule_labels,
    )


def pod_monitor(parent: pulumi.Resource, name: str, args: EventWorkloadArgs, monitor_labels: dict[str, str]) -> None:
    custom_resource(
        args.service_name, "monitoring.coreos.com/v1", "PodMonitor", args.namespace,
        {"selector": {"matchLabels": {"app.kubernetes.io/name": args.service_name}},
         "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}]},
        child(parent), resource_name=f"{name}-podmonitor", labels=monitor_labels,
    )


def dashboard(parent: pulumi.Resource, name: str, args: EventWorkloadArgs, labels: dict[str, str]) -> None:
    """One Grafana row for this service, in the platform's folder."""
    k8s.core.v1.ConfigMap(
        f"{name}-dashboard",
        metadata={"name": f"dashboard-{args.service_name}", "namespace": args.namespace,
                  "labels": {**labels, "grafana_dashboard": "1"},
                  "annotations": {"grafana_folder": "Event Platform"}},
        data={f"{args.service_name}.json": json.dumps(workload_dashboard(args), indent=1)},
        opts=child(parent),
    )


def workload_dashboard(args: EventWorkloadArgs) -> dict[str, Any]:
    """A one-row dashboard: throughput, failures, dead letters, latency, backlog and replicas."""
    service = args.service_name
    datasource = {"type": "prometheus", "uid": "prometheus"}
    queries = [
        ("Events in / out /s", f'sum(rate(events_in_total{{service="{service}"}}[$__rate_interval]))', "ops"),
        ("Failed attempts /s", f'sum(rate(events_failed_total{{service="{service}"}}[$__rate_interval]))', "ops"),
        ("Dead-lettered (1h)", f'sum(increase(events_dead_lettered_total{{service="{service}"}}[1h]))', "short"),
        ("Processing p99", "histogram_quantile(0.99, sum by (le) "
                           f'(rate(event_processing_seconds_bucket{{service="{service}"}}[$__rate_interval])))', "s"),
        ("Consumer lag", f'sum(kafka_consumergroup_lag{{consumergroup="{args.group}"}})', "short"),
        ("Replicas", f'kube_deployment_status_replicas{{deployment="{service}"}}', "short"),
    ]
    panels: list[dict[str, Any]] = [{"id": 1, "type": "row", "title": service, "collapsed": False,
                                     "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0}, "panels": []}]
    for index, (title, expr, unit) in enumerate(queries):
        panels.append({
            "id": index + 2, "type": "timeseries", "title": title, "datasource": datasource,
            "gridPos": {"h": 7, "w": 8, "x": (index % 3) * 8, "y": 1 + (index // 3) * 7},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "datasource": datasource, "expr": expr}],
        })
    return {"uid": f"workload-{service}"[:40], "title": f"Workload: {service}", "schemaVersion": 41,
            "tags": ["event-platform", "workload"], "time": {"from": "now-1h", "to": "now"},
            "panels": panels, "templating": {"list": []}, "editable": False}
