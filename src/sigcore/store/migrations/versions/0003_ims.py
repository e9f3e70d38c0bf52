"""IMS identities, service profiles, iFCs, registration state, Sh repository data and subscriptions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

The DDL is written out by hand so that it stays what it was. The import registers the IMS models on
``Base.metadata`` whenever Alembic loads the revisions (for the schema-versus-models comparison tests).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sigcore.store.ims_models  # noqa: F401  (registers the models; see the docstring)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_URI = 255


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ims_private_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("impi", sa.String(_URI), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("digest_realm", sa.String(_URI), nullable=True),
        sa.Column("digest_ha1", sa.String(32), nullable=True),
        sa.Column("roaming_allowed", sa.Boolean(), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE",
                                name="fk_ims_private_identities_subscriber_id_subscribers"),
        sa.PrimaryKeyConstraint("id", name="pk_ims_private_identities"),
        sa.UniqueConstraint("impi", name="uq_ims_private_identities_impi"),
    )
    op.create_index("ix_ims_private_identities_subscriber_id", "ims_private_identities", ["subscriber_id"])
    op.create_table(
        "ims_service_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("media_profile_id", sa.Integer(), nullable=True),
        sa.Column("ccf_primary", sa.String(_URI), nullable=True),
        sa.Column("ccf_secondary", sa.String(_URI), nullable=True),
        sa.Column("ecf_primary", sa.String(_URI), nullable=True),
        sa.Column("ecf_secondary", sa.String(_URI), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ims_service_profiles"),
        sa.UniqueConstraint("name", name="uq_ims_service_profiles_name"),
    )
    op.create_table(
        "ims_ifcs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("shared_set", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("server_name", sa.String(_URI), nullable=False),
        sa.Column("default_handling", sa.Integer(), nullable=False),
        sa.Column("service_info", sa.String(1000), nullable=True),
        sa.Column("profile_part", sa.Integer(), nullable=True),
        sa.Column("trigger_method", sa.String(32), nullable=True),
        sa.Column("trigger_session_case", sa.Integer(), nullable=True),
        sa.Column("trigger_request_uri", sa.String(_URI), nullable=True),
        sa.ForeignKeyConstraint(["profile_id"], ["ims_service_profiles.id"], ondelete="CASCADE",
                                name="fk_ims_ifcs_profile_id_ims_service_profiles"),
        sa.PrimaryKeyConstraint("id", name="pk_ims_ifcs"),
    )
    op.create_index("ix_ims_ifcs_profile_id", "ims_ifcs", ["profile_id"])
    op.create_index("ix_ims_ifcs_shared_set", "ims_ifcs", ["shared_set"])
    op.create_table(
        "ims_profile_shared_ifcs",
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("shared_set", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["profile_id"], ["ims_service_profiles.id"], ondelete="CASCADE",
                                name="fk_ims_profile_shared_ifcs_profile_id_ims_service_profiles"),
        sa.PrimaryKeyConstraint("profile_id", "shared_set", name="pk_ims_profile_shared_ifcs"),
    )
    op.create_table(
        "ims_profile_capabilities",
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("capability", sa.Integer(), nullable=False),
        sa.Column("mandatory", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["profile_id"], ["ims_service_profiles.id"], ondelete="CASCADE",
                                name="fk_ims_profile_capabilities_profile_id_ims_service_profiles"),
        sa.PrimaryKeyConstraint("profile_id", "capability", name="pk_ims_profile_capabilities"),
    )
    op.create_table(
        "ims_public_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("impu", sa.String(_URI), nullable=False),
        sa.Column("identity_type", sa.Integer(), nullable=False),
        sa.Column("wildcard", sa.String(_URI), nullable=True),
        sa.Column("display_name", sa.String(100), nullable=True),
        sa.Column("barred", sa.Boolean(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("implicit_set", sa.Integer(), nullable=False),
        sa.Column("preferred_scscf", sa.String(_URI), nullable=True),
        sa.Column("reg_state", sa.String(16), nullable=False),
        sa.Column("scscf_name", sa.String(_URI), nullable=True),
        sa.Column("scscf_host", sa.String(_URI), nullable=True),
        sa.Column("scscf_realm", sa.String(_URI), nullable=True),
        sa.Column("state_changed_at", _tz(), nullable=True),
        sa.ForeignKeyConstraint(["profile_id"], ["ims_service_profiles.id"],
                                name="fk_ims_public_identities_profile_id_ims_service_profiles"),
        sa.PrimaryKeyConstraint("id", name="pk_ims_public_identities"),
        sa.UniqueConstraint("impu", name="uq_ims_public_identities_impu"),
    )
    op.create_index("ix_ims_public_identities_profile_id", "ims_public_identities", ["profile_id"])
    op.create_index("ix_ims_public_identities_implicit_set", "ims_public_identities", ["implicit_set"])
    op.create_table(
        "ims_identity_links",
        sa.Column("impi_id", sa.Integer(), nullable=False),
        sa.Column("impu_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["impi_id"], ["ims_private_identities.id"], ondelete="CASCADE",
                                name="fk_ims_identity_links_impi_id_ims_private_identities"),
        sa.ForeignKeyConstraint(["impu_id"], ["ims_public_identities.id"], ondelete="CASCADE",
                                name="fk_ims_identity_links_impu_id_ims_public_identities"),
        sa.PrimaryKeyConstraint("impi_id", "impu_id", name="pk_ims_identity_links"),
    )
    op.create_index("ix_ims_identity_links_impu_id", "ims_identity_links", ["impu_id"])
    op.create_table(
        "sh_repository_data",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("impu_id", sa.Integer(), nullable=False),
        sa.Column("service_indication", sa.String(_URI), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["impu_id"], ["ims_public_identities.id"], ondelete="CASCADE",
                                name="fk_sh_repository_data_impu_id_ims_public_identities"),
        sa.PrimaryKeyConstraint("id", name="pk_sh_repository_data"),
        sa.UniqueConstraint("impu_id", "service_indication", name="uq_sh_repository_data_impu_id_service_indication"),
    )
    op.create_table(
        "sh_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("impu_id", sa.Integer(), nullable=False),
        sa.Column("as_host", sa.String(_URI), nullable=False),
        sa.Column("as_realm", sa.String(_URI), nullable=False),
        sa.Column("data_reference", sa.Integer(), nullable=False),
        sa.Column("service_indication", sa.String(_URI), nullable=False),
        sa.Column("expires_at", _tz(), nullable=True),
        sa.Column("one_time", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["impu_id"], ["ims_public_identities.id"], ondelete="CASCADE",
                                name="fk_sh_subscriptions_impu_id_ims_public_identities"),
        sa.PrimaryKeyConstraint("id", name="pk_sh_subscriptions"),
        sa.UniqueConstraint("impu_id", "as_host", "data_reference", "service_indication",
                            name="uq_sh_subscriptions_key"),
    )
    op.create_index("ix_sh_subscriptions_impu_id", "sh_subscriptions", ["impu_id"])


def downgrade() -> None:
    for table in ("sh_subscriptions", "sh_repository_data", "ims_identity_links", "ims_public_identities",
                  "ims_profile_capabilities", "ims_profile_shared_ifcs", "ims_ifcs", "ims_service_profiles",
                  "ims_private_identities"):
        op.drop_table(table)
