"""The environment a workload's Deployment gives the runtime, checked against the runtime's models.

The runtime's settings models (event_platform.apps.runtime.settings) are the contract: every variable the
platform sets must be one a model reads, every variable a model requires must be set, and every
value the platform knows when it declares the workload must pass the model's own validation.
EventWorkload runs this before it registers anything, so a wiring the runtime could not use
fails `pulumi preview` with the variable's name instead of a pod in CrashLoopBackOff.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from event_platform.apps.orders.config import OrderApiSettings
from event_platform.apps.runtime.brokers import SETTINGS
from event_platform.apps.runtime.settings import RuntimeSettings, variables

# Values only known at deploy time (an Output or a Secret reference) are validated with a
# representative value of the right shape; what they really hold is proven end to end in
# tests/apps/test_deployed_workloads.py.
_SHAPE = {
    "KAFKA_BOOTSTRAP_SERVERS": "broker.example:9092",
    "RABBITMQ_URL": "amqp://user:password@broker.example:5672/%2F",
    "NATS_URL": "nats://broker.example:4222",
}
# Files come from volumes, which do not exist where the program runs: checked for a mount instead.
FILE_VARIABLES = ("KAFKA_SSL_CAFILE", "KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE", "NATS_CREDENTIALS_FILE",
                  "NATS_CA_FILE")


@dataclass
class DeclaredEnvironment:
    """What the component is about to put in the container's env."""

    broker: str
    literal: dict[str, str] = field(default_factory=dict)  # values known now
    deferred: set[str] = field(default_factory=set)  # Outputs: known at deploy time
    from_secrets: set[str] = field(default_factory=set)  # secretKeyRef
    mounts: list[str] = field(default_factory=list)  # mountPaths of the container
    serves_http: bool = False

    @property
    def names(self) -> set[str]:
        return set(self.literal) | self.deferred | self.from_secrets


def models_for(declared: DeclaredEnvironment) -> list[type[BaseSettings]]:
    """The models the runtime loads for this workload: its own, its broker's, and the HTTP API's."""
    models: list[type[BaseSettings]] = [RuntimeSettings, SETTINGS[declared.broker]]
    if declared.serves_http:
        models.append(OrderApiSettings)
    return models


def contract_problems(declared: DeclaredEnvironment) -> list[str]:
    """Every way `declared` breaks the runtime's contract; empty when the runtime can use it."""
    models = models_for(declared)
    read = {name: required for model in models for name, required in variables(model).items()}
    problems = [f"{name} is set but no runtime settings model reads it ({', '.join(m.__name__ for m in models)})"
                for name in sorted(declared.names - set(read))]
    problems += [f"{name} is required by the runtime but not set" for name, required in sorted(read.items())
                 if required and name not in declared.names]
    for name in FILE_VARIABLES:
        path = declared.literal.get(name)
        if path is not None and not any(path.startswith(mount.rstrip("/") + "/") for mount in declared.mounts):
            problems.append(f"{name}={path} is not inside any volume mounted into the container")
    environment = {name: value for name, value in declared.literal.items() if name not in FILE_VARIABLES}
    environment.update({name: _SHAPE.get(name, "set-at-deploy-time")
                        for name in declared.deferred | declared.from_secrets})
    for model in models:
        problems += _validation_problems(model, environment)
    return problems


def _validation_problems(model: type[BaseSettings], environment: dict[str, str]) -> list[str]:
    fields = variables(model)
    values = {name: value for name, value in environment.items() if name in fields}
    try:
        # model_validate skips the settings sources: the check never reads this process's env.
        model.model_validate({_field_of(model, name): value for name, value in values.items()})
    except ValidationError as error:
        return [_one_line(problem, model) for problem in error.errors()]
    return []


def _field_of(model: type[BaseSettings], variable: str) -> str:
    prefix = str(model.model_config.get("env_prefix", ""))
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        if (alias if isinstance(alias, str) else prefix + name).upper() == variable:
            return alias if isinstance(alias, str) else name
    raise KeyError(variable)


def _one_line(problem: object, model: type[BaseSettings]) -> str:
    details = dict(problem)  # type: ignore[call-overload]
    prefix = str(model.model_config.get("env_prefix", ""))
    location = "_".join(str(part) for part in details.get("loc", ()))
    message = str(details["msg"]).removeprefix("Value error, ")
    return f"{(prefix + location).upper()}: {message}" if location else message
