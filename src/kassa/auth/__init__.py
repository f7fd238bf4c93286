"""API keys (stored as SHA-256 hashes) and the tenant a request acts for."""
