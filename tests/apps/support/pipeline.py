"""Runs the order pipeline's services as real processes (`python -m event_platform.apps.orders.<service>`).

Each service gets its own health/metrics/API ports and a log file in the test's folder; the
simulated gateway, carrier and mailer write what they were asked to do to SIMULATION_DIR.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from scripts.brokers.local_kafka import free_port
from tests.apps.support.brokers import BrokerUnderTest

REPO = Path(__file__).resolve().parents[3]
MODULES = {
    "order-service": "event_platform.apps.orders.order_service",
    "inventory-service": "event_platform.apps.orders.inventory_service",
    "payment-service": "event_platform.apps.orders.payment_service",
    "shipping-service": "event_platform.apps.orders.shipping_service",
    "notification-service": "event_platform.apps.orders.notification_service",
}
STOCK = {"SKU-1": 1_000_000, "SKU-2": 1_000_000, "SKU-RARE": 0}


def order(n: int, *, token: str = "tok_visa", sku: str = "SKU-1", quantity: int = 1) -> dict[str, Any]:
    return {
        "customer_id": f"cust-{n}",
        "customer_email": f"customer{n}@example.com",
        "items": [{"sku": sku, "quantity": quantity, "unit_price_cents": 1250}],
        "payment_token": token,
        "shipping_address": {"name": f"Customer {n}", "street": "1 Main St", "city": "Springfield",
                             "postal_code": "12345", "country": "US"},
    }


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen[bytes]
    health_port: int
    metrics_port: int
    api_port: int | None
    log_path: Path

    def ready(self) -> bool:
        return _http_status(f"http://127.0.0.1:{self.health_port}/readyz") == 200

    def live(self) -> bool:
        return _http_status(f"http://127.0.0.1:{self.health_port}/livez") == 200

    def metric(self, name: str, **labels: str) -> float:
        """The value of one Prometheus sample from the service's /metrics (0 if absent)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
        return 0.0

    def log_entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_text().splitlines() if line.startswith("{")]

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Pipeline:
    broker: BrokerUnderTest
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.simulation_dir = self.workdir / "outside-world"
        self.simulation_dir.mkdir(parents=True, exist_ok=True)

    # -- processes -----------------------------------------------------------------------

    def start(self, *names: str, wait: bool = True, **env: str) -> None:
        for name in names or tuple(MODULES):
            self.services[name] = self._spawn(name, env)
        if wait:
            self.wait_ready(*(names or tuple(MODULES)))

    def start_replica(self, name: str, replica: str, **env: str) -> str:
        """Another instance of `name` (its own pod: own HOSTNAME, so its own transactional id)."""
        key = f"{name}@{replica}"
        self.services[key] = self._spawn(name, {"HOSTNAME": replica, **env}, key)
        return key

    def _spawn(self, name: str, extra_env: dict[str, str], key: str | None = None) -> ServiceProcess:
        health_port, metrics_port = free_port(), free_port()
        api_port = free_port() if name == "order-service" else None
        log_path = self.workdir / f"{key or name}.log"
        env = {
            **os.environ,
            **self.broker.service_env(),
            "SERVICE_NAME": name,
            "HOSTNAME": "test",  # stable transactional id across restarts, as a StatefulSet gives
            "HEALTH_PORT": str(health_port),
            "METRICS_PORT": str(metrics_port),
            "SESSION_TIMEOUT_MS": "6000",
            "MAX_ATTEMPTS": "3",
            "RETRY_INITIAL_DELAY_MS": "100",
            "RETRY_MAX_DELAY_MS": "500",
            "SIMULATION_DIR": str(self.simulation_dir),
            "INVENTORY_INITIAL_STOCK": json.dumps(STOCK),
            "PYTHONPATH": str(REPO),
            **({"API_PORT": str(api_port)} if api_port else {}),
            **self.env,
            **extra_env,
        }
        log = log_path.open("ab")
        process = subprocess.Popen([sys.executable, "-m", MODULES[name]], cwd=REPO, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return ServiceProcess(key or name, process, health_port, metrics_port, api_port, log_path)

    def wait_ready(self, *names: str, timeout_s: float = 60) -> None:
        for name in names:
            service = self.services[name]
            self.wait_for(lambda s=service: s.ready(), f"{name} ready", timeout_s, check=service)

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> int:
        service = self.services.pop(name)
        service.process.send_signal(sig)
        return service.process.wait(60)

    def stop_all(self) -> None:
        for name in list(self.services):
            service = self.services[name]
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        for name in list(self.services):
            service = self.services.pop(name)
            try:
                service.process.wait(30)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait(10)

    # -- the outside world -----------------------------------------------------------------

    def post_order(self, body: dict[str, Any], idempotency_key: str | None = None) -> tuple[int, dict[str, Any]]:
        api = self.services["order-service"].api_port
        request = urllib.request.Request(f"http://127.0.0.1:{api}/orders", data=json.dumps(body).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        if idempotency_key:
            request.add_header("Idempotency-Key", idempotency_key)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def orders(self) -> dict[str, dict[str, Any]]:
        api = self.services["order-service"].api_port
        with urllib.request.urlopen(f"http://127.0.0.1:{api}/orders", timeout=30) as response:
            return {view["order_id"]: view for view in json.loads(response.read())["orders"]}

    def calls(self, system: str) -> list[dict[str, Any]]:
        path = self.simulation_dir / f"{system}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def effects(self, system: str) -> Counter[str]:
        """Order id → how many times the outside world acted for it (first requests only)."""
        return Counter(call["order_id"] for call in self.calls(system) if not call["repeated"])

    def redundant_requests(self, system: str) -> int:
        """Requests that repeated an idempotency key (the runtime's journal should prevent
        them; the provider's idempotency key makes them harmless)."""
        return sum(1 for call in self.calls(system) if call["repeated"])

    def wait_for(self, condition: Callable[[], bool], what: str, timeout_s: float = 60,
                 check: ServiceProcess | None = None) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if condition():
                    return
            except (OSError, urllib.error.URLError, KeyError):
                pass  # not up yet
            for service in [check] if check else list(self.services.values()):
                if service.process.poll() is not None:
                    raise AssertionError(
                        f"{service.name} exited with {service.process.returncode} while waiting for {what}:\n"
                        + service.log_text()[-4000:]
                    )
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {s.name}\n{s.log_text()[-1500:]}" for s in self.services.values())
                raise AssertionError(f"timed out after {timeout_s}s waiting for {what}\n{logs}")
            time.sleep(0.25)

    def wait_terminal(self, order_ids: list[str], timeout_s: float = 90) -> dict[str, dict[str, Any]]:
        def all_terminal() -> bool:
            views = self.orders()
            return all(views.get(o, {}).get("status") in ("CONFIRMED", "CANCELLED") for o in order_ids)

        self.wait_for(all_terminal, f"{len(order_ids)} orders to finish", timeout_s)
        return self.orders()


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
