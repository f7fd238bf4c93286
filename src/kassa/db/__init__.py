"""Storage: the engine factory for SQLite and PostgreSQL, the tables and the migrations."""
