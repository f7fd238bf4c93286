"""Hooks, validations and notifications registered on an order."""
