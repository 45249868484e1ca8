"""event-platform's component library: typed Pulumi components for an event-driven platform.

The public, versioned import surface (semantic versioning; see CHANGELOG.md). Components never
read `pulumi.Config`, so any Pulumi program can use them:

    from infra import KafkaCluster, KafkaClusterArgs, EventWorkload, EventWorkloadArgs

Naming contract: every child's Pulumi name derives from the component's name; renaming a
component or moving a child requires an alias (see docs/components.md, "Names and aliases").
"""

from infra.artifacts import ArtifactSource
from infra.certmanager import CertManager, CertManagerArgs
from infra.config import ConfigError, PlatformConfig, build_config
from infra.kafka import (
    KafkaCluster,
    KafkaClusterArgs,
    KafkaStorage,
    KafkaTopic,
    KafkaTopicArgs,
    KafkaUser,
    KafkaUserArgs,
    StrimziOperator,
    StrimziOperatorArgs,
    TopicAccess,
)
from infra.keda import Keda, KedaArgs
from infra.knative import (
    Broker,
    BrokerArgs,
    KafkaSource,
    KafkaSourceArgs,
    KnativeEventing,
    KnativeEventingArgs,
    KnativeOperator,
    KnativeOperatorArgs,
    KnativeServing,
    KnativeServingArgs,
    PingSource,
    PingSourceArgs,
    Trigger,
    TriggerArgs,
)
from infra.knative_push import PushService, PushServiceArgs
from infra.namespaces import NamespaceArgs, PlatformNamespace
from infra.nats import NatsArgs, NatsJetStream, StreamSpec
from infra.observability import MonitoringStack, MonitoringStackArgs
from infra.outputs import OUTPUTS_VERSION, PlatformOutputs, PlatformStackReference
from infra.platform import EventPlatform, kubernetes_provider
from infra.rabbitmq import (
    RabbitmqCluster,
    RabbitmqClusterArgs,
    RabbitmqOperators,
    RabbitmqOperatorsArgs,
    RabbitmqUser,
    RabbitmqUserArgs,
)
from infra.wiring import ScalingPlan, WiringError, wiring_problems
from infra.workloads import (
    Autoscaling,
    EventGenerator,
    EventGeneratorArgs,
    EventWorkload,
    EventWorkloadArgs,
    KafkaWiring,
    NatsWiring,
    RabbitmqWiring,
)

__version__ = "0.1.0"

__all__ = [
    "OUTPUTS_VERSION",
    "ArtifactSource", "Autoscaling", "Broker", "BrokerArgs", "CertManager", "CertManagerArgs", "ConfigError",
    "EventGenerator", "EventGeneratorArgs", "EventPlatform", "EventWorkload", "EventWorkloadArgs",
    "KafkaCluster", "KafkaClusterArgs", "KafkaSource", "KafkaSourceArgs", "KafkaStorage", "KafkaTopic",
    "KafkaTopicArgs", "KafkaUser", "KafkaUserArgs", "KafkaWiring", "Keda", "KedaArgs", "KnativeEventing",
    "KnativeEventingArgs", "KnativeOperator", "KnativeOperatorArgs", "KnativeServing", "KnativeServingArgs",
    "MonitoringStack", "MonitoringStackArgs", "NamespaceArgs", "NatsArgs", "NatsJetStream", "NatsWiring",
    "PingSource", "PingSourceArgs", "PlatformConfig", "PlatformNamespace", "PlatformOutputs",
    "PlatformStackReference", "PushService", "PushServiceArgs",
    "RabbitmqCluster",
    "RabbitmqClusterArgs", "RabbitmqOperators", "RabbitmqOperatorsArgs", "RabbitmqUser", "RabbitmqUserArgs",
    "RabbitmqWiring", "ScalingPlan", "StreamSpec", "StrimziOperator", "StrimziOperatorArgs", "TopicAccess",
    "Trigger", "TriggerArgs", "WiringError", "__version__", "build_config", "kubernetes_provider",
    "wiring_problems",
]
