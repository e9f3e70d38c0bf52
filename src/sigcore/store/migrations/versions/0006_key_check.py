"""key_check: which key-encryption key the stored secrets are sealed under.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

One row holding the key-check value of the current KEK (an HMAC of a constant under the key, never the
key). A process refuses to start, and refuses to seal a secret, with a key whose check value differs, so a
wrong key file can no longer leave subscribers encrypted under a key nobody keeps. The row is written by
the first process that opens the store with a key (after checking that key opens a stored secret, for a
database provisioned before this revision).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_key_check"),
    )


def downgrade() -> None:
    op.drop_table("key_check")
