"""Online charging: accounts, action sets/plans/trigger groups, plan slots, CDRs, Subscription-Id map, Gy sessions.

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-06

The DDL is written out by hand so that it stays what it was. The import registers the charging models on
``Base.metadata`` whenever Alembic loads the revisions (for the schema-versus-models comparison tests).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sigcore.charging.tables  # noqa: F401  (registers the models; see the docstring)

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NAME = 128


def upgrade() -> None:
    op.create_table(
        "charging_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(NAME), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_charging_accounts"),
        sa.UniqueConstraint("tenant", "name", name="uq_charging_accounts_tenant_name"),
    )
    op.create_table(
        "charging_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(NAME), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_charging_documents"),
        sa.UniqueConstraint("kind", "name", name="uq_charging_documents_kind_name"),
    )
    op.create_table(
        "charging_plan_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan", sa.String(NAME), nullable=False),
        sa.Column("tenant", sa.String(NAME), nullable=False),
        sa.Column("account", sa.String(NAME), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_charging_plan_accounts"),
        sa.UniqueConstraint("plan", "tenant", "account", name="uq_charging_plan_accounts_plan_tenant_account"),
    )
    op.create_table(
        "charging_plan_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan", sa.String(NAME), nullable=False),
        sa.Column("timing", sa.String(64), nullable=False),
        sa.Column("slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant", sa.String(NAME), nullable=False),
        sa.Column("account", sa.String(NAME), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_charging_plan_runs"),
        sa.UniqueConstraint("plan", "timing", "slot", "tenant", "account",
                            name="uq_charging_plan_runs_plan_timing_slot_tenant_account"),
    )
    op.create_table(
        "charging_cdrs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cgrid", sa.String(40), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(NAME), nullable=False),
        sa.Column("account", sa.String(NAME), nullable=False),
        sa.Column("tor", sa.String(16), nullable=False),
        sa.Column("request_type", sa.String(32), nullable=False),
        sa.Column("setup_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_charging_cdrs"),
    )
    op.create_index("ix_charging_cdrs_cgrid", "charging_cdrs", ["cgrid"])
    op.create_index("ix_charging_cdrs_tenant_account", "charging_cdrs", ["tenant", "account"])
    op.create_table(
        "charging_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_type", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("tenant", sa.String(NAME), nullable=False),
        sa.Column("account", sa.String(NAME), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_charging_subscriptions"),
        sa.UniqueConstraint("id_type", "value", name="uq_charging_subscriptions_id_type_value"),
    )
    op.create_table(
        "charging_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(255), nullable=False),
        sa.Column("tenant", sa.String(NAME), nullable=False),
        sa.Column("account", sa.String(NAME), nullable=False),
        sa.Column("origin_host", sa.String(255), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_charging_sessions"),
        sa.UniqueConstraint("session_id", name="uq_charging_sessions_session_id"),
    )
    op.create_index("ix_charging_sessions_expires", "charging_sessions", ["expires"])
    op.create_index("ix_charging_sessions_tenant_account", "charging_sessions", ["tenant", "account"])


def downgrade() -> None:
    for table in ("charging_sessions", "charging_subscriptions", "charging_cdrs", "charging_plan_runs",
                  "charging_plan_accounts", "charging_documents", "charging_accounts"):
        op.drop_table(table)
