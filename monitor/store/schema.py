"""The database schema: every table Vigil keeps, in one place (SQLAlchemy Core).

Times are integer microseconds since the epoch (UTC), `*_us`. This is the schema as the program uses it; a
change to it needs a revision in `monitor/store/migrations` that makes the same change to a stored database
(see the README there). Readings, events and alarms carry the ids or revisions that stream cursors use; the
audit table is append-only, enforced by the database (triggers made by the first revision).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
ENTERED_ONCE = "('dose_start', 'dose_end', 'device_1', 'device_2', 'device_3')"
OPEN = "ended_us IS NULL"

# A bed: the lasting chair and its monitor (monitor.store.beds). A session on it is one patient's treatment.
beds = sa.Table(
    "beds",
    metadata,
    sa.Column("id", sa.String(50), primary_key=True),  # stable: letters, digits, '-'
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("session_type", sa.String(20), nullable=False),  # the default type of a new session
    sa.Column("limits_preset", sa.String(40)),  # a new session's limits: this preset, as the release ships it,
    sa.Column("limits", sa.Text),  # or these (JSON of Limits.to_dict()); neither: the type's preset
    sa.Column("origin", sa.Text, nullable=False, server_default=""),  # where its data comes from: a port URL
    sa.Column("created_us", sa.BigInteger, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # replay | import | live
    sa.Column("bed", sa.String(50), nullable=False, default="bed-1"),
    sa.Column("origin", sa.Text, nullable=False, default=""),  # file path or port URL
    sa.Column("relative_time", sa.Boolean, nullable=False, default=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    # The session clock as last published (monitor.timeutil.SessionClock: position, wall, speed).
    sa.Column("clock_pos_us", sa.BigInteger),
    sa.Column("clock_wall_us", sa.BigInteger),
    sa.Column("clock_speed", sa.Float),
    sa.Column("span_start_us", sa.BigInteger),  # recording extent, for replay position bars
    sa.Column("span_end_us", sa.BigInteger),
    sa.Column("epoch", sa.Integer, nullable=False, default=0),  # bumped when a replay rewinds
    # The treatment session (monitor.session): set up by a user, ended by one. Times are session time.
    sa.Column("session_type", sa.String(20), nullable=False, server_default="other"),
    sa.Column("patient_label", sa.String(100), nullable=False, server_default=""),
    sa.Column("setup_by", sa.String(100)),
    sa.Column("ended_us", sa.BigInteger),
    sa.Column("ended_by", sa.String(100)),
    sa.Column("ready_min", sa.Float),  # REMS: when the patient would have been ready to leave, as entered
    # An imported recording's fingerprint (monitor.recording_id): one session per recording, whatever its file name.
    sa.Column("recording", sa.String(64)),
    # Bumped by each correction or withdrawal of an entered event: the stream and the live alarms follow it.
    sa.Column("amendments", sa.Integer, nullable=False, server_default="0"),
    # The bed whose continuous session this is (NULL: a replay, an import, or a session from before beds).
    sa.Column("bed_id", sa.String(50), sa.ForeignKey("beds.id")),
    sa.Index("uq_session_recording", "recording", unique=True),
    # At most one open session per bed, decided by the database: two processes racing open one between them.
    sa.Index("uq_open_session_per_bed", "bed_id", unique=True, sqlite_where=sa.text(OPEN),
             postgresql_where=sa.text(OPEN)),
    sqlite_autoincrement=True,
)

readings = sa.Table(
    "readings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False),
    sa.Column("t_us", sa.BigInteger, nullable=False),
    sa.Column("vital", sa.String(8), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("device_us", sa.BigInteger),
    sa.Column("measured_us", sa.BigInteger),
    sa.Column("flags", sa.String(200), nullable=False, default=""),
    sa.UniqueConstraint("session_id", "source", "vital", "t_us", name="uq_reading"),
    sa.Index("ix_readings_session_time", "session_id", "t_us"),
    sa.Index("ix_readings_session_id", "session_id", "id"),
    sqlite_autoincrement=True,
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False),
    sa.Column("t_us", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("text", sa.Text, nullable=False, default=""),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("entered_by", sa.String(100)),  # who entered it on screen; NULL: from the monitor or a file
    # An entered event corrected or withdrawn is struck, never deleted: when (wall time), by whom, why. A
    # correction is a new row that names the row it corrects (and holds the reason as its text).
    sa.Column("struck_us", sa.BigInteger),
    sa.Column("struck_by", sa.String(100)),
    sa.Column("struck_reason", sa.Text),
    sa.Column("corrects", sa.Integer),
    sa.UniqueConstraint("session_id", "t_us", "kind", "text", "source", name="uq_event"),
    sa.Index("ix_events_session_id", "session_id", "id"),
    # Each dose event is in force once per session, even after two clicks or two screens at the same moment.
    sa.Index("uq_dose_in_force", "session_id", "kind", unique=True,
             sqlite_where=sa.text(f"entered_by IS NOT NULL AND struck_us IS NULL AND kind IN {ENTERED_ONCE}"),
             postgresql_where=sa.text(f"entered_by IS NOT NULL AND struck_us IS NULL AND kind IN {ENTERED_ONCE}")),
    sqlite_autoincrement=True,
)

limits = sa.Table(
    "limits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("effective_us", sa.BigInteger, nullable=False),
    sa.Column("who", sa.String(100), nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # JSON of monitor.limits.model.Limits.to_dict()
    sa.UniqueConstraint("session_id", "version", name="uq_limits_version"),
    sqlite_autoincrement=True,
)

alarms = sa.Table(
    "alarms",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False),
    sa.Column("vital", sa.String(8), nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),  # limit | rise | technical
    sa.Column("direction", sa.String(10), nullable=False),  # high | low | loss | overdue
    sa.Column("source", sa.String(100), nullable=False, default=""),
    sa.Column("onset_us", sa.BigInteger, nullable=False),
    sa.Column("announced_us", sa.BigInteger, nullable=False),
    sa.Column("end_us", sa.BigInteger),
    sa.Column("priority", sa.String(8), nullable=False),
    sa.Column("peak", sa.Float, nullable=False),
    sa.Column("limit_value", sa.Float, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    # NULL in rows an older Vigil wrote: their description then leaves that time or baseline out.
    sa.Column("reached_us", sa.BigInteger),  # when the episode reached its priority
    sa.Column("baseline", sa.Float),  # a rise episode's baseline
    sa.Column("acked_us", sa.BigInteger),  # wall time of the acknowledgement
    sa.Column("acked_session_us", sa.BigInteger),  # its session time (the clock every bed-view time is on)
    sa.Column("acked_by", sa.String(100)),
    sa.Column("rev", sa.Integer, nullable=False),  # per-session change counter: the stream's alarm cursor
    sa.UniqueConstraint("session_id", "vital", "kind", "direction", "source", "onset_us", name="uq_alarm"),
    sa.Index("ix_alarms_session_rev", "session_id", "rev"),
    sqlite_autoincrement=True,
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id")),
    sa.Column("at_us", sa.BigInteger, nullable=False),  # wall-clock time of the action
    sa.Column("session_us", sa.BigInteger),  # where the session clock stood
    sa.Column("who", sa.String(100), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),  # limits | acknowledge | ...
    sa.Column("target", sa.String(200), nullable=False, default=""),
    sa.Column("old", sa.Text, nullable=False, default=""),
    sa.Column("new", sa.Text, nullable=False, default=""),
    sa.Column("reason", sa.Text),  # why, where the action needs one (a correction or withdrawal of an event)
    sa.Index("ix_audit_session", "session_id", "id"),
    sa.Index("ix_audit_who", "who", "id"),
    sqlite_autoincrement=True,
)

# -- who may use the dashboard (monitor.auth) --

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),  # nurse | clinician | tester | admin
    sa.Column("pw_hash", sa.String(200), nullable=False),  # argon2id, never the password
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    sqlite_autoincrement=True,
)

# One row per sign-in: the browser's cookie holds only a random token, whose hash is kept here, so a sign-out,
# an idle timeout or a disabled account ends it on the server, whatever the cookie says.
logins = sa.Table(
    "logins",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("started_us", sa.BigInteger, nullable=False),
    sa.Column("seen_us", sa.BigInteger, nullable=False),  # last request other than the live stream
    sa.Column("ended_us", sa.BigInteger),
    sa.Column("ended_why", sa.String(20)),  # sign-out | idle | disabled
    sqlite_autoincrement=True,
)

# Sign-in attempts by the name typed, whether or not such a user exists (lockout must not tell them apart),
# kept as a hash of that name: what strangers type is not stored.
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),  # sha256 of the name typed
    sa.Column("failures", sa.Integer, nullable=False),  # attempts since the last success, counted before checking
    sa.Column("locked_until_us", sa.BigInteger),
    sa.Column("last_us", sa.BigInteger, nullable=False),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(50), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Who acquires each bed now (monitor.store.holders): one process at a time, on a lease kept alive by its heartbeat.
# Keyed by the site file's bed id, with no foreign key: a replayed bed has no `beds` row, and is held all the same.
bed_holders = sa.Table(
    "bed_holders",
    metadata,
    sa.Column("bed_id", sa.String(50), primary_key=True),
    sa.Column("token", sa.String(32), nullable=False),  # the holding process's own: a restart is a new holder
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("since_us", sa.BigInteger, nullable=False),  # times on the database's clock, not the hosts'
    sa.Column("heartbeat_us", sa.BigInteger, nullable=False),
    sa.Column("released_us", sa.BigInteger),  # set when the holder stopped cleanly: the bed is free at once
)
