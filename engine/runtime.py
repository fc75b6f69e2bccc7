"""A running Formwork: one database engine, its registry cache and the clock, handing out services.

The web app, the CLI, workers and tests each hold one Runtime; services are cheap to create per call.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Connection

from engine.config import Config, load_config
from engine.data.query import QueryService
from engine.data.records import RecordService
from engine.data.registry import Registry, RegistryCache
from engine.security.actors import SYSTEM, Actor
from engine.storage.db import make_engine, utcnow


class Runtime:
    def __init__(self, database_url: str, *, config: Config | None = None,
                 clock: Callable = utcnow, **engine_options):
        self.config = config
        self.engine = make_engine(database_url, **engine_options)
        self.registries = RegistryCache(self.engine)
        self.clock = clock

    @classmethod
    def from_config(cls, config: Config | None = None, **engine_options) -> Runtime:
        config = config or load_config()
        return cls(config.database_url, config=config, **engine_options)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> list:
        """Brings the system tables to this version's revision; returns the migration steps applied."""
        from engine.storage.migrate import upgrade

        return upgrade(self.engine)

    def registry(self, conn: Connection | None = None) -> Registry:
        """Returns the registry of the installed metadata, rebuilt if it changed since last asked."""
        return self.registries.get(conn)

    def records(self, actor: Actor = SYSTEM, *, registry: Registry | None = None,
                conn: Connection | None = None) -> RecordService:
        return RecordService(self.engine, registry or self.registry(conn), actor, self.clock, conn=conn)

    def query(self, actor: Actor = SYSTEM, *, registry: Registry | None = None,
              conn: Connection | None = None) -> QueryService:
        return QueryService(self.engine, registry or self.registry(conn), actor, conn=conn)

    def dispose(self) -> None:
        self.engine.dispose()
