"""Payments, their ledger of transactions, and payment actions."""
