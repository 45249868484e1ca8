"""Writes config.schema.json, the JSON Schema editors use to check `event-platform:platform`."""

import json
from pathlib import Path

from event_platform.infra.config import json_schema

target = Path(__file__).resolve().parents[1] / "config.schema.json"
target.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
print(f"wrote {target.name}")
