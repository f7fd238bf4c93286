"""The order aggregate: wire schemas, pure rules, the write path and the HTTP routes."""
