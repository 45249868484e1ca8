"""A private nats-server with JetStream on loopback, for tests and benchmarks.

The binary comes from `scripts/brokers/nats.sh install` (built from the Go module proxy, cached
outside the checkout). Each server gets free loopback ports (client + monitoring) and a
throw-away JetStream store; `restart()` keeps both, so clients reconnect to the same address and
find their streams and consumers again.

    python scripts/brokers/local_nats.py          # run one in the foreground (Ctrl-C stops it)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.brokers.installed import BrokerUnavailable, free_port, install_home, run_in_foreground, terminate

NATS_SH = Path(__file__).resolve().parent / "nats.sh"


class NatsUnavailable(BrokerUnavailable):
    """The server is not installed or would not start: a set-up failure, never a skip."""


def nats_home() -> Path:
    """The install folder (bin/nats-server, bin/nats), or a clear set-up error."""
    return install_home(NATS_SH, "NATS", NatsUnavailable)


@dataclass
class LocalNats:
    data_dir: Path
    home: Path = field(default_factory=nats_home)
    port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    # Extra server configuration (e.g. an `authorization` block), written to a file passed with -c.
    config: str | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def command(self) -> list[str]:
        return [str(self.home / "bin" / "nats-server"), "-a", "127.0.0.1", "-p", str(self.port),
                "-m", str(self.monitor_port), "-js", "-sd", str(self.data_dir / "jetstream"),
                "--server_name", f"test-{self.port}", *self._config_arguments()]

    def _config_arguments(self) -> list[str]:
        if self.config is None:
            return []
        path = self.data_dir / "server.conf"
        path.write_text(self.config)
        return ["-c", str(path)]

    def start(self, timeout_s: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = self.command()
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout_s
        while not self._healthy():
            if self.process.poll() is not None:
                raise NatsUnavailable(f"nats-server exited with {self.process.returncode} while starting:\n"
                                      + self.log_file.read_text(errors="replace")[-4000:])
            if time.monotonic() > deadline:
                self.stop()
                raise NatsUnavailable(f"nats-server did not become healthy within {timeout_s}s:\n"
                                      + self.log_file.read_text(errors="replace")[-4000:])
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.monitor_url}/healthz?js-enabled-only=true", timeout=1) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout_s: float = 30.0) -> None:
        """Clean shutdown (SIGTERM; JetStream flushes its store), SIGKILL if it hangs."""
        terminate(self.process, timeout_s)
        self.process = None

    def restart(self, timeout_s: float = 30.0) -> None:
        self.stop()
        self.start(timeout_s)

    def close(self) -> None:
        self.stop()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="nats-") as data:
        server = LocalNats(data_dir=Path(data))
        server.start()
        return run_in_foreground(server, f"NATS_URL={server.url}  monitoring: {server.monitor_url}", server.close)


if __name__ == "__main__":
    raise SystemExit(main())
