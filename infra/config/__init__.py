"""The whole platform's configuration: one pydantic model, presets per environment.

A stack file sets ``event-platform:environment`` (``dev`` or ``prod``) and, under
``event-platform:platform``, only what differs from that environment's preset. The merged
document is validated once, before any resource is declared; a bad value becomes one
``ConfigError`` naming the key path, the value and the fix.

- ``model``: the pydantic model and its cross-component checks
- ``presets``: each environment's preset
- ``errors``: ConfigError and the formatting of validation errors
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from event_platform.infra.base import deep_merge
from event_platform.infra.config.errors import CONFIG_NAMESPACE, ConfigError, format_validation_error
from event_platform.infra.config.model import (
    Environment,
    KnativeKafkaSourceConfig,
    KnativePushServiceConfig,
    PlatformConfig,
    WorkloadConfig,
    WorkloadsConfig,
    nats_stream_for,
)
from event_platform.infra.config.presets import PRESETS

__all__ = [
    "CONFIG_NAMESPACE", "PRESETS", "ConfigError", "Environment", "KnativeKafkaSourceConfig", "KnativePushServiceConfig",
    "PlatformConfig", "WorkloadConfig", "WorkloadsConfig", "build_config", "format_validation_error", "json_schema",
    "nats_stream_for",
]


def build_config(environment: Any, overrides: Any) -> PlatformConfig:
    """Preset for ``environment`` merged with ``overrides``, validated, or a ConfigError."""
    if environment not in PRESETS:
        raise ConfigError(
            f"{CONFIG_NAMESPACE}:environment: {environment!r} is not a known environment; "
            f"fix: set it to one of {sorted(PRESETS)} in Pulumi.<stack>.yaml"
        )
    overrides = overrides or {}
    if not isinstance(overrides, dict):
        raise ConfigError(
            f"{CONFIG_NAMESPACE}:platform: expected a mapping of settings, got {type(overrides).__name__}; "
            "fix: write it as a YAML object under config"
        )
    document = deep_merge(PRESETS[environment], overrides)
    document["environment"] = environment
    try:
        return PlatformConfig.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, document)) from None




def json_schema() -> dict[str, Any]:
    """JSON Schema of ``event-platform:platform`` for editors checking stack files."""
    schema = PlatformConfig.model_json_schema()
    schema["title"] = "event-platform stack configuration (event-platform:platform)"
    return schema
