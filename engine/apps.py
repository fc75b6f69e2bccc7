"""Installing, upgrading and exporting apps: a folder of metadata against what the database holds.

Every install is a plan (readable steps) applied in one transaction with the new metadata revision.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.changes import MetadataChange, metadata_changes, with_affected_rows
from engine.data.registry import installed_documents
from engine.errors import FormworkError
from engine.grant_merge import KeptGrant, live_roles, merge_admin_changes
from engine.runtime import Runtime
from engine.security.actors import SYSTEM, Actor
from engine.storage.db import fw_role
from engine.storage.schema import Plan, Step, apply_plan, plan_changes
from metamodel import app_from_documents, app_to_documents, load_app, write_app
from metamodel.model import AppDef


class AppError(FormworkError):
    """An install or upgrade that cannot go ahead (a downgrade, an unknown app...)."""


@dataclass(frozen=True)
class AppPlan:
    """What an install or upgrade would do: schema steps, every other metadata change with the
    existing records it breaks, and the role grants an admin changed that the upgrade keeps."""
    app: AppDef
    installed_version: str | None
    plan: Plan
    changes: tuple[MetadataChange, ...] = ()
    kept_grants: tuple[KeptGrant, ...] = ()
    previous: AppDef | None = None   # the package installed now, whose roles admins may have changed

    @property
    def refused(self) -> list[Step]:
        return self.plan.refused

    def describe(self) -> str:
        head = (f"Install {self.app.name} {self.app.version}" if self.installed_version is None
                else f"Upgrade {self.app.name} {self.installed_version} -> {self.app.version}")
        lines = [head, self.plan.describe()]
        if self.installed_version is not None:
            lines.append(self.describe_metadata())
        return "\n".join(lines)

    def describe_metadata(self) -> str:
        entries = [c.describe() for c in self.changes] + [k.describe() for k in self.kept_grants]
        if not entries:
            return "No other metadata changes."
        return "\n".join(["Metadata changes:", *(f"- {entry}" for entry in entries)])


def semver_key(version: str) -> tuple[int, ...]:
    core = version.split("-", 1)[0].split("+", 1)[0]
    return tuple(int(part) for part in core.split("."))


def installed_app(conn: Connection, name: str) -> AppDef | None:
    """Returns the installed metadata of app `name`, or None when it is not installed."""
    found = installed_documents(conn).get(name)
    return app_from_documents(found[1]) if found else None


def plan_app(runtime: Runtime, app: AppDef | str | Path) -> AppPlan:
    """Returns what installing `app` (a loaded app or its folder) would change, without changing it."""
    app = app if isinstance(app, AppDef) else load_app(app)
    with runtime.engine.connect() as conn:
        before = installed_app(conn, app.name)
        if before is not None and semver_key(app.version) < semver_key(before.version):
            raise AppError(f"{app.name} {app.version} is older than the installed {before.version}; "
                           "downgrades are refused")
        old = dict(before.entities) if before else {}
        plan = plan_changes(conn, old, dict(app.entities))
        kept = merge_admin_changes(conn, before, app).kept
        changes = with_affected_rows(_without_kept(metadata_changes(before, app), kept),
                                     runtime.query(conn=conn))
    return AppPlan(app, before.version if before else None, plan, changes, kept, before)


def _without_kept(changes: tuple[MetadataChange, ...], kept: tuple[KeptGrant, ...]) -> tuple[MetadataChange, ...]:
    """Drops the template's grant changes an admin's value overrides (the kept line says both)."""
    overridden = {k.subject for k in kept}
    return tuple(c for c in changes if c.subject not in overridden)


def apply_app(runtime: Runtime, app_plan: AppPlan, *, actor: Actor = SYSTEM,
              after_step: Callable[[Step], None] | None = None) -> int:
    """Applies a plan made by `plan_app`, records the app's roles and, on first install, its seed."""
    app = app_plan.app
    first_install = app_plan.installed_version is None

    def finish(conn: Connection) -> None:
        # Roles and seed rows commit with the schema change, or not at all. The grants admins
        # changed are read again here, inside the transaction, so none made since the plan is lost.
        roles = merge_admin_changes(conn, app_plan.previous, app).roles
        _store_roles(conn, dataclasses.replace(app, roles=roles))
        if first_install and app.seed:
            _load_seed(runtime, app, actor, conn)

    revision = apply_plan(runtime.engine, app_plan.plan, app=app.name, app_version=app.version,
                          documents=app_to_documents(app), actor_id=actor.id, after_step=after_step,
                          before_commit=finish)
    runtime.registries.invalidate()
    return revision


def install_app(runtime: Runtime, app: AppDef | str | Path, *, actor: Actor = SYSTEM,
                after_step: Callable[[Step], None] | None = None) -> int:
    """Plans and applies `app` at once; returns the new metadata revision."""
    return apply_app(runtime, plan_app(runtime, app), actor=actor, after_step=after_step)


def export_app(runtime: Runtime, name: str, folder: str | Path) -> list[Path]:
    """Writes the installed app `name` as a folder that installs to the same metadata, its roles
    holding the grants they have now (admins' changes included)."""
    with runtime.engine.connect() as conn:
        found = installed_documents(conn).get(name)
        if found is None:
            raise AppError(f"there is no installed app {name!r}")
        app = app_from_documents(found[1])
        roles = live_roles(conn, app)
    return write_app(dataclasses.replace(app, roles=roles), folder)


def installed_apps(runtime: Runtime) -> dict[str, str]:
    """Returns app name -> installed version."""
    with runtime.engine.connect() as conn:
        return {name: app_from_documents(docs).version for name, (_rev, docs) in installed_documents(conn).items()}


def _store_roles(conn: Connection, app: AppDef) -> None:
    from engine.security.permissions import store_app_permissions

    for role in app.roles:
        exists = conn.execute(sa.select(fw_role.c.name).where(fw_role.c.name == role.name)).first()
        values: Mapping[str, Any] = {"app": app.name, "label": dict(role.label)}
        if exists:
            conn.execute(sa.update(fw_role).where(fw_role.c.name == role.name).values(values))
        else:
            conn.execute(sa.insert(fw_role).values(name=role.name, **values))
    store_app_permissions(conn, app)


def _load_seed(runtime: Runtime, app: AppDef, actor: Actor, conn: Connection) -> None:
    records = runtime.records(actor, conn=conn)
    for entity_name, rows in app.seed.items():
        records.bulk_create(entity_name, [dict(row) for row in rows])
