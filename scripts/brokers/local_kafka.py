"""A private single-node Apache Kafka (KRaft) on loopback, for tests and benchmarks.

The jars come from `scripts/brokers/kafka.sh install` (Maven Central, cached outside the
checkout). Each broker gets free loopback ports and a throw-away data folder; `restart()` keeps
both so clients can reconnect to the same address and find their data again.

    python scripts/brokers/local_kafka.py          # run one in the foreground (Ctrl-C stops it)
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

# Runnable as a script too (python scripts/brokers/local_kafka.py): make the repo importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.brokers.installed import BrokerUnavailable, free_port, install_home, run_in_foreground, terminate

KAFKA_SH = Path(__file__).resolve().parent / "kafka.sh"
READY_LINE = "Kafka Server started"


class KafkaUnavailable(BrokerUnavailable):
    """The broker is not installed or would not start: a set-up failure, never a skip."""


def kafka_home() -> Path:
    """The install folder (lib/ + config/) that kafka.sh manages, or a clear set-up error."""
    return install_home(KAFKA_SH, "Apache Kafka", KafkaUnavailable)


def _cluster_id() -> str:
    """What `kafka-storage.sh random-uuid` prints, without paying a JVM start for it. Like
    Kafka's own Uuid.randomUuid(), never one starting with "-", which would read as an option."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


@dataclass(frozen=True)
class SaslSslListener:
    keystore: Path  # PKCS12 with the broker's key and certificate (signed by the test CA)
    keystore_password: str
    scram_users: dict[str, str]  # user → password, SCRAM-SHA-512 credentials written at format time
    port: int = field(default_factory=free_port)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class LocalKafka:
    data_dir: Path
    home: Path = field(default_factory=kafka_home)
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    heap: str = "512m"
    # A second client listener speaking SASL_SSL with SCRAM-SHA-512 (the platform's prod
    # listener), next to the PLAINTEXT one tests administer the broker through.
    sasl_ssl: SaslSslListener | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    def java(self, main_class: str, *args: str, heap: str | None = None, log_config: str = "log4j2.xml") -> list[str]:
        """A `java` command line running `main_class` from the Kafka jars."""
        return [
            "java",
            f"-Xmx{heap or self.heap}",
            f"-Xms{heap or self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'config' / log_config}",
            "-cp",
            str(self.home / "lib" / "*"),
            main_class,
            *args,
        ]

    def start(self, timeout_s: float = 90.0) -> None:
        if not self.properties_file.exists():
            self._write_properties()
            self._format_storage()
        self._launch(timeout_s)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Controlled shutdown (SIGTERM), escalating to SIGKILL if it hangs."""
        terminate(self.process, timeout_s)
        self.process = None

    def restart(self, timeout_s: float = 90.0) -> None:
        self.stop()
        self._launch(timeout_s)

    def _write_properties(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        logs = self.data_dir / "kraft-logs"
        single_node = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(logs),
            # Topics are created explicitly, as Strimzi KafkaTopics are in the cluster.
            "auto.create.topics.enable": "false",
            "num.partitions": "3",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Lets tests use short consumer sessions so a killed consumer is noticed quickly.
            "group.min.session.timeout.ms": "3000",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        if self.sasl_ssl is not None:
            single_node.update(self._sasl_ssl_properties(self.sasl_ssl))
        text = "".join(f"{key}={value}\n" for key, value in single_node.items())
        self.properties_file.write_text(text)

    def _sasl_ssl_properties(self, listener: SaslSslListener) -> dict[str, str]:
        sasl = f"SASL_SSL://127.0.0.1:{listener.port}"
        prefix = "listener.name.sasl_ssl"
        return {
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},{sasl},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},{sasl},"
                                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            f"{prefix}.sasl.enabled.mechanisms": "SCRAM-SHA-512",
            f"{prefix}.scram-sha-512.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            f"{prefix}.ssl.keystore.type": "PKCS12",
            f"{prefix}.ssl.keystore.location": str(listener.keystore),
            f"{prefix}.ssl.keystore.password": listener.keystore_password,
        }

    def _format_storage(self) -> None:
        command = self.java(
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={_cluster_id()}",
            "-c",
            str(self.properties_file),
            "--standalone",
            "--ignore-formatted",
            *[argument for user, password in (self.sasl_ssl.scram_users.items() if self.sasl_ssl else ())
              for argument in ("--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]")],
            heap="256m",
        )
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KafkaUnavailable(
                f"formatting Kafka storage failed:\n{result.stdout}\n{result.stderr}"
            )

    def _launch(self, timeout_s: float) -> None:
        log = self.log_file.open("ab")
        start_offset = self.log_file.stat().st_size
        self.process = subprocess.Popen(
            self.java("kafka.Kafka", str(self.properties_file)),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the test terminal is ours to handle
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise KafkaUnavailable(
                    f"Kafka exited with {self.process.returncode} while starting; "
                    f"log tail:\n{self._log_tail(start_offset)}"
                )
            if READY_LINE in self._log_text(start_offset) and self._accepts_connections():
                return
            time.sleep(0.2)
        self.stop()
        raise KafkaUnavailable(
            f"Kafka did not start within {timeout_s:.0f}s; log tail:\n{self._log_tail(start_offset)}"
        )

    def _accepts_connections(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def _log_text(self, start_offset: int) -> str:
        with self.log_file.open("rb") as log:
            log.seek(start_offset)
            return log.read().decode("utf-8", "replace")

    def _log_tail(self, start_offset: int, lines: int = 40) -> str:
        return "\n".join(self._log_text(start_offset).splitlines()[-lines:])


def main() -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="kafka-"))
    broker = LocalKafka(data_dir=data_dir)
    broker.start()
    return run_in_foreground(broker, f"Kafka {broker.home.name} on {broker.bootstrap_servers} (data {data_dir})",
                             broker.stop)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
