"""A private RabbitMQ node on loopback, for tests and benchmarks.

The server is Debian's package (`scripts/brokers/rabbitmq.sh install`). Each node gets its own
node name, AMQP / management / distribution ports, its own Erlang port mapper (epmd on a private
port bound to 127.0.0.1, so it never collides with another node or a system-wide epmd), its own
data, log and config files and its own Erlang cookie (HOME points into its folder). `restart()`
keeps all of that, so clients reconnect to the same address and find their queues again.

    python scripts/brokers/local_rabbitmq.py          # run one in the foreground (Ctrl-C stops it)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.brokers.installed import BrokerUnavailable, free_port, install_home, run_in_foreground, terminate

RABBITMQ_SH = Path(__file__).resolve().parent / "rabbitmq.sh"


class RabbitMQUnavailable(BrokerUnavailable):
    """The server is not installed or would not start: a set-up failure, never a skip."""


def rabbitmq_home() -> Path:
    """The install folder (bin/ -> server scripts, lib/ PerfTest jars), or a clear set-up error."""
    return install_home(RABBITMQ_SH, "RabbitMQ", RabbitMQUnavailable)


@dataclass
class LocalRabbitMQ:
    data_dir: Path
    home: Path = field(default_factory=rabbitmq_home)
    port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    epmd_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def node_name(self) -> str:
        return f"ep-{self.port}@localhost"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.out"

    def env(self) -> dict[str, str]:
        """The environment of this node's server and of `rabbitmqctl` calls against it."""
        return {
            **os.environ,
            "HOME": str(self.data_dir),  # the Erlang cookie lives here, private to this node
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_CONFIG_FILE": str(self.data_dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.data_dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.data_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.data_dir / "log"),
            "RABBITMQ_PID_FILE": str(self.data_dir / "node.pid"),
            "RABBITMQ_ALLOW_INPUT": "",
            # Small fixed schedulers: the machine is shared and tests need little CPU.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "+S 2:2 +sbwt none +sbwtdcpu none +sbwtdio none",
        }

    def start(self, timeout_s: float = 90.0) -> None:
        if not (self.data_dir / "rabbitmq.conf").exists():
            self._write_config()
        self._launch(timeout_s)

    def stop(self, timeout_s: float = 60.0) -> None:
        """Clean shutdown (SIGTERM makes the node stop gracefully), then SIGKILL if it hangs."""
        terminate(self.process, timeout_s)
        self.process = None

    def close(self) -> None:
        """Stop the node and its private epmd."""
        self.stop()
        subprocess.run(["epmd", "-port", str(self.epmd_port), "-kill"], env=self.env(),
                       capture_output=True, timeout=10, check=False)

    def restart(self, timeout_s: float = 90.0) -> None:
        self.stop()
        self._launch(timeout_s)

    def ctl(self, *args: str, timeout_s: float = 60.0) -> str:
        """Run `rabbitmqctl -n <node> ...` against this node; returns stdout."""
        done = subprocess.run([str(self.home / "bin" / "rabbitmqctl"), "-n", self.node_name, *args],
                              env=self.env(), capture_output=True, text=True, timeout=timeout_s, check=False)
        if done.returncode != 0:
            raise RabbitMQUnavailable(f"rabbitmqctl {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def _write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "rabbitmq.conf").write_text(
            "\n".join([
                f"listeners.tcp.1 = 127.0.0.1:{self.port}",
                f"management.tcp.port = {self.management_port}",
                "management.tcp.ip = 127.0.0.1",
                "collect_statistics_interval = 1000",
                "log.console = true",
                "log.console.level = warning",
                "log.file = false",
                # Enough for a laptop-sized test run; the defaults assume a dedicated host.
                "vm_memory_high_watermark.relative = 0.2",
                "disk_free_limit.absolute = 50MB",
                "",
            ])
        )
        (self.data_dir / "enabled_plugins").write_text("[rabbitmq_management].\n")

    def _launch(self, timeout_s: float) -> None:
        log = self.log_file.open("ab")
        self.process = subprocess.Popen([str(self.home / "bin" / "rabbitmq-server")], env=self.env(),
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RabbitMQUnavailable(
                    f"RabbitMQ node {self.node_name} exited with {self.process.returncode} while starting:\n"
                    + self.log_file.read_text(errors="replace")[-4000:]
                )
            done = subprocess.run([str(self.home / "bin" / "rabbitmqctl"), "-n", self.node_name, "-q",
                                   "await_startup", "--timeout", "5"], env=self.env(), capture_output=True,
                                  timeout=60, check=False)
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RabbitMQUnavailable(
                    f"RabbitMQ node {self.node_name} did not start within {timeout_s}s:\n"
                    + self.log_file.read_text(errors="replace")[-4000:]
                )
            time.sleep(0.5)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="rabbitmq-") as data:
        node = LocalRabbitMQ(data_dir=Path(data))
        node.start()
        return run_in_foreground(node, f"RABBITMQ_URL={node.url}  management: {node.management_url}", node.close)


if __name__ == "__main__":
    raise SystemExit(main())
