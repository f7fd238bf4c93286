"""Outbound delivery: the HTTP client, its transport, signatures, the notification loop."""
