"""The event-platform stack: read settings → build the platform → export outputs."""

import pulumi

from event_platform.infra.outputs import export_platform_outputs
from event_platform.infra.platform import EventPlatform, kubernetes_provider
from event_platform.infra.stack import load_stack_config

config = load_stack_config()
provider = kubernetes_provider(config, pulumi.get_stack())
platform = EventPlatform("event-platform", config, pulumi.ResourceOptions(providers=[provider]))
export_platform_outputs(platform.outputs)
