"""The installed engine is exactly the pinned one and reaches for nothing online."""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

from tests.engine.conftest import REPO, pulumi


def _pinned(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", (REPO / "requirements.txt").read_text(), re.M)
    assert match, f"{package} is not pinned in requirements.txt"
    return match.group(1)


def _plugin_version_of_wheel(module: str) -> str:
    plugin = Path(__import__(module).__file__).parent / "pulumi-plugin.json"
    return str(json.loads(plugin.read_text())["version"])


def test_cli_version_equals_the_python_sdk_pin(engine_env: dict[str, str]) -> None:
    assert pulumi(engine_env, "version").stdout.strip() == f"v{_pinned('pulumi')}"
    assert metadata.version("pulumi") == _pinned("pulumi")


def test_installed_plugins_equal_the_wheels_the_engine_will_ask_for(engine_env: dict[str, str]) -> None:
    listed = json.loads(pulumi(engine_env, "plugin", "ls", "--json").stdout)
    installed = {(p["name"], p["kind"]): p["version"] for p in listed}
    for name, module, package in (("kubernetes", "pulumi_kubernetes", "pulumi-kubernetes"),
                                  ("random", "pulumi_random", "pulumi-random")):
        assert installed[(name, "resource")] == _plugin_version_of_wheel(module) == _pinned(package)


def test_plugins_live_in_the_project_scoped_home(engine_env: dict[str, str]) -> None:
    home = Path(engine_env["PULUMI_HOME"])
    assert home == REPO / ".pulumi-home"
    assert sorted(p.name for p in (home / "plugins").glob("resource-*") if p.is_dir()) == [
        f"resource-kubernetes-v{_pinned('pulumi-kubernetes')}",
        f"resource-random-v{_pinned('pulumi-random')}",
    ]


def test_downloads_and_update_checks_are_off(engine_env: dict[str, str]) -> None:
    assert engine_env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert engine_env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
