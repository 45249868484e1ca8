"""What the three local-broker launchers share: finding an install, free ports, foreground runs."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol


class BrokerUnavailable(RuntimeError):
    """A broker is not installed or would not start: a set-up failure, never a skip."""


def install_home(script: Path, what: str, error: type[BrokerUnavailable] = BrokerUnavailable) -> Path:
    """The install folder `<script> path` prints, or a clear set-up error naming the fix."""
    result = subprocess.run([str(script), "path"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise error(f"{what} is not installed for the apps tests: run `make setup` "
                    f"(or `{script} install`).\n{result.stderr.strip()}")
    return Path(result.stdout.strip())


# Below Linux's ephemeral range (32768-60999): a port the kernel hands to an outgoing connection
# between our check and the server's bind would otherwise make the server fail to start.
_PORT_RANGE = (20000, 32000)
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, never handed out twice by this process."""
    for _ in range(200):
        port = random.randrange(*_PORT_RANGE)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise BrokerUnavailable(f"no free loopback port in {_PORT_RANGE[0]}-{_PORT_RANGE[1]}")


class Server(Protocol):
    process: subprocess.Popen[bytes] | None


def run_in_foreground(server: Server, banner: str, stop: Callable[[], None]) -> int:
    """Print how to reach the server, wait until Ctrl-C or SIGTERM, then stop it."""
    print(f"{banner}  (Ctrl-C stops it)", flush=True)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        while server.process is not None and server.process.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
    return 0


def terminate(process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    """Stop a server cleanly (SIGTERM: it flushes and shuts down), SIGKILL if it hangs."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
