"""The web console's sessions, in the database: every process serving the API sees them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Before, sessions lived in the memory of the process that signed the user in; under ``sigcore run --workers``
a browser's next request reached another worker about half the time and was sent back to sign-in. A row
holds the SHA-256 of the cookie's value (never the value), the API token's id (never the token) and the
session's CSRF token. The DDL is written out by hand so that it stays what it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_sha256", sa.String(64), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("seen_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id_sha256", name="pk_console_sessions"),
    )
    op.create_index("ix_console_sessions_token_id", "console_sessions", ["token_id"])
    op.create_index("ix_console_sessions_seen_at", "console_sessions", ["seen_at"])


def downgrade() -> None:
    op.drop_table("console_sessions")
