"""The schema of release 0.1.0, the last without schema versions: where every database starts.

`SCHEMA` is that release's `monitor.store.schema`, frozen (later revisions change the database, never this).
A database made before schema versions has Vigil's tables but no `alembic_version`: `adopt` brings it to this
schema — what that release did on every open, for databases of its development versions — and it is then
stamped with this revision rather than run through it (`monitor.store.migrate`).
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The database itself refuses to change or delete audit entries, not only the application.
APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$",
        "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
        "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
    ],
}
_TRIGGERS = {
    "sqlite": "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'",
    "postgresql": "SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_no_change'",
}

OPEN = "ended_us IS NULL"
DOSE_IN_FORCE = ("entered_by IS NOT NULL AND struck_us IS NULL "
                 "AND kind IN ('dose_start', 'dose_end', 'device_1', 'device_2', 'device_3')")


SCHEMA = sa.MetaData()


def _where(condition: str) -> dict[str, sa.TextClause]:
    """A partial index's condition, for both dialects."""
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def _index(table: str, name: str, *columns: str, **options: Any) -> None:
    sa.Index(name, *(SCHEMA.tables[table].c[c] for c in columns), **options)


sa.Table("beds", SCHEMA,
    sa.Column("id", sa.String(length=50), nullable=False),
    sa.Column("label", sa.String(length=100), nullable=False),
    sa.Column("session_type", sa.String(length=20), nullable=False),
    sa.Column("limits_preset", sa.String(length=40), nullable=True),
    sa.Column("limits", sa.Text(), nullable=True),
    sa.Column("origin", sa.Text(), server_default="", nullable=False),
    sa.Column("created_us", sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint("id")
)
sa.Table("login_failures", SCHEMA,
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("failures", sa.Integer(), nullable=False),
    sa.Column("locked_until_us", sa.BigInteger(), nullable=True),
    sa.Column("last_us", sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint("name")
)
sa.Table("settings", SCHEMA,
    sa.Column("key", sa.String(length=50), nullable=False),
    sa.Column("value", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("key")
)
sa.Table("users", SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("role", sa.String(length=20), nullable=False),
    sa.Column("pw_hash", sa.String(length=200), nullable=False),
    sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column("created_us", sa.BigInteger(), nullable=False),
    sa.Column("created_by", sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("name"),
    sqlite_autoincrement=True
)
sa.Table("logins", SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("token_hash", sa.String(length=64), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("started_us", sa.BigInteger(), nullable=False),
    sa.Column("seen_us", sa.BigInteger(), nullable=False),
    sa.Column("ended_us", sa.BigInteger(), nullable=True),
    sa.Column("ended_why", sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("token_hash"),
    sqlite_autoincrement=True
)
sa.Table("sessions", SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("kind", sa.String(length=20), nullable=False),
    sa.Column("bed", sa.String(length=50), nullable=False),
    sa.Column("origin", sa.Text(), nullable=False),
    sa.Column("relative_time", sa.Boolean(), nullable=False),
    sa.Column("created_us", sa.BigInteger(), nullable=False),
    sa.Column("clock_pos_us", sa.BigInteger(), nullable=True),
    sa.Column("clock_wall_us", sa.BigInteger(), nullable=True),
    sa.Column("clock_speed", sa.Float(), nullable=True),
    sa.Column("span_start_us", sa.BigInteger(), nullable=True),
    sa.Column("span_end_us", sa.BigInteger(), nullable=True),
    sa.Column("epoch", sa.Integer(), nullable=False),
    sa.Column("session_type", sa.String(length=20), server_default="other", nullable=False),
    sa.Column("patient_label", sa.String(length=100), server_default="", nullable=False),
    sa.Column("setup_by", sa.String(length=100), nullable=True),
    sa.Column("ended_us", sa.BigInteger(), nullable=True),
    sa.Column("ended_by", sa.String(length=100), nullable=True),
    sa.Column("ready_min", sa.Float(), nullable=True),
    sa.Column("recording", sa.String(length=64), nullable=True),
    sa.Column("amendments", sa.Integer(), server_default="0", nullable=False),
    sa.Column("bed_id", sa.String(length=50), nullable=True),
    sa.ForeignKeyConstraint(["bed_id"], ["beds.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sqlite_autoincrement=True
)
_index("sessions", "uq_open_session_per_bed", "bed_id", unique=True, **_where(OPEN))
_index("sessions", "uq_session_recording", "recording", unique=True)
sa.Table("alarms", SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("session_id", sa.Integer(), nullable=False),
    sa.Column("vital", sa.String(length=8), nullable=False),
    sa.Column("kind", sa.String(length=12), nullable=False),
    sa.Column("direction", sa.String(length=10), nullable=False),
    sa.Column("source", sa.String(length=100), nullable=False),
    sa.Column("onset_us", sa.BigInteger(), nullable=False),
    sa.Column("announced_us", sa.BigInteger(), nullable=False),
    sa.Column("end_us", sa.BigInteger(), nullable=True),
    sa.Column("priority", sa.String(length=8), nullable=False),
    sa.Column("peak", sa.Float(), nullable=False),
    sa.Column("limit_value", sa.Float(), nullable=False),
    sa.Column("value", sa.Float(), nullable=False),
    sa.Column("reached_us", sa.BigInteger(), nullable=True),
    sa.Column("baseline", sa.Float(), nullable=True),
    sa.Column("acked_us", sa.BigInteger(), nullable=True),
    sa.Column("acked_session_us", sa.BigInteger(), nullable=True),
    sa.Column("acked_by", sa.String(length=100), nullable=True),
    sa.Column("rev", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("session_id", "vital", "kind", "direction", "source", "onset_us", name="uq_alarm"),
    sqlite_autoincrement=True
)
_index("alarms", "ix_alarms_session_rev", "session_id", "rev")
sa.Table("audit", SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("session_id", sa.Integer(), nullable=True),
    sa.Column("at_us", sa.BigInteger(), nullable=False),
    sa.Column("session_us", sa.BigInteger(), nullable=True),
    sa.Column("who", sa.String(length=100), nullable=False),
    sa.Column("action", sa.String(length=40), nullable=False),
    sa.Column("target", sa.String(length=200), nullable=False),
    sa.Column("old", sa.Text(), nullable=False),
    sa.Column("new", sa.Text(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sqlite_autoincrement=True
)
_index("audit", "ix_audit_session", "session_id", "id")
_index("audit", "ix_audit_who", "who", "id")
sa.Table("events", SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("session_id", sa.Integer(), nullable=False),
    sa.Column("t_us", sa.BigInteger(), nullable=False),
    sa.Column("kind", sa.String(length=40), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("source", sa.String(length=100), nullable=False),
    sa.Column("entered_by", sa.String(length=100), nullable=True),
    sa.Column("struck_us", sa.BigInteger(), nullable=True),
    sa.Column("struck_by", sa.String(length=100), nullable=True),
    sa.Column("struck_reason", sa.Text(), nullable=True),
    sa.Column("corrects", sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("session_id", "t_us", "kind", "text", "source", name="uq_event"),
    sqlite_autoincrement=True
)
_index("events", "ix_events_session_id", "session_id", "id")
_index("events", "uq_dose_in_force", "session_id", "kind", unique=True, **_where(DOSE_IN_FORCE))
sa.Table("limits", SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("session_id", sa.Integer(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("effective_us", sa.BigInteger(), nullable=False),
    sa.Column("who", sa.String(length=100), nullable=False),
    sa.Column("data", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("session_id", "version", name="uq_limits_version"),
    sqlite_autoincrement=True
)
sa.Table("readings", SCHEMA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("session_id", sa.Integer(), nullable=False),
    sa.Column("t_us", sa.BigInteger(), nullable=False),
    sa.Column("vital", sa.String(length=8), nullable=False),
    sa.Column("value", sa.Float(), nullable=False),
    sa.Column("source", sa.String(length=100), nullable=False),
    sa.Column("device_us", sa.BigInteger(), nullable=True),
    sa.Column("measured_us", sa.BigInteger(), nullable=True),
    sa.Column("flags", sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("session_id", "source", "vital", "t_us", name="uq_reading"),
    sqlite_autoincrement=True
)
_index("readings", "ix_readings_session_id", "session_id", "id")
_index("readings", "ix_readings_session_time", "session_id", "t_us")


# Indexes a development version made that release 0.1.0 replaced; dropped once their successors exist.
RETIRED_INDEXES = {"events": ("uq_entered_dose",)}  # became uq_dose_in_force (struck events do not count)


def upgrade() -> None:
    conn = op.get_bind()
    SCHEMA.create_all(conn)
    for ddl in APPEND_ONLY.get(conn.dialect.name, ()):
        conn.execute(sa.text(ddl))


def adopt(conn: Connection) -> list[str]:
    """Bring a database made before schema versions to this schema: create the tables it lacks, add the
    columns and indexes it lacks and the audit triggers if missing, drop the indexes release 0.1.0 retired;
    returns what was added or dropped. A required column missing is not an older version: left to fail."""
    inspector = sa.inspect(conn)
    SCHEMA.create_all(conn)
    added = []
    for table in SCHEMA.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or (not column.nullable and column.server_default is None):
                continue
            ddl = f"ALTER TABLE {table.name} ADD COLUMN {column.name} {column.type.compile(conn.dialect)}"
            if column.server_default is not None:
                ddl += f" NOT NULL DEFAULT '{cast(sa.DefaultClause, column.server_default).arg}'"
            conn.execute(sa.text(ddl))
            added.append(f"{table.name}.{column.name}")
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes and all(c.name in present or f"{table.name}.{c.name}" in added
                                                 for c in index.columns):
                index.create(conn)
                added.append(f"{table.name}.{index.name}")
        for name in RETIRED_INDEXES.get(table.name, ()):
            if name in indexes:
                conn.execute(sa.text(f"DROP INDEX {name}"))
                added.append(f"-{table.name}.{name}")
    if not conn.execute(sa.text(_TRIGGERS[conn.dialect.name])).scalar():
        for ddl in APPEND_ONLY[conn.dialect.name]:
            conn.execute(sa.text(ddl))
        added.append("audit triggers")
    return added
