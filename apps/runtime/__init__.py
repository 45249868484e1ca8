"""The event runtime every service imports: envelope, broker adapters, reliability, operations.

Handlers stay broker-neutral: they see `Envelope`s and return `Envelope`s; the adapter behind
`event_platform.apps.runtime.adapter.Broker` decides how records travel (Kafka today, RabbitMQ/NATS next).
"""
