"""The database: transactions and their history (SQLAlchemy Core, Alembic migrations)."""
