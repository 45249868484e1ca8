"""Configuration errors as a stack file's author reads them: the key path, the value and the fix."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

CONFIG_NAMESPACE = "event-platform"


class ConfigError(Exception):
    """Stack configuration that cannot produce a working platform."""


def format_validation_error(exc: ValidationError, document: dict[str, Any]) -> str:
    """One line per problem: the stack-file key path, the offending value, and what to do."""
    lines = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"])
        key = f"{CONFIG_NAMESPACE}:platform.{path}" if path else f"{CONFIG_NAMESPACE}:platform"
        value = _lookup(document, error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        shown = "" if isinstance(value, dict | list) else f" (got {json.dumps(value, default=str)})"
        lines.append(f"{key}: {message}{shown}; {_fix_for(error)}")
    return "invalid stack configuration:\n  " + "\n  ".join(lines)


def _fix_for(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "fix: remove the key or correct its spelling (see config.schema.json for the allowed keys)"
    if kind == "missing":
        return "fix: set this key in Pulumi.<stack>.yaml"
    if kind == "value_error":
        return "fix: adjust the values named above"
    return "fix: use a value of the documented type and range (see config.schema.json)"


def _lookup(document: Any, loc: tuple[Any, ...]) -> Any:
    current = document
    for part in loc:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return None
    return current
