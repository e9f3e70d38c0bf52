"""Initial schema: APN profiles, subscribers and their APNs, authentication data, serving state, roaming rules.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Written out by hand (not imported from the models) so that this revision stays what it was when later
revisions change the models; tests/store checks that head and the models agree.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

HOST = 255


def _subscriber_fk(name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["subscriber_id"], ["subscribers.id"], name=f"fk_{name}_subscriber_id_subscribers", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "apn_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("qci", sa.Integer(), nullable=False),
        sa.Column("arp_priority", sa.Integer(), nullable=False),
        sa.Column("arp_preemption_capability", sa.Boolean(), nullable=False),
        sa.Column("arp_preemption_vulnerability", sa.Boolean(), nullable=False),
        sa.Column("ambr_ul", sa.BigInteger(), nullable=False),
        sa.Column("ambr_dl", sa.BigInteger(), nullable=False),
        sa.Column("pdn_type", sa.String(16), nullable=False),
        sa.Column("pgw_address", sa.String(45), nullable=True),
        sa.Column("pgw_host", sa.String(HOST), nullable=True),
        sa.Column("pgw_realm", sa.String(HOST), nullable=True),
        sa.Column("charging_characteristics", sa.String(4), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_apn_profiles"),
        sa.UniqueConstraint("name", name="uq_apn_profiles_name"),
    )
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("imsi", sa.String(15), nullable=False),
        sa.Column("msisdn", sa.String(15), nullable=True),
        sa.Column("iccid", sa.String(22), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("odb", sa.Integer(), nullable=False),
        sa.Column("nam", sa.String(32), nullable=False),
        sa.Column("ue_ambr_ul", sa.BigInteger(), nullable=False),
        sa.Column("ue_ambr_dl", sa.BigInteger(), nullable=False),
        sa.Column("default_apn_id", sa.Integer(), nullable=True),
        sa.Column("access_restriction", sa.Integer(), nullable=False),
        sa.Column("roaming_policy", sa.String(16), nullable=False),
        sa.Column("tau_timer", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["default_apn_id"], ["apn_profiles.id"], name="fk_subscribers_default_apn_id_apn_profiles"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_subscribers"),
        sa.UniqueConstraint("imsi", name="uq_subscribers_imsi"),
    )
    op.create_index(
        "uq_subscribers_msisdn", "subscribers", ["msisdn"], unique=True, mssql_where=sa.text("msisdn IS NOT NULL")
    )
    op.create_table(
        "subscriber_apns",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("apn_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("static_ipv4", sa.String(15), nullable=True),
        sa.Column("static_ipv6", sa.String(45), nullable=True),
        sa.ForeignKeyConstraint(["apn_id"], ["apn_profiles.id"], name="fk_subscriber_apns_apn_id_apn_profiles"),
        _subscriber_fk("subscriber_apns"),
        sa.PrimaryKeyConstraint("subscriber_id", "apn_id", name="pk_subscriber_apns"),
    )
    op.create_index("ix_subscriber_apns_apn_id", "subscriber_apns", ["apn_id"])
    op.create_table(
        "auth_data",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("ki_enc", sa.LargeBinary(), nullable=False),
        sa.Column("opc_enc", sa.LargeBinary(), nullable=True),
        sa.Column("op_enc", sa.LargeBinary(), nullable=True),
        sa.Column("amf", sa.Integer(), nullable=False),
        sa.Column("sqn", sa.BigInteger(), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _subscriber_fk("auth_data"),
        sa.PrimaryKeyConstraint("subscriber_id", name="pk_auth_data"),
    )
    op.create_table(
        "serving_state",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        *(
            column
            for node in ("mme", "sgsn")
            for column in (
                sa.Column(f"{node}_host", sa.String(HOST), nullable=True),
                sa.Column(f"{node}_realm", sa.String(HOST), nullable=True),
                sa.Column(f"{node}_peer", sa.String(HOST), nullable=True),
                sa.Column(f"{node}_updated_at", sa.DateTime(timezone=True), nullable=True),
                sa.Column(f"{node}_purged", sa.Boolean(), nullable=False),
            )
        ),
        _subscriber_fk("serving_state"),
        sa.PrimaryKeyConstraint("subscriber_id", name="pk_serving_state"),
    )
    op.create_index("ix_serving_state_mme_host", "serving_state", ["mme_host"])
    op.create_table(
        "roaming_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("plmn", sa.String(6), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        _subscriber_fk("roaming_rules"),
        sa.PrimaryKeyConstraint("id", name="pk_roaming_rules"),
    )
    op.create_index("ix_roaming_rules_plmn", "roaming_rules", ["plmn"])
    op.create_index("ix_roaming_rules_subscriber_id", "roaming_rules", ["subscriber_id"])


def downgrade() -> None:
    for table in ("roaming_rules", "serving_state", "auth_data", "subscriber_apns", "subscribers", "apn_profiles"):
        op.drop_table(table)
