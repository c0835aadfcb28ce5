"""Bed holders: which process acquires each bed, so that a chair computer and a central server never both do.

A new table only (`monitor.store.holders`); nothing stored before changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bed_holders",
        sa.Column("bed_id", sa.String(50), primary_key=True),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("since_us", sa.BigInteger, nullable=False),
        sa.Column("heartbeat_us", sa.BigInteger, nullable=False),
        sa.Column("released_us", sa.BigInteger),
    )
