"""`pip install` of this repository into a fresh virtualenv, beside an unrelated `apps` package.

What a user's program sees: one package, event_platform, typed (py.typed) so that mypy checks a
program against the components; the repository's folder names (infra/, apps/, policy/) do not
take over generic top-level names — except `infra`, the deprecated pre-0.2 name, for one release.
Minutes, not seconds (a virtualenv and the Pulumi SDK): part of `make test`, not of the unit tests.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# A program that uses the components with their types: mypy --strict must accept it.
CONSUMER = '''
import pulumi

from apps import greeting
from event_platform.infra import KafkaCluster, KafkaClusterArgs, KafkaStorage, KafkaTopic, KafkaTopicArgs


def topic(cluster: KafkaCluster, name: str) -> KafkaTopic:
    return KafkaTopic(name, KafkaTopicArgs(namespace="kafka", cluster_name="events", topic_name=name, partitions=3,
                                           replicas=1, min_insync_replicas=1, protect=False, cluster=cluster.kafka))


def build() -> str:
    cluster = KafkaCluster("kafka", KafkaClusterArgs(
        namespace="kafka", cluster_name="events", version="4.1.0", dual_role=True, controllers=1, brokers=1,
        storage=KafkaStorage("ephemeral", "1Gi", delete_claim=True), replication_factor=1, min_insync_replicas=1,
        authentication="scram-sha-512", tls=True, protect=False, spread=False), pulumi.ResourceOptions())
    topic(cluster, "orders")
    return greeting()
'''

# The same call with a wrong type: mypy must see the components' annotations to refuse it.
MISTYPED = '''
from event_platform.infra import KafkaTopicArgs

args = KafkaTopicArgs(namespace="kafka", cluster_name="events", topic_name="orders", partitions="three",
                      replicas=1, min_insync_replicas=1, protect=False)
'''

MYPY_CONFIG = '''
[mypy]
strict = True
# As in this repository's own configuration: the Kubernetes SDK's overloads are too large to check.
[mypy-pulumi_kubernetes.*]
follow_imports = skip
'''


@dataclass
class Venv:
    root: Path
    work: Path

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([self.python, *args], cwd=self.work, capture_output=True, text=True, timeout=900,
                              check=False)
        if check:
            assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done


def _pinned(name: str) -> str:
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line.startswith(f"{name}=="):
            return line
    raise AssertionError(f"{name} is not pinned in requirements.txt")


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    work = tmp_path_factory.mktemp("consumer")
    # An unrelated distribution whose top-level package is `apps` (common in web projects).
    other = work / "other-apps"
    (other / "apps").mkdir(parents=True)
    (other / "apps" / "__init__.py").write_text('def greeting() -> str:\n    return "not event-platform"\n')
    (other / "apps" / "py.typed").write_text("")
    (other / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "other-apps"
        version = "1.0"
        [tool.setuptools.package-data]
        apps = ["py.typed"]
    '''))
    # Built from a copy: setuptools builds in the source tree, and a build/ left in the checkout
    # would carry deleted modules into the next wheel.
    source = work / "event-platform"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".pulumi-*", ".*_cache", "build", "*.egg-info", "rendered", "__pycache__", ".cluster"))
    root = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    env = Venv(root, work)
    # Not editable: what a user gets from the built wheel. The exact pins this repository tests.
    env.run("-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source), str(other),
            _pinned("mypy"), "-c", str(REPO / "requirements.txt"))
    (work / "mypy.ini").write_text(MYPY_CONFIG)
    yield env


def test_the_unrelated_apps_package_keeps_its_name(venv: Venv) -> None:
    done = venv.run("-c", "import apps, event_platform.apps.runtime.topology as t; print(apps.greeting(), t.__name__)")
    assert done.stdout.split() == ["not", "event-platform", "event_platform.apps.runtime.topology"]


def test_only_event_platform_and_the_deprecated_infra_are_installed(venv: Venv) -> None:
    done = venv.run("-c", "from importlib.metadata import files; "
                          "print(sorted({f.parts[0] for f in files('event-platform') if f.parts[0].isidentifier()}))")
    assert done.stdout.strip() == "['event_platform', 'infra']"


def test_the_package_is_typed_and_ships_its_data(venv: Venv) -> None:
    done = venv.run("-c", "import event_platform, pathlib; root = pathlib.Path(event_platform.__file__).parent; "
                          "dashboards = list((root / 'infra' / 'dashboards').glob('*.json')); "
                          "policy = root / 'policy' / 'PulumiPolicy.yaml'; "
                          "print((root / 'py.typed').is_file(), len(dashboards), policy.is_file())")
    assert done.stdout.split() == ["True", "5", "True"]


def test_a_program_type_checks_against_the_components(venv: Venv) -> None:
    (venv.work / "consumer.py").write_text(CONSUMER)
    done = venv.run("-m", "mypy", "--config-file", "mypy.ini", "consumer.py", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # And it runs: importing the components needs only the distribution's own dependencies.
    assert venv.run("-c", "import consumer; print(consumer.build.__name__)").stdout.strip() == "build"


def test_a_mistyped_argument_is_refused_by_mypy(venv: Venv) -> None:
    (venv.work / "mistyped.py").write_text(MISTYPED)
    done = venv.run("-m", "mypy", "--config-file", "mypy.ini", "mistyped.py", check=False)
    assert done.returncode == 1
    assert 'Argument "partitions" to "KafkaTopicArgs" has incompatible type "str"; expected "int"' in done.stdout


def test_the_old_infra_name_warns_once_and_is_the_same_package(venv: Venv) -> None:
    program = textwrap.dedent('''
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import infra
            from infra.kafka import KafkaCluster
            import infra.workloads
        import event_platform.infra
        from event_platform.infra.kafka import KafkaCluster as New
        assert infra is event_platform.infra and KafkaCluster is New
        assert infra.workloads is event_platform.infra.workloads
        print(len([w for w in caught if issubclass(w.category, DeprecationWarning) and "'infra'" in str(w.message)]))
    ''')
    assert venv.run("-c", program).stdout.strip() == "1"
