"""Alembic's entry point for Vigil's schema versions.

Vigil runs it itself, on the connection it opened and holds locked (`monitor.store.migrate`); drafting a new
revision (README.md beside this file) gives it a URL instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from monitor.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # drafting a revision against a scratch database
    engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url", ""), poolclass=sa.NullPool)
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        context.run_migrations()
else:  # the caller holds the transaction (and the lock): run inside it
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
