"""kassa: a self-hostable checkout order management service (Norce Checkout Order API v0)."""

__version__ = "0.1.0"
