"""The event-platform stack: read settings → build the platform → export outputs."""

import pulumi

from infra.outputs import export_platform_outputs
from infra.platform import EventPlatform, kubernetes_provider
from infra.stack import load_stack_config

config = load_stack_config()
provider = kubernetes_provider(config, pulumi.get_stack())
platform = EventPlatform("event-platform", config, pulumi.ResourceOptions(providers=[provider]))
export_platform_outputs(platform.outputs)
