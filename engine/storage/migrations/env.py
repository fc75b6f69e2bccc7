"""Alembic's environment for Formwork's system (fw_) tables.

Always run through engine.storage.migrate with a connection already inside the caller's transaction, so
every pending revision applies together or not at all; entity tables are never touched here.
"""
from __future__ import annotations

from alembic import context

from engine.storage.db import system_metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=system_metadata,
    # Entity tables belong to the schema engine: migrations and autogenerate see fw_ tables only.
    include_name=lambda name, type_, _parent: type_ != "table" or name.startswith("fw_"),
    on_version_apply=context.config.attributes.get("on_version_apply"),
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
