"""Reads this stack's settings from Pulumi config: the only module that touches pulumi.Config."""

from __future__ import annotations

import os

import pulumi

from event_platform.infra.config import ConfigError, PlatformConfig, build_config

KNOWN_KEYS = {"environment", "platform"}
# `make preview` without cluster credentials renders instead of talking to a cluster.
TARGET_ENV = "EVENTPLATFORM_TARGET"


def load_stack_config() -> PlatformConfig:
    """The validated configuration, or a clean error (no traceback) before any resource exists."""
    config = pulumi.Config()
    unknown = sorted(_project_keys() - KNOWN_KEYS)
    if unknown:
        raise pulumi.RunError(
            f"unknown configuration key(s) {', '.join(config.name + ':' + k for k in unknown)}; "
            f"fix: put platform settings under {config.name}:platform (allowed top-level keys: "
            f"{', '.join(sorted(KNOWN_KEYS))})"
        )
    overrides = config.get_object("platform")
    if os.environ.get(TARGET_ENV) and isinstance(overrides, dict | None):
        overrides = {**(overrides or {}), "target": os.environ[TARGET_ENV]}
    try:
        return build_config(config.require("environment"), overrides)
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None


def _project_keys() -> set[str]:
    prefix = f"{pulumi.get_project()}:"
    return {key[len(prefix):] for key in pulumi.runtime.config.CONFIG.get() if key.startswith(prefix)}
