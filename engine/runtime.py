"""A running Formwork: one database engine, its registry cache and the clock, handing out services.

The web app, the CLI, workers and tests each hold one Runtime; services are cheap to create per call.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Connection

from engine.config import DEFAULT_QUERY_TIMEOUT_SECONDS, Config, load_config
from engine.data.query import QueryService
from engine.data.records import RecordService
from engine.data.registry import Registry, RegistryCache
from engine.security.actors import SYSTEM, Actor
from engine.storage.db import make_engine, utcnow


class Runtime:
    def __init__(self, database_url: str, *, config: Config | None = None,
                 clock: Callable = utcnow, query_timeout_seconds: float | None = None, **engine_options):
        self.config = config
        self._query_timeout_seconds = query_timeout_seconds
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
        return QueryService(self.engine, registry or self.registry(conn), actor, conn=conn,
                            timeout_seconds=self.query_timeout_seconds)

    @property
    def query_timeout_seconds(self) -> float:
        """The time limit on a user-driven read: set here, else the configuration's, else 10 s."""
        if self._query_timeout_seconds is not None:
            return self._query_timeout_seconds
        return self.config.query_timeout_seconds if self.config else DEFAULT_QUERY_TIMEOUT_SECONDS

    def dispose(self) -> None:
        self.engine.dispose()
