"""Order load generator: posts a burst of orders to order-service, then exits (a CronJob).

    python -m event_platform.apps.generator                      # settings from the environment
    python -m event_platform.apps.generator --count 500 --rate 50 --url http://localhost:8000

A deterministic mix (by sequence number) of orders that confirm, orders whose payment is
declined and orders for a SKU that is out of stock, so every saga path carries load. Each order
has an Idempotency-Key, so a retried POST (after a 503 or a timeout) is never a second order.
Exit code 1 if any order was finally refused.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from event_platform.apps.runtime import logs
from event_platform.apps.runtime.settings import load

log = logging.getLogger("event_platform.apps.generator")


class GeneratorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GENERATOR_", extra="ignore", frozen=True)

    url: str = Field(default="http://order-service:8000", description="order-service base URL")
    count: int = Field(default=100, ge=1, le=1_000_000)
    rate_per_s: float = Field(default=10.0, gt=0)
    decline_percent: int = Field(default=10, ge=0, le=100)
    out_of_stock_percent: int = Field(default=10, ge=0, le=100)
    skus: list[str] = Field(default_factory=lambda: ["SKU-1", "SKU-2"])
    out_of_stock_sku: str = "SKU-RARE"
    run_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:8], description="makes idempotency keys unique")


def order_body(seq: int, settings: GeneratorSettings) -> dict[str, Any]:
    bucket = seq * 37 % 100  # 37 is coprime to 100: every 100 orders hit every bucket, interleaved
    declined = bucket < settings.decline_percent
    missing = settings.decline_percent <= bucket < settings.decline_percent + settings.out_of_stock_percent
    sku = settings.out_of_stock_sku if missing else settings.skus[seq % len(settings.skus)]
    return {
        "customer_id": f"load-{seq % 1000}",
        "customer_email": f"load{seq % 1000}@example.com",
        "items": [{"sku": sku, "quantity": 1 + seq % 3, "unit_price_cents": 999}],
        "payment_token": "tok_declined" if declined else "tok_visa",
        "shipping_address": {"name": "Load Test", "street": "1 Main St", "city": "Springfield",
                             "postal_code": "12345", "country": "US"},
    }


def post(url: str, body: dict[str, Any], key: str, attempts: int = 5) -> int:
    request = urllib.request.Request(f"{url}/orders", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Idempotency-Key": key})
    status = 0
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            status = error.code
            if status != 503:
                return status
        except OSError:
            status = 0  # connection refused or timed out: retry
        time.sleep(min(5.0, 0.2 * 2**attempt))
    return status


def run(settings: GeneratorSettings) -> Counter[int]:
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    for seq in range(settings.count):
        delay = started + seq / settings.rate_per_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        statuses[post(settings.url, order_body(seq, settings), f"{settings.run_id}-{seq}")] += 1
    return statuses


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m event_platform.apps.generator",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int)
    parser.add_argument("--rate", type=float, help="orders per second")
    parser.add_argument("--url")
    args = parser.parse_args()
    logs.configure("generator")
    settings = load(GeneratorSettings)
    overrides = {"count": args.count, "rate_per_s": args.rate, "url": args.url}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    statuses = run(settings)
    log.info("done", extra={"statuses": dict(statuses), "count": settings.count, "run_id": settings.run_id})
    return 0 if set(statuses) == {202} else 1


if __name__ == "__main__":
    raise SystemExit(main())
