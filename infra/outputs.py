"""Stack outputs other stacks read through StackReference. Secrets stay secret outputs."""

from __future__ import annotations

from typing import Any

import pulumi


def export_platform_outputs(outputs: dict[str, Any]) -> None:
    for key, value in outputs.items():
        pulumi.export(key, value)
