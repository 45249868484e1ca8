"""event-platform: typed Pulumi components for an event-driven platform on Kubernetes.

Sub-packages (each one of the repository's top-level folders, mapped by the build):

- ``event_platform.infra``: the components (``from event_platform.infra import KafkaCluster``);
  the versioned public surface (semantic versioning, see CHANGELOG.md)
- ``event_platform.apps``: the workload runtime (``event_platform.apps.runtime``) and the demo
  order pipeline (``event_platform.apps.orders``)
- ``event_platform.policy``: the Pulumi policy pack's rules and render checks

Importing this package imports nothing else: the workload image has no Pulumi SDK.
"""

__version__ = "0.2.0"
