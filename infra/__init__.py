"""event-platform's component library: typed Pulumi components for an event-driven platform.

The public, versioned import surface (semantic versioning; see CHANGELOG.md). Components never
read `pulumi.Config`, so any Pulumi program can use them:

    from event_platform.infra import KafkaCluster, KafkaClusterArgs, EventWorkload, EventWorkloadArgs

Naming contract: every child's Pulumi name derives from the component's name; renaming a
component or moving a child requires an alias (see docs/components.md, "Names and aliases").
"""

if __name__ == "infra":
    # This folder imported by its pre-0.2 name (a checkout on sys.path): become event_platform.infra,
    # so that no module of it is loaded twice under two names (event_platform/_deprecated.py).
    from event_platform._deprecated import alias_package

    alias_package("infra", "event_platform.infra")


from event_platform import __version__
from event_platform.infra.artifacts import ArtifactSource
from event_platform.infra.certmanager import CertManager, CertManagerArgs
from event_platform.infra.config import ConfigError, PlatformConfig, build_config
from event_platform.infra.kafka import (
    KafkaAccess,
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
from event_platform.infra.keda import Keda, KedaArgs
from event_platform.infra.knative import (
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
from event_platform.infra.knative_push import PushService, PushServiceArgs
from event_platform.infra.namespaces import NamespaceArgs, PlatformNamespace
from event_platform.infra.nats import NatsAccess, NatsArgs, NatsJetStream, StreamSpec
from event_platform.infra.observability import MonitoringStack, MonitoringStackArgs
from event_platform.infra.outputs import OUTPUTS_VERSION, PlatformOutputs, PlatformStackReference
from event_platform.infra.platform import EventPlatform, kubernetes_provider
from event_platform.infra.platform_workloads import BrokerHandle, PlatformWorkloads, PlatformWorkloadsArgs
from event_platform.infra.rabbitmq import (
    RabbitmqAccess,
    RabbitmqCluster,
    RabbitmqClusterArgs,
    RabbitmqOperators,
    RabbitmqOperatorsArgs,
    RabbitmqUser,
    RabbitmqUserArgs,
)
from event_platform.infra.wiring import ScalingPlan, WiringError, wiring_problems
from event_platform.infra.workloads import (
    WIRINGS,
    Autoscaling,
    BrokerWiring,
    EventGenerator,
    EventGeneratorArgs,
    EventWorkload,
    EventWorkloadArgs,
    KafkaWiring,
    NatsWiring,
    RabbitmqWiring,
)

__all__ = [
    "OUTPUTS_VERSION",
    "WIRINGS",
    "ArtifactSource",
    "Autoscaling",
    "Broker",
    "BrokerArgs",
    "BrokerHandle",
    "BrokerWiring",
    "CertManager",
    "CertManagerArgs",
    "ConfigError",
    "EventGenerator",
    "EventGeneratorArgs",
    "EventPlatform",
    "EventWorkload",
    "EventWorkloadArgs",
    "KafkaAccess",
    "KafkaCluster",
    "KafkaClusterArgs",
    "KafkaSource",
    "KafkaSourceArgs",
    "KafkaStorage",
    "KafkaTopic",
    "KafkaTopicArgs",
    "KafkaUser",
    "KafkaUserArgs",
    "KafkaWiring",
    "Keda",
    "KedaArgs",
    "KnativeEventing",
    "KnativeEventingArgs",
    "KnativeOperator",
    "KnativeOperatorArgs",
    "KnativeServing",
    "KnativeServingArgs",
    "MonitoringStack",
    "MonitoringStackArgs",
    "NamespaceArgs",
    "NatsAccess",
    "NatsArgs",
    "NatsJetStream",
    "NatsWiring",
    "PingSource",
    "PingSourceArgs",
    "PlatformConfig",
    "PlatformNamespace",
    "PlatformOutputs",
    "PlatformStackReference",
    "PlatformWorkloads",
    "PlatformWorkloadsArgs",
    "PushService",
    "PushServiceArgs",
    "RabbitmqAccess",
    "RabbitmqCluster",
    "RabbitmqClusterArgs",
    "RabbitmqOperators",
    "RabbitmqOperatorsArgs",
    "RabbitmqUser",
    "RabbitmqUserArgs",
    "RabbitmqWiring",
    "ScalingPlan",
    "StreamSpec",
    "StrimziOperator",
    "StrimziOperatorArgs",
    "TopicAccess",
    "Trigger",
    "TriggerArgs",
    "WiringError",
    "__version__",
    "build_config",
    "kubernetes_provider",
    "wiring_problems",
]
