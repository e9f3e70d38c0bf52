"""Wildcarded PSIs in the syntax of TS 23.003 §13.5 (``sip:conf-!.*!@example.org``), not regular expressions.

Revision ID: 0007
Revises: 0006 (0005 as given; chained after ops' 0006 once merged, for one head)
Create Date: 2026-12-06

Each stored pattern that is literal text around one quantified atom is rewritten in that syntax
(`sigcore.store.psi_wildcard.from_regular_expression`). Any other pattern cannot be kept (it is what made an
LIR take seconds); its identity stays, as a distinct PSI that matches only its own URI (never a wider set),
and the migration names it so the operator can provision its wildcard again. Downgrade turns the patterns
back into the equivalent regular expressions.
"""

from __future__ import annotations

import logging
import re

import sqlalchemy as sa
from alembic import op

from sigcore.store import psi_wildcard

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
DISTINCT_PSI, WILDCARDED_PSI = 1, 2
_IMPUS = sa.table("ims_public_identities", sa.column("id", sa.Integer), sa.column("impu", sa.String),
                  sa.column("identity_type", sa.Integer), sa.column("wildcard", sa.String))


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_IMPUS.c.id, _IMPUS.c.impu, _IMPUS.c.wildcard)
                        .where(_IMPUS.c.identity_type == WILDCARDED_PSI)).all()
    for row in rows:
        rewritten = psi_wildcard.from_regular_expression(row.wildcard or "")
        if rewritten is not None:
            conn.execute(sa.update(_IMPUS).where(_IMPUS.c.id == row.id).values(wildcard=rewritten))
        else:
            log.warning("wildcarded PSI %s: its pattern %r has no TS 23.003 form; kept as a distinct PSI, "
                        "provision its wildcard again", row.impu, row.wildcard)
            conn.execute(sa.update(_IMPUS).where(_IMPUS.c.id == row.id)
                         .values(identity_type=DISTINCT_PSI, wildcard=None))


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_IMPUS.c.id, _IMPUS.c.wildcard).where(_IMPUS.c.identity_type == WILDCARDED_PSI))
    for row in rows.all():
        head, part, tail = (row.wildcard or "").split("!")
        conn.execute(sa.update(_IMPUS).where(_IMPUS.c.id == row.id)
                     .values(wildcard=re.escape(head) + part + re.escape(tail)))
