"""The order pipeline: an e-commerce saga across five services, on the event runtime.

order-service (HTTP API + saga decisions + read model) → inventory-service → payment-service
→ shipping-service, with notification-service telling the customer how it ended. A declined
payment releases the reserved stock; either failure cancels the order.
"""
