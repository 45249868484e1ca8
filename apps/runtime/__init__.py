"""The event runtime every service imports: envelope, broker adapters, reliability, operations.

Handlers stay broker-neutral: they see `Envelope`s and return `Envelope`s; the adapter behind
`event_platform.apps.runtime.adapter.Broker` decides how records travel (Kafka, RabbitMQ or NATS JetStream,
chosen by `BROKER`: event_platform.apps.runtime.brokers).
"""
