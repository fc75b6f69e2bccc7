"""The installed apps compiled into one immutable Registry, cached per metadata revision.

Every worker checks the revision row before using its cache, so a schema change is seen at once.
"""
from __future__ import annotations

import functools
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from engine.data.computed import EntityFormulas, compile_app_formulas
from engine.flows.approval_rules import ApprovalRules, compile_approval_rules
from engine.flows.automations import CompiledAutomation, compile_automations
from engine.flows.pipelines import CompiledPipeline, compile_app_pipelines
from engine.storage.db import fw_metadata
from engine.storage.tables import build_metadata
from metamodel import app_from_documents
from metamodel.model import AppDef, EntityDef


class UnknownEntity(KeyError):
    def __init__(self, name: str, known: list[str]):
        self.name = name
        super().__init__(f"there is no entity {name!r} (installed: {', '.join(sorted(known)) or 'none'})")

    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class Registry:
    revision: int
    apps: Mapping[str, AppDef]
    entities: Mapping[str, EntityDef]
    tables: Mapping[str, sa.Table]
    formulas: Mapping[str, EntityFormulas]
    # entity -> its enabled record-triggered automations, conditions and values compiled
    automations: Mapping[str, tuple[CompiledAutomation, ...]] = field(default_factory=dict)
    pipelines: Mapping[str, tuple[CompiledPipeline, ...]] = field(default_factory=dict)   # by priority
    # approval flows by entity, and the fields their actions set (written by the approval only)
    approval_rules: ApprovalRules = field(default_factory=lambda: ApprovalRules({}, {}))

    def entity(self, name: str) -> EntityDef:
        try:
            return self.entities[name]
        except KeyError:
            raise UnknownEntity(name, list(self.entities)) from None

    def table(self, name: str) -> sa.Table:
        self.entity(name)
        return self.tables[name]

    def app_of(self, entity_name: str) -> AppDef:
        """Returns the app that defines `entity_name`."""
        self.entity(entity_name)
        return next(app for app in self.apps.values() if entity_name in app.entities)

    def children_of(self, name: str) -> list[tuple[EntityDef, str]]:
        """Returns (child entity, field) for every lookup or master-detail field pointing at `name`."""
        found = []
        for entity in self.entities.values():
            for f in entity.fields:
                if f.option("target") == name:
                    found.append((entity, f.name))
        return found


EMPTY = Registry(0, {}, {}, {}, {})


def installed_documents(conn: Connection) -> dict[str, tuple[int, dict]]:
    """Returns app name -> (revision, documents) of the newest metadata of each installed app."""
    newest = (sa.select(fw_metadata.c.app, sa.func.max(fw_metadata.c.revision).label("revision"))
              .group_by(fw_metadata.c.app).subquery())
    rows = conn.execute(sa.select(fw_metadata).join(
        newest, sa.and_(newest.c.app == fw_metadata.c.app, newest.c.revision == fw_metadata.c.revision)))
    return {row.app: (row.revision, row.documents) for row in rows if not row.removed}


def current_revision(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.coalesce(sa.func.max(fw_metadata.c.revision), 0))).scalar_one()


@functools.lru_cache(maxsize=32)
def _app_of_text(text: str) -> AppDef:
    return app_from_documents(json.loads(text))


def _app_of(documents: Mapping[str, Any]) -> AppDef:
    # Installed documents were validated when installed; the same text always gives the same app,
    # so every registry rebuild after the first (each worker, each revision) skips validating it.
    return _app_of_text(json.dumps(documents, sort_keys=True))


def build_registry(conn: Connection) -> Registry:
    """Returns the registry of every app installed in the database `conn` reads."""
    apps: dict[str, AppDef] = {}
    revision = 0
    for name, (app_revision, documents) in installed_documents(conn).items():
        apps[name] = _app_of(documents)
        revision = max(revision, app_revision)
    revision = max(revision, current_revision(conn))
    entities = {e.name: e for app in apps.values() for e in app.entities.values()}
    metadata = build_metadata(entities.values())
    tables = {name: metadata.tables[name] for name in entities}
    formulas = {name: compiled for app in apps.values() for name, compiled in compile_app_formulas(app).items()}
    automations = {name: found for app in apps.values() for name, found in compile_automations(app).items()}
    pipelines = {name: found for app in apps.values() for name, found in compile_app_pipelines(app).items()}
    return Registry(revision, apps, entities, tables, formulas, automations, pipelines,
                    compile_approval_rules(apps.values()))


class RegistryCache:
    """Holds the registry of one database, rebuilt when the metadata revision moves on."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._registry = EMPTY
        self._lock = threading.Lock()

    def get(self, conn: Connection | None = None) -> Registry:
        if conn is None:
            with self.engine.connect() as own:
                return self.get(own)
        if current_revision(conn) == self._registry.revision and self._registry.revision:
            return self._registry
        with self._lock:
            registry = build_registry(conn)
            self._registry = registry
            return registry

    def invalidate(self) -> None:
        with self._lock:
            self._registry = EMPTY
