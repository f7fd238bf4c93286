"""Notification events: the outbox written with each change, their delivery and their API."""
