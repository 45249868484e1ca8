"""Validates a custom resource body against its CRD's OpenAPI v3 schema, as the API server would."""

from __future__ import annotations

from typing import Any

import jsonschema

from tests.unit.crds import crd_schemas


def _to_json_schema(node: Any) -> Any:
    """OpenAPI v3 → JSON Schema: `nullable` widens the type, int-or-string accepts both."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _to_json_schema(value) for key, value in node.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.get("format") == "int-or-string":
        out.pop("type", None)
    if out.get("x-kubernetes-preserve-unknown-fields") and "properties" not in out:
        out.pop("additionalProperties", None)
    # Structural schemas reject unknown fields (the API server prunes or, with strict field
    # validation, rejects them); reproduce that so a misspelt key fails here.
    if out.get("type") == "object" and "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


def validation_errors(api_version: str, kind: str, body: dict[str, Any]) -> list[str]:
    schema = crd_schemas().get((api_version, kind))
    if schema is None:
        return [f"no pinned CRD serves {api_version} {kind}"]
    converted = _to_json_schema(schema)
    # apiVersion, kind and metadata are checked by the API server itself, not by the CRD schema.
    body = {key: value for key, value in body.items() if key not in ("apiVersion", "kind", "metadata")}
    converted.get("properties", {}).pop("metadata", None)
    validator = jsonschema.Draft7Validator(converted)
    return [
        f"{kind} {'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(body)
    ]
