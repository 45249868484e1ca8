"""The client's event-loop thread, connecting (with backoff) and finding or creating a topic's stream."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import ssl
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext, api

from event_platform.apps.runtime.adapter import (
    BrokerError,
)
from event_platform.apps.runtime.retry import connect_with_backoff_async
from event_platform.apps.runtime.settings import NatsSettings
from event_platform.apps.runtime.topology import stream_name

log = logging.getLogger(__name__)

T = TypeVar("T")
KEY_HEADER = "ce-partitionkey"
ID_HEADER = "ce-id"
MSG_ID = "Nats-Msg-Id"
DUPLICATE_WINDOW_S = 120.0
PUBLISH_TIMEOUT_S = 10.0
MAX_IN_FLIGHT = 1_000
FETCH_WAIT_S = 0.5
FETCH_BATCH = 500
ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}"
NATS_ERRORS = (nats.errors.Error, asyncio.TimeoutError, OSError)


# -- the event-loop thread -------------------------------------------------------------------


class _Loop:
    """An asyncio loop on a daemon thread; `run` waits for a coroutine from any thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float, what: str) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError as error:
            future.cancel()
            raise BrokerError(f"{what} timed out after {timeout_s}s") from error
        except NATS_ERRORS as error:
            raise BrokerError(f"{what} failed: {error!r}") from error

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def stop(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(_cancel_tasks(), self.loop).result(5)
        except Exception:  # stopping anyway
            log.debug("cancelling the loop's tasks failed", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


async def _cancel_tasks() -> None:
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def connect(settings: NatsSettings, name: str) -> NatsClient:
    """A connection that reconnects forever on its own; the first connect is retried with
    exponential backoff and full jitter for up to `connect_timeout_s`."""

    async def on_error(error: Exception) -> None:
        log.debug("nats client error", extra={"error": repr(error)})

    async def on_disconnected() -> None:
        log.info("disconnected from NATS")

    async def on_reconnected() -> None:
        log.info("reconnected to NATS")

    options: dict[str, Any] = {
        "servers": settings.url.split(","),
        "name": name,
        "connect_timeout": 2,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "error_cb": on_error,
        "disconnected_cb": on_disconnected,
        "reconnected_cb": on_reconnected,
    }
    if settings.user:
        options.update(user=settings.user, password=settings.password)
    if settings.credentials_file:
        options["user_credentials"] = str(settings.credentials_file)
    if settings.ca_file:
        options["tls"] = ssl.create_default_context(cafile=str(settings.ca_file))
    # Each attempt is bounded: with unlimited reconnect attempts nats-py retries a first connect forever.
    return await connect_with_backoff_async(
        lambda remaining: asyncio.wait_for(nats.connect(**options), timeout=max(0.5, remaining)), NATS_ERRORS,
        settings.connect_timeout_s, lambda error: BrokerError(f"cannot connect to NATS at {settings.url}: {error!r}"))


async def ensure_stream(js: JetStreamContext, topic: str, replicas: int = 1) -> str:
    """The topic's stream: the platform's (declared through NACK) if it exists, else a new one."""
    name = stream_name(topic)
    try:
        await js.stream_info(name)
    except nats.js.errors.NotFoundError:
        await js.add_stream(api.StreamConfig(
            name=name, subjects=[topic], storage=api.StorageType.FILE, retention=api.RetentionPolicy.LIMITS,
            duplicate_window=DUPLICATE_WINDOW_S, allow_direct=True, num_replicas=replicas,
        ))
    return name


# -- wire mapping --------------------------------------------------------------------------------
