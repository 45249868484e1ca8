"""event-platform's multi-language component package (see provider/README.md)."""
