"""Versioned event payloads: the CloudEvents `type` names the payload model and its version.

`io.eventplatform.order.created.v1` → `OrderCreatedV1`. A consumer that meets a type it has no
model for (an unknown version included) raises `UnknownEventType`, which the processor sends to
the dead-letter topic instead of crashing on it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

TYPE_PATTERN = re.compile(r"^(?P<name>[a-z][a-z0-9]*(\.[a-z][a-z0-9_-]*)+)\.v(?P<version>[1-9][0-9]*)$")


class EventPayload(BaseModel):
    """Base of every event payload. Subclasses set EVENT_TYPE, e.g. `io.eventplatform.x.y.v1`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    EVENT_TYPE: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("EVENT_TYPE")
        if event_type is not None and not TYPE_PATTERN.match(event_type):
            raise ValueError(
                f"{cls.__name__}.EVENT_TYPE={event_type!r} must look like "
                "'io.eventplatform.<entity>.<fact>.v<N>' (the version is part of the type)"
            )

    def json_bytes(self) -> bytes:
        """The payload as JSON bytes: what `model_dump_json().encode()` gives, without the round
        trip through str (half the cost; this runs for every event published)."""
        return type(self).__pydantic_serializer__.to_json(self)


class EventRejected(Exception):
    """An event that can never be processed as sent; retrying it cannot help."""

    reason = "rejected"


class MalformedEvent(EventRejected):
    """The bytes are not a CloudEvent (bad encoding, missing attributes, broken JSON)."""

    reason = "malformed"


class UnknownEventType(EventRejected):
    """No payload model for this type, or a known type at a version this service lacks."""

    reason = "unknown-type"


class InvalidPayload(EventRejected):
    """The type is known but the data does not validate against its model."""

    reason = "invalid-payload"


def split_type(event_type: str) -> tuple[str, int]:
    """`io.eventplatform.order.created.v2` → (`io.eventplatform.order.created`, 2)."""
    match = TYPE_PATTERN.match(event_type)
    if match is None:
        raise UnknownEventType(f"event type {event_type!r} carries no version suffix '.v<N>'")
    return match.group("name"), int(match.group("version"))


class EventRegistry:
    """The payload models a service understands, looked up by CloudEvents type."""

    def __init__(self, *models: type[EventPayload]) -> None:
        self._models: dict[str, type[EventPayload]] = {}
        for model in models:
            self._models[model.EVENT_TYPE] = model

    def __contains__(self, event_type: str) -> bool:
        return event_type in self._models

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._models)

    def model_for(self, event_type: str) -> type[EventPayload]:
        model = self._models.get(event_type)
        if model is not None:
            return model
        name, version = split_type(event_type)
        known = sorted(v for t in self._models if (v := _version_of(t, name)) is not None)
        if known:
            raise UnknownEventType(
                f"{name} version {version} is unknown here (this service reads versions {known})"
            )
        raise UnknownEventType(f"event type {event_type!r} is not registered")

    def parse(self, event_type: str, data: object) -> EventPayload:
        model = self._models.get(event_type) or self.model_for(event_type)  # (the error, if unknown)
        try:
            if isinstance(data, (bytes, str)):
                return model.model_validate_json(data)
            return model.model_validate(data)
        except ValidationError as error:
            raise InvalidPayload(f"{event_type}: {_first_errors(error)}") from error


def _version_of(event_type: str, name: str) -> int | None:
    other_name, version = split_type(event_type)
    return version if other_name == name else None


def _first_errors(error: ValidationError, limit: int = 3) -> str:
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in error.errors()[:limit]
    ]
    return "; ".join(parts)
