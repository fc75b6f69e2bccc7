"""Schema change as plan, then apply: diff two metadata versions into readable steps, run them.

`plan_changes` reads the database only to check data (conversions, duplicates); `apply_plan` runs
every step through Alembic's operations API in one transaction, so a failure changes nothing.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Connection, Engine

from engine.errors import SchemaChangeRefused
from engine.storage.db import fw_archive, fw_metadata, utcnow
from engine.storage.tables import (
    IndexSpec,
    build_metadata,
    field_column,
    index_object,
    index_specs,
    short_name,
    stored_fields,
    system_columns,
)
from metamodel.assembly import (
    document_of_entity,
    document_of_field,
    entity_from_document,
    field_from_document,
)
from metamodel.fieldtypes import FieldValueError, field_type
from metamodel.model import EntityDef, FieldDef, label_text

# Steps run in this order: indexes go before the columns they cover change, come back after.
STEP_ORDER = ("drop_index", "rename_entity", "restore_entity", "create_entity", "rename_field",
              "restore_field", "add_field", "retype_field", "change_field", "archive_field",
              "archive_entity", "add_index")

RISK_NONE = "none"
RISK_DATA_KEPT = "data kept"
RISK_CONVERTS = "converts data"
RISK_REFUSED = "refused"

MAX_LISTED_ROWS = 20


@dataclass(frozen=True)
class FailingRow:
    id: int
    value: Any
    message: str

    def __str__(self) -> str:
        return f"row id {self.id}: {self.value!r} — {self.message}"


@dataclass(frozen=True)
class Step:
    """One change a person can read: `sentence` says what happens, `risk` what it does to data."""
    kind: str
    entity: str
    sentence: str
    risk: str = RISK_NONE
    field: str | None = None
    old: Any = None
    new: Any = None
    failing_rows: tuple[FailingRow, ...] = ()

    def __str__(self) -> str:
        text = self.sentence if self.risk == RISK_NONE else f"{self.sentence} [{self.risk}]"
        for row in self.failing_rows:
            text += f"\n    {row}"
        return text


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    new_entities: Mapping[str, EntityDef] = field(default_factory=dict)

    @property
    def refused(self) -> list[Step]:
        return [s for s in self.steps if s.risk == RISK_REFUSED]

    @property
    def is_empty(self) -> bool:
        return not self.steps

    def describe(self) -> str:
        if not self.steps:
            return "No schema changes."
        return "\n".join(f"{n}. {step}" for n, step in enumerate(self.steps, 1))


@dataclass(frozen=True)
class Archived:
    """A field or entity whose data waits under another name until it is restored."""
    entity: str
    field: str | None
    stored_as: str
    definition: Mapping[str, Any]


# ----------------------------------------------------------------------------------------------
# planning

def archived_items(conn: Connection) -> list[Archived]:
    rows = conn.execute(sa.select(fw_archive).where(fw_archive.c.restored_at.is_(None))
                        .order_by(fw_archive.c.id))
    return [Archived(r.entity, r.field, r.stored_as, r.definition) for r in rows]


def plan_changes(conn: Connection, old: Mapping[str, EntityDef], new: Mapping[str, EntityDef]) -> Plan:
    """Returns the ordered steps that turn the schema of `old` entities into that of `new`."""
    archived = archived_items(conn)
    steps: list[Step] = []
    matched: list[tuple[EntityDef | None, EntityDef, str]] = []   # (old, new, table name today)
    used_old: set[str] = set()
    for entity in new.values():
        before = old.get(entity.name)
        if before is not None:
            matched.append((before, entity, entity.name))
            used_old.add(entity.name)
            continue
        source = entity.renamed_from
        if source and source in old and source not in new:
            steps.append(Step("rename_entity", entity.name, f"rename entity {source} to {entity.name}",
                              RISK_DATA_KEPT, old=source, new=entity.name))
            matched.append((old[source], entity, source))
            used_old.add(source)
            continue
        kept = _archived_entity(archived, entity.name)
        if kept is not None:
            steps.append(Step("restore_entity", entity.name,
                              f"restore archived entity {entity.name} — its rows come back",
                              RISK_DATA_KEPT, old=kept.stored_as))
            matched.append((_entity_from_archive(kept), entity, kept.stored_as))
            continue
        steps.append(Step("create_entity", entity.name, f"create entity {entity.name}{_called(entity)} "
                          f"({len(stored_fields(entity))} columns)", new=entity))
    for name, entity in old.items():
        if name not in used_old:
            count = _count_rows(conn, name)
            steps.append(Step("archive_entity", name,
                              f"archive entity {name}{_called(entity)} — {count} rows kept, restorable",
                              RISK_DATA_KEPT, old=entity))
    for before, after, table in matched:
        if before is not None:
            steps.extend(_field_steps(conn, before, after, table, archived))
    steps.extend(_index_steps(conn, old, new, matched, steps))
    steps.sort(key=lambda s: STEP_ORDER.index(s.kind))
    return Plan(tuple(steps), dict(new))


def _called(definition: EntityDef | FieldDef) -> str:
    """The English label beside an internal name in a plan's sentence (“Annual revenue”), or
    nothing when the label says no more than the name."""
    text = label_text(definition.label, "en")
    return f" “{text}”" if text and text.lower() != definition.name.replace("_", " ") else ""


def _archived_entity(archived: list[Archived], name: str) -> Archived | None:
    return next((a for a in reversed(archived) if a.entity == name and a.field is None), None)


def _archived_field(archived: list[Archived], entity: str, name: str) -> Archived | None:
    return next((a for a in reversed(archived) if a.entity == entity and a.field == name), None)


def _entity_from_archive(item: Archived) -> EntityDef:
    return entity_from_document(item.definition)


def _field_from_archive(item: Archived) -> FieldDef:
    return field_from_document(item.definition)


def _count_rows(conn: Connection, table: str) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()


def _column_signature(conn: Connection, f: FieldDef) -> str:
    column = field_column(f)
    fk = column.foreign_keys and next(iter(column.foreign_keys)).target_fullname
    return f"{column.type.compile(dialect=conn.dialect)} {fk or ''}"


def _field_steps(conn: Connection, before: EntityDef, after: EntityDef, table: str,
                 archived: list[Archived]) -> Iterable[Step]:
    old_fields = {f.name: f for f in stored_fields(before)}
    new_fields = stored_fields(after)
    used: set[str] = set()
    entity = after.name
    for f in new_fields:
        prior = old_fields.get(f.name)
        if prior is not None:
            used.add(f.name)
            if _column_signature(conn, prior) != _column_signature(conn, f):
                yield _retype_step(conn, table, entity, prior, f)
            elif f.type in ("picklist", "multipicklist") and prior.options != f.options:
                yield _values_step(conn, table, entity, prior, f)
            continue
        source = f.renamed_from
        if source and source in old_fields and not after.has_field(source):
            used.add(source)
            yield Step("rename_field", entity, f"rename field {entity}.{source} to {f.name}",
                       RISK_DATA_KEPT, field=f.name, old=source, new=f.name)
            prior = old_fields[source]
            if _column_signature(conn, prior) != _column_signature(conn, f):
                yield _retype_step(conn, table, entity, prior, f)
            continue
        kept = _archived_field(archived, entity, f.name)
        if kept is not None and _column_signature(conn, _field_from_archive(kept)) == \
                _column_signature(conn, f):
            yield Step("restore_field", entity, f"restore archived field {entity}.{f.name} — its "
                       "values come back", RISK_DATA_KEPT, field=f.name, old=kept.stored_as, new=f)
            continue
        yield Step("add_field", entity, f"add field {entity}.{f.name}{_called(f)} ({f.type})", field=f.name, new=f)
    for name, prior in old_fields.items():
        if name not in used:
            yield Step("archive_field", entity, f"archive field {entity}.{name}{_called(prior)} — data kept, restorable",
                       RISK_DATA_KEPT, field=name, old=prior)


def _retype_step(conn: Connection, table: str, entity: str, prior: FieldDef, f: FieldDef) -> Step:
    failing = _conversion_failures(conn, table, prior, f)
    sentence = f"change field {entity}.{f.name}{_called(f)} from {prior.type} to {f.type}"
    if prior.type == f.type:
        sentence = f"change the storage of field {entity}.{f.name} ({f.type})"
    if failing:
        total = len(failing)
        sentence += f" — {total} row{'s' if total != 1 else ''} would not convert"
        return Step("retype_field", entity, sentence, RISK_REFUSED, field=f.name, old=prior, new=f,
                    failing_rows=tuple(failing[:MAX_LISTED_ROWS]))
    return Step("retype_field", entity, sentence, RISK_CONVERTS, field=f.name, old=prior, new=f)


def _values_step(conn: Connection, table: str, entity: str, prior: FieldDef, f: FieldDef) -> Step:
    failing = _conversion_failures(conn, table, prior, f)
    sentence = f"change the values of picklist {entity}.{f.name}{_called(f)}"
    if failing:
        return Step("change_field", entity, sentence + f" — {len(failing)} rows hold a value no longer "
                    "listed", RISK_REFUSED, field=f.name, old=prior, new=f,
                    failing_rows=tuple(failing[:MAX_LISTED_ROWS]))
    return Step("change_field", entity, sentence, field=f.name, old=prior, new=f)


def convert_value(prior: FieldDef, f: FieldDef, stored: Any) -> Any:
    """Returns the stored value of `prior` converted to field `f`; raises FieldValueError."""
    old_kind, new_kind = field_type(prior.type), field_type(f.type)
    value = old_kind.to_json(prior, old_kind.from_db(prior, stored))
    if isinstance(value, list):
        value = ";".join(value) if new_kind.name != "multipicklist" else value
    converted = new_kind.coerce(f, value)
    problems = new_kind.check_value(f, converted) if converted is not None else []
    if problems:
        raise FieldValueError(problems[0])
    return new_kind.to_db(f, converted)


def _conversion_failures(conn: Connection, table: str, prior: FieldDef, f: FieldDef) -> list[FailingRow]:
    t = sa.table(table, sa.column("id"), sa.column(prior.name, field_column(prior).type))
    column = t.c[prior.name]
    failing: list[FailingRow] = []
    for row_id, stored in conn.execute(sa.select(t.c.id, column).where(column.is_not(None))
                                       .order_by(t.c.id)):
        try:
            convert_value(prior, f, stored)
        except (FieldValueError, ValueError, TypeError) as exc:
            failing.append(FailingRow(row_id, stored, str(exc)))
    return failing


def _existing_indexes(conn: Connection, table: str) -> dict[str, IndexSpec]:
    inspector = sa.inspect(conn)
    found: dict[str, IndexSpec] = {}
    for index in inspector.get_indexes(table):
        name = index["name"]
        if name and (name.startswith("ix_") or name.startswith("uq_")) and \
                not name.startswith(f"ix_{table}_owner_id") and not name.startswith(f"ix_{table}_deleted_at"):
            found[name] = IndexSpec(name, table, tuple(index["column_names"]), bool(index["unique"]))
    return found


def _index_steps(conn: Connection, old: Mapping[str, EntityDef], new: Mapping[str, EntityDef],
                 matched: list[tuple[EntityDef | None, EntityDef, str]], steps: list[Step]) -> Iterable[Step]:
    changed_columns = {(s.entity, s.field) for s in steps
                       if s.kind in ("retype_field", "rename_field", "archive_field")}
    existing_by_entity: dict[str, dict[str, IndexSpec]] = {}
    for _before, after, table in matched:
        existing_by_entity[after.name] = _existing_indexes(conn, table)
    for entity in new.values():
        existing = existing_by_entity.get(entity.name, {})
        wanted = {spec.name: spec for spec in index_specs(entity)}
        for name, spec in existing.items():
            touched = any((entity.name, c) in changed_columns for c in spec.columns)
            if name not in wanted or wanted[name].columns != spec.columns or \
                    wanted[name].unique != spec.unique or touched:
                yield Step("drop_index", entity.name, f"drop index {name}", field=None, old=spec)
        for name, spec in wanted.items():
            prior = existing.get(name)
            touched = any((entity.name, c) in changed_columns for c in spec.columns)
            if prior is not None and prior.columns == spec.columns and prior.unique == spec.unique \
                    and not touched:
                continue
            if entity.name not in existing_by_entity:
                continue   # a new table gets its indexes with it
            yield _add_index_step(conn, existing_by_entity, entity, spec, matched)


def _add_index_step(conn: Connection, existing: Mapping[str, Any], entity: EntityDef, spec: IndexSpec,
                    matched: list[tuple[EntityDef | None, EntityDef, str]]) -> Step:
    kind = "unique index" if spec.unique else "index"
    sentence = f"add {kind} {spec.name} on {entity.name} ({', '.join(spec.columns)})"
    if not spec.unique:
        return Step("add_index", entity.name, sentence, new=spec)
    table = next(t for _b, a, t in matched if a.name == entity.name)
    duplicates = _duplicate_rows(conn, table, spec.columns)
    if duplicates:
        return Step("add_index", entity.name, sentence + f" — {len(duplicates)} rows share a value",
                    RISK_REFUSED, new=spec, failing_rows=tuple(duplicates[:MAX_LISTED_ROWS]))
    return Step("add_index", entity.name, sentence, new=spec)


def _duplicate_rows(conn: Connection, table: str, columns: tuple[str, ...]) -> list[FailingRow]:
    inspector_columns = {c["name"] for c in sa.inspect(conn).get_columns(table)}
    if not set(columns) <= inspector_columns:
        return []   # the column arrives in this same plan: it holds no values yet
    t = sa.table(table, sa.column("id"), sa.column("deleted_at"), *(sa.column(c) for c in columns))
    keys = [t.c[c] for c in columns]
    dup = (sa.select(*keys).where(t.c.deleted_at.is_(None), *(k.is_not(None) for k in keys))
           .group_by(*keys).having(sa.func.count() > 1).subquery())
    query = (sa.select(t.c.id, *keys).join(dup, sa.and_(*(t.c[c] == dup.c[c] for c in columns)))
             .where(t.c.deleted_at.is_(None)).order_by(*keys, t.c.id))
    return [FailingRow(row[0], row[1] if len(columns) == 1 else tuple(row[1:]), "duplicate value")
            for row in conn.execute(query)]


# ----------------------------------------------------------------------------------------------
# applying

@dataclass
class _Applier:
    conn: Connection
    op: Operations
    metadata: sa.MetaData
    revision_hint: int
    plan: Plan
    created: bool = False

    @property
    def sqlite(self) -> bool:
        return self.conn.dialect.name == "sqlite"

    def batch(self, table: str):
        return self.op.batch_alter_table(table, recreate="auto" if self.sqlite else "never")

    def run(self, step: Step) -> None:
        getattr(self, f"step_{step.kind}")(step)

    def step_create_entity(self, step: Step) -> None:
        # New tables may point at each other in a loop; create_all orders them and adds the
        # foreign keys of a loop afterwards, so all of them are created at the first such step.
        if self.created:
            return
        self.created = True
        new_tables = [self.metadata.tables[s.entity] for s in self.plan.steps if s.kind == "create_entity"]
        self.metadata.create_all(self.conn, tables=new_tables)

    def step_rename_entity(self, step: Step) -> None:
        self.op.rename_table(step.old, step.new)

    def step_archive_entity(self, step: Step) -> None:
        entity: EntityDef = step.old
        stored_as = short_name(f"fw_arch_{self.revision_hint}_{entity.name}")
        self.op.rename_table(entity.name, stored_as)
        self._record_archive(entity.name, None, stored_as, _entity_document(entity))

    def step_restore_entity(self, step: Step) -> None:
        self.op.rename_table(step.old, step.entity)
        self._mark_restored(step.entity, None)

    def step_add_field(self, step: Step) -> None:
        with self.batch(step.entity) as batch:
            batch.add_column(field_column(step.new))

    def step_rename_field(self, step: Step) -> None:
        with self.batch(step.entity) as batch:
            batch.alter_column(step.old, new_column_name=step.new)

    def step_archive_field(self, step: Step) -> None:
        prior: FieldDef = step.old
        stored_as = short_name(f"fw_arch_{self.revision_hint}_{prior.name}")
        with self.batch(step.entity) as batch:
            batch.alter_column(prior.name, new_column_name=stored_as)
        self._record_archive(step.entity, prior.name, stored_as, _field_document(prior))

    def step_restore_field(self, step: Step) -> None:
        with self.batch(step.entity) as batch:
            batch.alter_column(step.old, new_column_name=step.field)
        self._mark_restored(step.entity, step.field)

    def step_retype_field(self, step: Step) -> None:
        prior, f = step.old, step.new
        temporary = short_name(f"fw_new_{f.name}")
        with self.batch(step.entity) as batch:
            batch.add_column(field_column(f, name=temporary))
        t = sa.table(step.entity, sa.column("id"), sa.column(f.name, field_column(prior).type),
                     sa.column(temporary, field_column(f).type))
        rows = self.conn.execute(sa.select(t.c.id, t.c[f.name]).where(t.c[f.name].is_not(None))).all()
        for row_id, stored in rows:
            self.conn.execute(sa.update(t).where(t.c.id == row_id)
                              .values({temporary: convert_value(prior, f, stored)}))
        with self.batch(step.entity) as batch:
            batch.drop_column(f.name)
        with self.batch(step.entity) as batch:
            batch.alter_column(temporary, new_column_name=f.name)

    def step_change_field(self, step: Step) -> None:
        """Picklist values changed: metadata only, the plan has checked every row."""

    def step_drop_index(self, step: Step) -> None:
        spec: IndexSpec = step.old
        self.op.drop_index(spec.name, table_name=spec.table)

    def step_add_index(self, step: Step) -> None:
        spec: IndexSpec = step.new
        table = self.metadata.tables[step.entity]
        index = index_object(spec, table)
        table.indexes.discard(index)
        index.create(self.conn)

    def _record_archive(self, entity: str, field_name: str | None, stored_as: str,
                        definition: Mapping[str, Any]) -> None:
        self.conn.execute(sa.insert(fw_archive).values(entity=entity, field=field_name, stored_as=stored_as,
                                                       definition=definition, archived_at=utcnow()))

    def _mark_restored(self, entity: str, field_name: str | None) -> None:
        match = fw_archive.c.field.is_(None) if field_name is None else fw_archive.c.field == field_name
        self.conn.execute(sa.update(fw_archive).where(fw_archive.c.entity == entity, match,
                                                      fw_archive.c.restored_at.is_(None))
                          .values(restored_at=utcnow()))


def _entity_document(entity: EntityDef) -> Mapping[str, Any]:
    return json.loads(json.dumps(document_of_entity(entity), default=str))


def _field_document(f: FieldDef) -> Mapping[str, Any]:
    return json.loads(json.dumps(document_of_field(f), default=str))


StepHook = Callable[[Step], None]


def apply_plan(engine: Engine, plan: Plan, *, app: str, app_version: str, documents: Mapping[str, Any],
               actor_id: int | None = None, after_step: StepHook | None = None,
               before_commit: Callable[[Connection], None] | None = None) -> int:
    """Runs every step of `plan` and records the app's new metadata; returns the new revision.

    All of it happens in one transaction: on any error the schema, the data and the recorded
    metadata stay exactly as they were. `after_step` is called after each step (progress bars);
    `before_commit` runs last inside the transaction, seeing the new metadata (roles, seed data).
    """
    if plan.refused:
        details = "\n".join(str(s) for s in plan.refused)
        raise SchemaChangeRefused(f"the plan holds steps that would lose data:\n{details}")
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # A table copy (SQLite's way to alter) must not fire the cascades of its foreign keys;
            # the pragma only takes effect outside a transaction, so set it before BEGIN.
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                revision = _next_revision(conn)
                context = MigrationContext.configure(conn, opts={"render_as_batch": sqlite})
                applier = _Applier(conn, Operations(context), build_metadata(plan.new_entities.values()),
                                   revision, plan)
                for step in plan.steps:
                    applier.run(step)
                    if after_step is not None:
                        after_step(step)
                conn.execute(sa.insert(fw_metadata).values(
                    app=app, app_version=app_version, documents=dict(documents), removed=False,
                    installed_at=utcnow(), installed_by=actor_id))
                if before_commit is not None:
                    before_commit(conn)
                if sqlite:
                    _check_foreign_keys(conn)
                return _last_revision(conn)
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")


def _next_revision(conn: Connection) -> int:
    return _last_revision(conn) + 1


def _last_revision(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.coalesce(sa.func.max(fw_metadata.c.revision), 0))).scalar_one()


def _check_foreign_keys(conn: Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise SchemaChangeRefused(f"{len(broken)} rows would point at missing records "
                                  f"(first: {table} rowid {rowid} -> {parent})")


__all__ = ["Plan", "Step", "FailingRow", "plan_changes", "apply_plan", "convert_value", "system_columns"]
