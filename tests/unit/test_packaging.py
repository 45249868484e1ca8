"""The package layout a checkout and a wheel share: event_platform.{infra,apps,policy} map the
repository's folders; `infra` is the deprecated pre-0.2 name of event_platform.infra."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from tests.unit.harness import REPO

FOLDERS = {"infra": "event_platform.infra", "apps": "event_platform.apps", "policy": "event_platform.policy"}


def _packages_in(folder: str) -> set[str]:
    root = REPO / folder
    return {".".join([FOLDERS[folder], *init.parent.relative_to(root).parts])
            for init in root.rglob("__init__.py") if "__pycache__" not in init.parts}


def test_the_wheel_lists_every_package_of_the_folders() -> None:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    expected = {"event_platform", "infra"} | {p for folder in FOLDERS for p in _packages_in(folder)}
    assert set(setuptools["packages"]) == expected
    assert setuptools["package-dir"] == {**{new: old for old, new in FOLDERS.items()}, "infra": "compat/infra"}


def test_the_checkout_reaches_each_folder_under_its_package_name() -> None:
    for folder, package in FOLDERS.items():
        link = REPO / "event_platform" / package.rsplit(".", 1)[1]
        assert link.is_symlink() and link.resolve() == REPO / folder


def _python(program: str) -> str:
    done = subprocess.run([sys.executable, "-W", "always::DeprecationWarning", "-c", program], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() + "\n" + done.stderr


def test_the_old_infra_name_is_the_same_modules_with_one_warning() -> None:
    # From a checkout, `infra` is the folder itself: it must not load a second copy of any module.
    output = _python(
        "import infra, infra.kafka, infra.workloads\n"
        "from infra.workloads import EventWorkload\n"
        "import event_platform.infra, event_platform.infra.workloads as new\n"
        "assert infra is event_platform.infra and infra.workloads is new and EventWorkload is new.EventWorkload\n"
        "import sys\n"
        "print(sorted(m for m in sys.modules if m.startswith('infra.') and sys.modules[m] is not "
        "sys.modules['event_platform.' + m]))\n")
    assert output.splitlines()[0] == "[]"
    assert output.count("the top-level package 'infra' is deprecated") == 1


def test_importing_the_package_imports_no_pulumi() -> None:
    # The workload image holds event_platform/__init__.py and apps/ only (apps/Dockerfile).
    output = _python("import sys, event_platform, event_platform.apps.runtime.settings\n"
                     "print(sorted(m for m in sys.modules if m.split('.')[0] in {'pulumi', 'pulumi_kubernetes'}))")
    assert output.splitlines()[0] == "[]"


def _imports(path: str) -> set[str]:
    import ast

    tree = ast.parse((REPO / path).read_text())
    found = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    return found | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}


def test_the_platform_and_its_workloads_component_do_not_import_each_other_both_ways() -> None:
    # platform.py composes PlatformWorkloads from typed args; the component knows nothing of it.
    assert "event_platform.infra.platform_workloads" in _imports("infra/platform.py")
    assert not {m for m in _imports("infra/platform_workloads.py") if m.startswith("event_platform.infra.platform")
                and m != "event_platform.infra.platform_workloads"}


def test_the_workload_component_never_asks_which_broker_it_has() -> None:
    # Everything broker-specific is the wiring's (infra/workloads/kafka.py, rabbitmq.py, nats.py).
    import ast

    for module in ("component", "autoscaling", "monitoring", "environment", "args"):
        tree = ast.parse((REPO / "infra" / "workloads" / f"{module}.py").read_text())
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        names |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
        assert "isinstance" not in names, module
        assert not {name for name in names if name.startswith(("Kafka", "Rabbitmq", "Nats"))}, module
