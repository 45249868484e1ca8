"""The platform's alert rules, as data: one PrometheusRule, a group per broker family.

Every alert has a section in docs/alerts.md (what it catches, why, what to do); the anchor is
the alert name in lower case and is set as the `runbook` annotation. Thresholds come from the
environment's preset (`observability.alerts`). Metric names:

* workloads: apps/runtime/metrics.py — `events_in_total`, `events_failed_total`,
  `events_dead_lettered_total` (label `service`);
* Kafka: kafka-exporter (`kafka_consumergroup_lag`, `kafka_topic_partition_current_offset`) and
  the JMX exporter rules in infra/kafka.py (lower-cased MBean names);
* RabbitMQ: rabbitmq_prometheus' detailed endpoint (`rabbitmq_detailed_queue_*`);
* NATS: prometheus-nats-exporter with `-jsz=all` (`jetstream_consumer_num_pending`,
  `jetstream_stream_total_messages`);
* KEDA: `keda_scaler_errors_total`, `keda_scaler_metrics_value` (label `scaledObject`);
* Knative (OpenTelemetry, 1.19+): `kn_eventing_dispatch_duration_seconds` with
  `http_response_status_code` and `kn_broker_name`;
* pod and HPA state: kube-state-metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DLQ_TOPIC = r".+\\.dlq"  # PromQL string escaping of the regex .+\.dlq
DLQ_QUEUE = r".+\\.dlq"
DLQ_STREAM = ".+_DLQ"


@dataclass(frozen=True)
class AlertThresholdArgs:
    consumer_lag: int
    consumer_lag_for: str
    queue_depth: int
    error_ratio: float
    error_ratio_for: str
    broker_down_for: str
    delivery_failure_ratio: float
    kafka: bool = True
    rabbitmq: tuple[str, str] | None = None  # (namespace, StatefulSet) of the RabbitMQ cluster
    nats: tuple[str, str] | None = None  # (namespace, StatefulSet) of the NATS cluster
    keda: bool = True
    knative: bool = True


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: Literal["warning", "critical"]
    summary: str

    def to_rule(self) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity, "platform": "event-platform"},
            "annotations": {"summary": self.summary, "runbook": f"docs/alerts.md#{self.name.lower()}"},
        }


def service_failure_rules(service: str, dead_letters: str, failures: str) -> list[dict[str, Any]]:
    """One service's dead-letter and error-rate rules (PrometheusRule form); ``dead_letters`` and
    ``failures`` finish the summaries ("<service>: …") in the words of that service's path."""
    return [
        {"alert": "EventWorkloadDeadLetters", "for": "0m",
         "expr": f'sum(increase(events_dead_lettered_total{{service="{service}"}}[10m])) > 0',
         "labels": {"severity": "warning", "service": service},
         "annotations": {"summary": f"{service}: {dead_letters}",
                         "runbook": "docs/alerts.md#eventworkloaddeadletters"}},
        {"alert": "EventWorkloadErrorRate", "for": "10m",
         "expr": (f'sum(rate(events_failed_total{{service="{service}"}}[5m])) / '
                  f'clamp_min(sum(rate(events_in_total{{service="{service}"}}[5m])), 1e-9) > 0.05'),
         "labels": {"severity": "warning", "service": service},
         "annotations": {"summary": f"{service}: {failures}",
                         "runbook": "docs/alerts.md#eventworkloaderrorrate"}},
    ]


def workload_alerts(t: AlertThresholdArgs) -> list[Alert]:
    return [
        Alert(
            "EventProcessingErrorRateHigh",
            f"sum by (service) (rate(events_failed_total[5m])) / sum by (service) (rate(events_in_total[5m])) "
            f"> {t.error_ratio}",
            t.error_ratio_for, "warning",
            "{{ $labels.service }} fails {{ $value | humanizePercentage }} of the events it receives",
        ),
        Alert(
            "EventsDeadLettered",
            "sum by (service, reason) (increase(events_dead_lettered_total[10m])) > 0",
            "0m", "warning",
            "{{ $labels.service }} dead-lettered events ({{ $labels.reason }}) in the last 10 minutes",
        ),
    ]


def kafka_alerts(t: AlertThresholdArgs) -> list[Alert]:
    return [
        Alert(
            "KafkaConsumerLagHigh",
            f'sum by (consumergroup, topic) (kafka_consumergroup_lag{{topic!~"{DLQ_TOPIC}"}}) > {t.consumer_lag}',
            t.consumer_lag_for, "warning",
            "Consumer group {{ $labels.consumergroup }} is {{ $value }} messages behind on {{ $labels.topic }}",
        ),
        Alert(
            "KafkaDeadLetterTopicReceiving",
            f'sum by (topic) (increase(kafka_topic_partition_current_offset{{topic=~"{DLQ_TOPIC}"}}[10m])) > 0',
            "0m", "warning",
            "Dead-letter topic {{ $labels.topic }} received {{ $value }} events in 10 minutes",
        ),
        Alert(
            "KafkaUnderReplicatedPartitions",
            "sum(kafka_server_replicamanager_underreplicatedpartitions) > 0",
            "5m", "warning",
            "{{ $value }} Kafka partitions have fewer in-sync replicas than their replication factor",
        ),
        Alert(
            "KafkaOfflinePartitions",
            "max(kafka_controller_kafkacontroller_offlinepartitionscount) > 0",
            "1m", "critical",
            "{{ $value }} Kafka partitions have no leader: producers and consumers of them are stopped",
        ),
    ]


def replicas_alerts(family: str, namespace: str, statefulset: str, t: AlertThresholdArgs) -> list[Alert]:
    selector = f'namespace="{namespace}", statefulset="{statefulset}"'
    ready = f"kube_statefulset_status_replicas_ready{{{selector}}}"
    desired = f"kube_statefulset_replicas{{{selector}}}"
    return [
        Alert(
            f"{family}PodDown",
            f"{ready} < {desired}",
            t.broker_down_for, "warning",
            f"{{{{ $value }}}} {family} pods of {namespace}/{statefulset} are ready, fewer than desired",
        ),
        Alert(
            f"{family}QuorumLost",
            f"{ready} < floor({desired} / 2) + 1",
            "1m", "critical",
            f"{family} {namespace}/{statefulset} has no majority of ready pods: replicated queues/streams stop",
        ),
    ]


def rabbitmq_alerts(t: AlertThresholdArgs, namespace: str, statefulset: str) -> list[Alert]:
    return [
        Alert(
            "RabbitmqQueueBacklogHigh",
            f'sum by (vhost, queue) (rabbitmq_detailed_queue_messages_ready{{queue!~"{DLQ_QUEUE}"}}) '
            f"> {t.queue_depth}",
            t.consumer_lag_for, "warning",
            "Queue {{ $labels.queue }} holds {{ $value }} ready messages",
        ),
        Alert(
            "RabbitmqDeadLetterQueueReceiving",
            f'sum by (vhost, queue) (delta(rabbitmq_detailed_queue_messages{{queue=~"{DLQ_QUEUE}"}}[10m])) > 0',
            "0m", "warning",
            "Dead-letter queue {{ $labels.queue }} grew by {{ $value }} messages in 10 minutes",
        ),
        *replicas_alerts("Rabbitmq", namespace, statefulset, t),
    ]


def nats_alerts(t: AlertThresholdArgs, namespace: str, statefulset: str) -> list[Alert]:
    return [
        Alert(
            "NatsConsumerPendingHigh",
            f'sum by (stream_name, consumer_name) (jetstream_consumer_num_pending{{stream_name!~"{DLQ_STREAM}"}}) '
            f"> {t.queue_depth}",
            t.consumer_lag_for, "warning",
            "JetStream consumer {{ $labels.consumer_name }} on {{ $labels.stream_name }} has {{ $value }} pending",
        ),
        Alert(
            "NatsDeadLetterStreamReceiving",
            f'sum by (stream_name) (delta(jetstream_stream_total_messages{{stream_name=~"{DLQ_STREAM}"}}[10m])) > 0',
            "0m", "warning",
            "Dead-letter stream {{ $labels.stream_name }} recorded {{ $value }} max-delivery advisories",
        ),
        *replicas_alerts("Nats", namespace, statefulset, t),
    ]


def keda_alerts(t: AlertThresholdArgs) -> list[Alert]:
    at_max = (
        'label_replace(kube_horizontalpodautoscaler_status_current_replicas >= on (namespace, '
        'horizontalpodautoscaler) kube_horizontalpodautoscaler_spec_max_replicas, '
        '"scaledObject", "$1", "horizontalpodautoscaler", "keda-hpa-(.+)")'
    )
    return [
        Alert(
            "ConsumerLagGrowingAtMaxReplicas",
            f"(sum by (scaledObject) (delta(keda_scaler_metrics_value[15m])) > 0) "
            f"and on (scaledObject) {at_max}",
            "15m", "critical",
            "{{ $labels.scaledObject }} runs at max replicas and its backlog still grows: raise the cap "
            "(and partitions) or fix the consumer",
        ),
        Alert(
            "KedaScalerErrors",
            "sum by (scaledObject, scaler) (rate(keda_scaler_errors_total[5m])) > 0",
            "5m", "warning",
            "KEDA cannot read the {{ $labels.scaler }} metric of {{ $labels.scaledObject }}: it is not scaling",
        ),
    ]


def knative_alerts(t: AlertThresholdArgs) -> list[Alert]:
    count = "kn_eventing_dispatch_duration_seconds_count"
    return [
        Alert(
            "KnativeBrokerDeliveryFailures",
            f'sum by (kn_broker_name) (rate({count}{{http_response_status_code!~"2.."}}[5m])) '
            f"/ sum by (kn_broker_name) (rate({count}[5m])) > {t.delivery_failure_ratio}",
            t.error_ratio_for, "warning",
            "Broker {{ $labels.kn_broker_name }} fails {{ $value | humanizePercentage }} of its deliveries",
        ),
    ]


def alerts(t: AlertThresholdArgs) -> dict[str, list[Alert]]:
    groups: dict[str, list[Alert]] = {"event-platform.workloads": workload_alerts(t)}
    if t.kafka:
        groups["event-platform.kafka"] = kafka_alerts(t)
    if t.rabbitmq:
        groups["event-platform.rabbitmq"] = rabbitmq_alerts(t, *t.rabbitmq)
    if t.nats:
        groups["event-platform.nats"] = nats_alerts(t, *t.nats)
    if t.keda:
        groups["event-platform.keda"] = keda_alerts(t)
    if t.knative:
        groups["event-platform.knative"] = knative_alerts(t)
    return groups


def alert_groups(t: AlertThresholdArgs) -> list[dict[str, Any]]:
    return [{"name": name, "rules": [a.to_rule() for a in group]} for name, group in alerts(t).items()]
