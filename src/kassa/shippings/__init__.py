"""Shippings of an order."""
