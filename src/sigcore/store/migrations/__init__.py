"""Alembic environment and revisions of the sigcore schema (a package so that it ships in the wheel)."""
