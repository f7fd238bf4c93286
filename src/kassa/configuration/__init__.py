"""The Configuration API (adapters §3): per merchant and channel, JSON configurations that
adapters read; their schemas (adapters §7) in ``kassa.configuration.schemas``."""
