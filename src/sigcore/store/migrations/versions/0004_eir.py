"""EIR: equipment rules (exact IMEI or prefix/TAC, optional IMSI binding) and the ME identity check history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

The DDL is written out by hand so that it stays what it was. The import registers the EIR models on
``Base.metadata`` whenever Alembic loads the revisions (for the schema-versus-models comparison tests).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sigcore.store.eir  # noqa: F401  (registers the models; see the docstring)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eir_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pattern", sa.String(14), nullable=False),
        sa.Column("exact", sa.Boolean(), nullable=False),
        sa.Column("imsi", sa.String(15), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("comment", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_eir_rules"),
    )
    op.create_index("ix_eir_rules_pattern", "eir_rules", ["pattern"])
    op.create_table(
        "eir_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imei", sa.String(14), nullable=False),
        sa.Column("software_version", sa.String(2), nullable=True),
        sa.Column("imsi", sa.String(15), nullable=True),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("origin_host", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_eir_history"),
    )
    op.create_index("ix_eir_history_checked_at", "eir_history", ["checked_at"])
    op.create_index("ix_eir_history_imei", "eir_history", ["imei"])


def downgrade() -> None:
    op.drop_table("eir_history")
    op.drop_table("eir_rules")
