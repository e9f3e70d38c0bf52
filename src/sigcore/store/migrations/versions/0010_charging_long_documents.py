"""Charging documents of any length on MySQL/MariaDB: LONGTEXT instead of TEXT (64 KiB).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

An account's document (its balances, as JSON) passed 64 KiB with a few hundred balances, and every write of
it then failed there with "Data too long"; SQLite's and PostgreSQL's TEXT have no such bound, so this
revision changes nothing on them.
"""

from __future__ import annotations

from typing import Any

from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ("charging_accounts", "charging_documents", "charging_cdrs", "charging_sessions")


def _set(kind: TypeEngine[Any]) -> None:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    for table in TABLES:
        op.alter_column(table, "document", type_=kind, existing_nullable=False)


def upgrade() -> None:
    _set(mysql.LONGTEXT())


def downgrade() -> None:
    _set(Text())
