"""Generated references stay in step with the code."""

from pathlib import Path

import event_platform.infra
from scripts.write_component_docs import TARGET, render

REPO = Path(__file__).resolve().parents[2]


def test_component_reference_is_current() -> None:
    assert TARGET.read_text() == render(), "run `make docs` and commit docs/components.md"


def test_every_public_component_is_documented() -> None:
    assert "(undocumented)" not in render()
    assert "### `EventWorkload`" in render() and len(event_platform.infra.__all__) > 40
