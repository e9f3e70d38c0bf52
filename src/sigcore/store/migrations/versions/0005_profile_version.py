"""subscribers.profile_version: a counter every provisioning change to what an MME receives bumps.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

The S6a HSS caches each subscriber's encoded Subscription-Data and reads this counter in the ULR's locked
read: an equal counter means the cached bytes are the stored profile, in any process. ``updated_at`` cannot
serve: MariaDB keeps DATETIME to the second, and two changes within one second would look like none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("profile_version", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("profile_version")
