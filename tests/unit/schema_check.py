"""Validates a custom resource body against its pinned CRD's schema, as the API server would.

The conversion from OpenAPI v3 lives in event_platform.policy.render (the render check uses it too); here the
schemas come from the pinned upstream artifacts in the mirror.
"""

from __future__ import annotations

from typing import Any

from event_platform.policy.render import custom_resource_errors
from tests.unit.crds import crd_schemas


def validation_errors(api_version: str, kind: str, body: dict[str, Any]) -> list[str]:
    if (api_version, kind) not in crd_schemas():
        return [f"no pinned CRD serves {api_version} {kind}"]
    return [f"{kind} {path or '<root>'}: {message}"
            for path, message in custom_resource_errors(api_version, kind, body, crd_schemas())]
