"""The two stacks evaluated once per test session under the mock monitor; tests only read them.

They are evaluated against upstream artifact locations whatever the environment says (CI sets
EVENTPLATFORM_MIRROR for the CRD schemas), so the same assertions hold everywhere; the tests of
mirror behaviour set the variable themselves.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import tests.unit.crds  # reads the mirror location before any test hides it
from event_platform.infra import artifacts
from event_platform.infra.artifacts import MIRROR_ENV
from tests.unit.harness import Recorder, run_stack


def _pinned_manifest_offline(url: str) -> str:
    """Programs here take the upstream path with no network: a pinned manifest the program
    downloads itself (event_platform.infra.artifacts.fetch_text) is read from the mirror's copy of that pin."""
    if url == artifacts.STRIMZI_CRDS_URL:  # the release asset holds the chart's crds/ folder
        chart = tests.unit.crds.mirror_root() / "charts" / artifacts.STRIMZI.archive_name
        return "\n---\n".join(artifacts.chart_crd_documents(chart, f"{artifacts.STRIMZI.name}/crds/"))
    pins = [p for p in vars(artifacts).values() if isinstance(p, artifacts.ManifestPin) and p.url == url]
    assert pins, f"{url} is not a pinned manifest"
    return (tests.unit.crds.mirror_root() / pins[0].mirror_path).read_text(encoding="utf-8")


artifacts.fetch_text = _pinned_manifest_offline


def evaluate(stack: str) -> Recorder:
    """The stack program run as the unit tests see it: upstream artifact locations, no network."""
    saved = os.environ.pop(MIRROR_ENV, None)
    try:
        return run_stack(stack)
    finally:
        if saved is not None:
            os.environ[MIRROR_ENV] = saved


@pytest.fixture(scope="session")
def dev() -> Recorder:
    return evaluate("dev")


@pytest.fixture(scope="session")
def prod() -> Recorder:
    return evaluate("prod")


@pytest.fixture(autouse=True)
def _programs_read_upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Programs run in a test see no mirror unless the test sets one (tests/unit/crds.py read it
    at import for the CRD schemas)."""
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    yield
