"""Configuration from environment variables (the contract the Pulumi workloads fill in).

Every name is listed in apps/README.md. Invalid or missing values stop the process before it
connects anywhere, with one line per problem naming the variable and what it should hold.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal, Self, TypeVar

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from event_platform.apps.runtime.envelope import ContentMode


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(StrEnum):
    SCRAM_SHA_512 = "SCRAM-SHA-512"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    PLAIN = "PLAIN"


class OffsetReset(StrEnum):
    EARLIEST = "earliest"
    LATEST = "latest"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class ConfigurationError(SystemExit):
    """Bad environment: exits the process with a readable list of what to fix."""


class KafkaSettings(BaseSettings):
    """How to reach Kafka. Field names map 1:1 to upper-case environment variables."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore", frozen=True)

    bootstrap_servers: str = Field(min_length=1, description="host:port[,host:port...]")
    security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: str | None = Field(default=None, repr=False)
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    client_id: str | None = None

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Self:
        uses_sasl = self.security_protocol in (SecurityProtocol.SASL_SSL, SecurityProtocol.SASL_PLAINTEXT)
        if uses_sasl and not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol.value} needs KAFKA_SASL_MECHANISM "
                "(SCRAM-SHA-512 on the platform), KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if not uses_sasl and self.sasl_mechanism:
            raise ValueError(
                "KAFKA_SASL_MECHANISM is set but KAFKA_SECURITY_PROTOCOL is "
                f"{self.security_protocol.value}: use SASL_SSL (or SASL_PLAINTEXT) to enable SASL"
            )
        return self

    @model_validator(mode="after")
    def _tls_files_exist(self) -> Self:
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"KAFKA_{name.upper()}={path} is not a readable file")
        return self


class RabbitMQSettings(BaseSettings):
    """How to reach RabbitMQ (BROKER=rabbitmq). Topology per topic: a fanout exchange and a
    stream of the same name; per consumer group and topic a quorum queue `<group>.<topic>`."""

    model_config = SettingsConfigDict(env_prefix="RABBITMQ_", extra="ignore", frozen=True)

    url: str = Field(min_length=1, pattern=r"^amqps?://", description="amqp[s]://user:pass@host:port/vhost")
    # Unacknowledged deliveries per consumer: a poll batch is acknowledged as one, so at least
    # MAX_POLL_RECORDS keeps the pipe full while a batch is processed.
    prefetch: int = Field(default=500, ge=1, le=65_535)
    # Quorum-queue x-delivery-limit: a message redelivered this often (crash loops, not handler
    # failures, which the processor retries and dead-letters itself) goes to the dead-letter
    # exchange. 3.10 defaults to unlimited, 4.x to 20: always set explicitly.
    delivery_limit: int = Field(default=20, ge=1, le=1_000)
    # pika services heartbeats only while the adapter is called (poll/complete): a polled batch
    # must be completed within about this long, or the broker drops the connection and
    # redelivers the batch (lower MAX_POLL_RECORDS for slow handlers). 0 disables heartbeats.
    heartbeat_s: int = Field(default=60, ge=0, le=600)
    connect_timeout_s: float = Field(default=10.0, gt=0)


class NatsSettings(BaseSettings):
    """How to reach NATS JetStream (BROKER=nats). Topology per topic: a stream (subject = topic);
    per consumer group a durable pull consumer on each stream it reads."""

    model_config = SettingsConfigDict(env_prefix="NATS_", extra="ignore", frozen=True)

    url: str = Field(min_length=1, pattern=r"^(nats|tls)://", description="nats://host:port[,nats://...]")
    # Consumer max_deliver: deliveries before the max-deliveries advisory dead-letters a message.
    max_deliver: int = Field(default=20, ge=2, le=1_000)
    user: str | None = None
    password: str | None = Field(default=None, repr=False)
    credentials_file: Path | None = None
    # TLS: the CA that signed the servers' certificates (a `tls://` URL or a server requiring TLS).
    ca_file: Path | None = None
    # Replicas of the streams and buckets the runtime creates itself (dead letters, effects
    # journals, topics the platform did not declare); the platform sets its preset's value.
    stream_replicas: int = Field(default=1, ge=1, le=5)
    connect_timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _credentials_complete(self) -> Self:
        if bool(self.user) != bool(self.password):
            raise ValueError("NATS_USER and NATS_PASSWORD go together: set both or neither")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(f"NATS_CA_FILE={self.ca_file} is not a readable file")
        return self


BrokerKind = Literal["kafka", "rabbitmq", "nats"]


class RuntimeSettings(BaseSettings):
    """Settings every consuming service shares."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9-]*$")
    broker: BrokerKind = Field(default="kafka", description="which adapter to use")
    consumer_group: str | None = Field(default=None, description="defaults to SERVICE_NAME")
    auto_offset_reset: OffsetReset = OffsetReset.EARLIEST
    # Stable across restarts of one instance, so a restarted instance fences (and aborts) the
    # transaction its predecessor left open instead of letting it block read_committed readers.
    transactional_id: str | None = Field(default=None, description="defaults to <group>-<HOSTNAME>")
    hostname: str = Field(default="local", validation_alias="HOSTNAME")
    dead_letter_topic: str | None = Field(default=None, description="defaults to <group>.dlq")
    effects_journal_topic: str | None = Field(default=None, description="defaults to <group>.effects")
    content_mode: ContentMode = ContentMode.BINARY

    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_initial_delay_ms: int = Field(default=200, ge=0)
    retry_max_delay_ms: int = Field(default=10_000, ge=0)
    max_poll_records: int = Field(default=200, ge=1, le=10_000)
    session_timeout_ms: int = Field(default=10_000, ge=3_000)
    transaction_timeout_ms: int = Field(default=30_000, ge=1_000)
    shutdown_timeout_s: float = Field(default=20.0, gt=0)

    health_port: int = Field(default=8080, ge=0, le=65535)
    metrics_port: int = Field(default=9090, ge=0, le=65535)
    log_level: LogLevel = LogLevel.INFO
    # The only writable path in the container (read-only root filesystem); optional.
    state_dir: Path | None = None

    @property
    def group(self) -> str:
        return self.consumer_group or self.service_name

    @property
    def dlq_topic(self) -> str:
        return self.dead_letter_topic or f"{self.group}.dlq"

    @property
    def journal_topic(self) -> str:
        return self.effects_journal_topic or f"{self.group}.effects"

    @property
    def txn_id(self) -> str:
        return self.transactional_id or f"{self.group}-{self.hostname}"

    @model_validator(mode="after")
    def _delays_ordered(self) -> Self:
        if self.retry_max_delay_ms < self.retry_initial_delay_ms:
            raise ValueError("RETRY_MAX_DELAY_MS must be >= RETRY_INITIAL_DELAY_MS")
        return self


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load(settings_type: type[SettingsT]) -> SettingsT:
    """Read `settings_type` from the environment or exit with a list of what to fix."""
    try:
        return settings_type()
    except ValidationError as error:
        raise ConfigurationError(describe(error, settings_type)) from None


def load_all(*settings_types: type[BaseSettings]) -> list[BaseSettings]:
    """Like `load` for several models, reporting every problem of all of them at once."""
    loaded, problems = [], []
    for settings_type in settings_types:
        try:
            loaded.append(settings_type())
        except ValidationError as error:
            problems.append(describe(error, settings_type))
    if problems:
        raise ConfigurationError("\n".join(problems))
    return loaded


def describe(error: ValidationError, settings_type: type[BaseSettings]) -> str:
    prefix = str(settings_type.model_config.get("env_prefix", ""))
    lines = [f"invalid configuration ({settings_type.__name__}):"]
    for problem in error.errors():
        names = [str(part) for part in problem["loc"]]
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "missing":
            message = "is required but not set"
        if names:  # a field; cross-field checks (no location) name their variables themselves
            message = f"{(prefix + '_'.join(names)).upper()}: {message}"
        lines.append(f"  {message}")
    return "\n".join(lines)


def variables(settings_type: type[BaseSettings]) -> dict[str, bool]:
    """The environment variables `settings_type` reads, each with whether it is required: the
    contract a deployment (event_platform.infra.workloads) is checked against."""
    prefix = str(settings_type.model_config.get("env_prefix", ""))
    found = {}
    for name, field in settings_type.model_fields.items():
        alias = field.validation_alias
        variable = alias if isinstance(alias, str) else prefix + name
        found[variable.upper()] = field.is_required()
    return found
