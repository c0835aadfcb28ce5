"""PostgreSQL's audit trigger refuses with an integrity error (SQLSTATE 23001), as SQLite's does.

Release 0.1.0 raised PL/pgSQL's generic error there, which callers could not tell from a bug in a query.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only' USING ERRCODE = 'restrict_violation'; "
                   "END $$")
