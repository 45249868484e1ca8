"""HTTP liveness and readiness probes.

- `GET /livez`: the processing loop has made progress recently (it ticks at least once per
  poll timeout, idle or not); a wedged loop turns this red and Kubernetes restarts the pod.
- `GET /readyz`: connected to the broker and holding assigned partitions; only then does the
  pod count as ready (and, for the order API, receive traffic).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Heartbeat:
    """Ticked by the processing loop; stale ticks mean the loop is stuck."""

    def __init__(self, stale_after_s: float) -> None:
        self.stale_after_s = stale_after_s
        self._last = time.monotonic()

    def tick(self) -> None:
        self._last = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self._last < self.stale_after_s


class HealthServer:
    def __init__(self, port: int, live: Callable[[], bool], ready: Callable[[], bool]) -> None:
        probes = {"/livez": live, "/healthz": live, "/readyz": ready}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                probe = probes.get(self.path.split("?")[0])
                if probe is None:
                    self.send_error(404)
                    return
                healthy = probe()
                body = b"ok\n" if healthy else b"not ok\n"
                self.send_response(200 if healthy else 503)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # probes every few seconds would drown the JSON logs

        self._server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
