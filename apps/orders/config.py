"""Settings specific to the order pipeline (on top of event_platform.apps.runtime.settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SimulationSettings(BaseSettings):
    """The simulated payment gateway, carrier and mailer."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    simulation_dir: Path | None = Field(default=None, description="where simulators record calls")
    simulated_latency_ms: int = Field(default=0, ge=0, le=60_000)

    @property
    def latency_s(self) -> float:
        return self.simulated_latency_ms / 1000


class InventorySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # JSON object SKU → units on hand at the start of the ledger, e.g. {"SKU-1": 100}.
    inventory_initial_stock: dict[str, int] = Field(default_factory=dict)

    @field_validator("inventory_initial_stock")
    @classmethod
    def _no_negative_stock(cls, stock: dict[str, int]) -> dict[str, int]:
        negative = sorted(sku for sku, units in stock.items() if units < 0)
        if negative:
            raise ValueError(f"stock cannot be negative (SKUs {negative})")
        return stock


class OrderApiSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    api_port: int = Field(default=8000, ge=0, le=65535)
