"""The single write path: permission -> coerce -> defaults -> validation -> write -> audit.

The web form, the API, imports and flows all save through RecordService, so no rule is skipped.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import formula
from engine.data.autonumber import allocate
from engine.data.computed import RecordValues
from engine.data.conversion_rules import refuse_edit_of_converted
from engine.data.merging import UNREADABLE, MergedWrite, merge_stale_write, stored_form, values_at_version
from engine.data.registry import Registry
from engine.data.rows import RECORD_COLUMNS, json_value, row_to_record
from engine.errors import ConflictError, FieldError, NotFound, PermissionDenied, Problems, ValidationError
from engine.flows.approval_rules import opens_for_edit, refuse_locked, refuse_owned_fields
from engine.flows.events import FlowEvents, RecordEvent
from engine.flows.pipelines import StageWrite, enter_stage
from engine.security import audit
from engine.security.actors import SYSTEM, Actor
from engine.security.scopes import check_write, read_scope, strip_hidden
from engine.storage.db import write_transaction
from engine.storage.tables import stored_fields
from metamodel.fieldtypes import FieldValueError, field_type
from metamodel.fieldtypes.base import field_label, is_blank
from metamodel.model import EntityDef, FieldDef, entity_label, label_text, plural_label

MISSING = object()
SYSTEM_WRITABLE = ("owner_id",)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class BulkResult:
    """What a bulk write did: the ids it created, in input order, and the rows it refused."""
    created: list[int]
    errors: list[FieldError] = field(default_factory=list)


class RecordService:
    """Creates, updates, deletes and restores records of any entity for one actor."""

    def __init__(self, engine: Engine, registry: Registry, actor: Actor, clock: Clock,
                 conn: Connection | None = None, events: FlowEvents | None = None):
        self.engine = engine
        self.registry = registry
        self.actor = actor
        self.clock = clock
        self._conn = conn
        self.events = events if events is not None else FlowEvents(registry)

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        if self._conn is not None:
            yield self._conn   # the caller's transaction: it commits or rolls back the whole
            return
        with write_transaction(self.engine) as conn:
            yield conn

    # -- create ----------------------------------------------------------------------------
    def create(self, entity_name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Validates and inserts one record; returns it as stored. Raises ValidationError."""
        entity = self.registry.entity(entity_name)
        rows = self._create(entity, [values], skip_invalid=False)[0]
        return self._returned(entity, rows[0])

    def bulk_create(self, entity_name: str, rows: Sequence[Mapping[str, Any]], *,
                    skip_invalid: bool = False) -> BulkResult:
        """Validates every row, then inserts them in one transaction.

        With errors and `skip_invalid` False, nothing is written and ValidationError lists every
        bad row (1-based) and field; with `skip_invalid` True the good rows are written.
        """
        rows, errors = self._create(self.registry.entity(entity_name), rows, skip_invalid=skip_invalid)
        return BulkResult([row["id"] for row in rows], errors)

    def _create(self, entity: EntityDef, rows: Sequence[Mapping[str, Any]], *,
                skip_invalid: bool) -> tuple[list[Mapping[str, Any]], list[FieldError]]:
        table = self.registry.table(entity.name)
        check_write(self.actor, entity, "create")
        now = self.clock()
        problems = Problems(entity.name)
        prepared: list[tuple[int, dict[str, Any]]] = []
        with self._transaction() as conn:
            for number, values in enumerate(rows, 1):
                # A detail's master is looked up on `conn`: whoever may edit the quote adds its lines.
                check_write(self.actor, entity, "create", {"owner_id": values.get("owner_id", self.actor.id)},
                            values, conn=conn, registry=self.registry)
                refuse_owned_fields(self.registry, self.actor, entity.name,
                                    self._given_beyond_defaults(entity, values), self.actor.locale)
                row_problems = Problems(entity.name)
                columns = self._columns_for_create(entity, values, row_problems, number)
                problems.errors.extend(row_problems.errors)
                if not row_problems.errors:
                    prepared.append((number, columns))
            reader = RecordValues(conn, self.registry)
            for number, columns in prepared:
                self._apply_default_formulas(entity, columns, rows[number - 1], reader, problems, number, now)
                enter_stage(self.registry, StageWrite(entity, columns, None, number), reader, problems, self.actor.locale)
                self._check_rules(entity, columns, None, reader, problems, number, now)
            self._check_references(conn, entity, prepared, problems)
            self._check_unique(conn, entity, prepared, problems, exclude_id=None)
            bad_rows = {e.row for e in problems.errors}
            if problems.errors and not skip_invalid:
                raise ValidationError(entity.name, problems.errors)
            good = [(n, c) for n, c in prepared if n not in bad_rows]
            inserted = self._insert(conn, entity, table, [c for _, c in good], now)
            inserted = [self._emit(conn, entity, "created", None, row) for row in inserted]
            return inserted, problems.errors

    def _columns_for_create(self, entity: EntityDef, values: Mapping[str, Any], problems: Problems,
                            row: int) -> dict[str, Any]:
        self._refuse_unknown(entity, values, problems, row)
        columns: dict[str, Any] = {}
        for f in stored_fields(entity):
            kind = field_type(f.type)
            if kind.generated:
                continue
            raw = values.get(f.name, MISSING)
            if f.default_formula and (raw is MISSING or is_blank(raw)):
                continue   # filled by _apply_default_formulas, which can read the other values
            if raw is MISSING:
                raw = f.default
            value = self._coerce(f, raw, problems, row)
            if value is MISSING:
                continue
            columns[f.name] = kind.to_db(f, value) if value is not None else None
        if "owner_id" in values:
            columns["owner_id"] = self._owner(values["owner_id"], problems, row)
        else:
            columns["owner_id"] = self.actor.id
        return columns

    def _insert(self, conn: Connection, entity: EntityDef, table: sa.Table, rows: list[dict[str, Any]],
                now: datetime) -> list[Mapping[str, Any]]:
        if not rows:
            return []
        for f in stored_fields(entity):
            if field_type(f.type).generated:
                numbers = allocate(conn, entity.name, f, len(rows), now)
                for columns, number in zip(rows, numbers, strict=True):
                    columns[f.name] = number
        for columns in rows:
            columns.update(created_at=now, created_by=self.actor.id, updated_at=now,
                           updated_by=self.actor.id, version=1)
        inserted = self._insert_returning(conn, table, rows)
        fields = stored_fields(entity)
        audit.write_entries(conn, ({
            "at": now, "actor_id": self.actor.id, "action": "create", "entity": entity.name,
            "record_id": record_id, "detail": {"version": 1},
            "changes": {f.name: [None, self._json_from_db(f, columns.get(f.name))]
                        for f in fields if columns.get(f.name) is not None},
        } for record_id, columns in zip((row["id"] for row in inserted), rows, strict=True)))
        return inserted

    @staticmethod
    def _insert_returning(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> list[Mapping[str, Any]]:
        if len(rows) == 1:
            return [conn.execute(sa.insert(table).values(rows[0]).returning(*table.c)).mappings().one()]
        # "insertmanyvalues" batches the rows and keeps RETURNING in input order on both dialects.
        result = conn.execute(sa.insert(table).returning(*table.c, sort_by_parameter_order=True), rows)
        return list(result.mappings())

    def _returned(self, entity: EntityDef, row: Mapping[str, Any], conn: Connection | None = None) -> dict[str, Any]:
        """Returns the record of a row a write returned; computed fields need a read through the query path."""
        if any(not field_type(f.type).stored for f in entity.fields):
            return self._read(entity.name, row["id"], conn)
        return strip_hidden(self.actor, entity, row_to_record(entity, row), self.registry)

    # -- update ----------------------------------------------------------------------------
    def update(self, entity_name: str, record_id: int, values: Mapping[str, Any], *,
               expected_version: int | None = None) -> dict[str, Any]:
        """Changes the given fields of one record; returns it as stored.

        `expected_version` is the version the values were made from (a form's, a card's). When
        others saved since, the write is merged field by field (engine.data.merging): a field they did
        not change is written, one sent back as it was at that version keeps their value, and one
        both changed to different values raises ConflictError naming only those fields; then
        nothing is written.
        """
        entity = self.registry.entity(entity_name)
        table = self.registry.table(entity_name)
        now = self.clock()
        with self._transaction() as conn:
            current = self._load_for_write(conn, entity, table, record_id)
            refuse_edit_of_converted(self.actor, entity, current, values)
            values = self._without_unchanged_read_only(entity, values, current)
            merged = None
            if expected_version is not None and current["version"] != expected_version:
                merged = self._merge_stale(conn, entity, values, current, expected_version)
                values = merged.values
            self._check_update_allowed(conn, entity, current, values)
            if merged is not None and merged.conflicts:
                raise self._conflict(entity, current, expected_version, merged)
            problems = Problems(entity.name)
            self._refuse_unknown(entity, values, problems, None)
            columns: dict[str, Any] = {}
            for f in stored_fields(entity):
                if f.name not in values or field_type(f.type).generated:
                    continue
                if f.read_only and self.actor.id is not None:
                    problems.add(f.name, "is read-only")
                    continue
                value = self._coerce(f, values[f.name], problems, None)
                if value is not MISSING:
                    columns[f.name] = field_type(f.type).to_db(f, value) if value is not None else None
            if "owner_id" in values:
                columns["owner_id"] = self._owner(values["owner_id"], problems, None)
            problems.raise_if_any()
            changed = {name: value for name, value in columns.items()
                       if value != self._stored(entity, name, current)}
            refuse_owned_fields(self.registry, self.actor, entity.name, changed, self.actor.locale)
            refuse_locked(conn, self.registry, self.actor, entity.name, record_id, changed, self.actor.locale)
            self._check_required_after(entity, current, changed, problems)
            stored = {name: self._stored(entity, name, current) for name in current}
            reader = RecordValues(conn, self.registry)
            enter_stage(self.registry, StageWrite(entity, changed, stored), reader, problems, self.actor.locale)
            self._check_rules(entity, stored | changed, current, reader, problems, None, now)
            prepared = [(None, changed)]
            self._check_references(conn, entity, prepared, problems)
            self._check_unique(conn, entity, prepared, problems, exclude_id=record_id)
            problems.raise_if_any()
            if not changed:
                return strip_hidden(self.actor, entity, current, self.registry)
            version = current["version"] + 1
            row = conn.execute(sa.update(table).where(table.c.id == record_id,
                                                      table.c.version == current["version"])
                               .values({**changed, "version": version, "updated_at": now,
                                        "updated_by": self.actor.id})
                               .returning(*table.c)).mappings().first()
            if row is None:   # saved meanwhile despite the lock: ask rather than guess
                fresh = self._load_for_write(conn, entity, table, record_id)
                merged = self._merge_stale(conn, entity, values, fresh, current["version"])
                raise self._conflict(entity, fresh, current["version"], merged)
            audit.write_entry(conn, self.actor, "update", entity.name, record_id,
                              self._diff(entity, current, changed), {"version": version}, at=now)
            row = self._emit(conn, entity, "updated", current, row)
            return self._returned(entity, row, conn)

    def _check_update_allowed(self, conn: Connection, entity: EntityDef, current: dict[str, Any],
                              values: Mapping[str, Any]) -> None:
        """check_write, except that the current approvers of a pending approval may edit the fields
        its step makes editable although their role may not update the record."""
        try:
            check_write(self.actor, entity, "update", current, values, conn=conn, registry=self.registry)
        except PermissionDenied:
            if not opens_for_edit(conn, self.registry, self.actor, entity.name, current["id"], values):
                raise

    @staticmethod
    def _given_beyond_defaults(entity: EntityDef, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values a new record is given other than blank or their default (a form sends the
        default status of a new quote; only another value is the user setting it)."""
        return {name: raw for name, raw in values.items()
                if entity.has_field(name) and not is_blank(raw) and raw != entity.field(name).default}

    def _without_unchanged_read_only(self, entity: EntityDef, values: Mapping[str, Any],
                                     current: dict[str, Any]) -> Mapping[str, Any]:
        """Drops read-only fields sent back with their current value (a client resending the whole
        record changes nothing there). Hidden fields are never dropped: accepting a correct guess
        silently while refusing a wrong one would reveal the hidden value."""
        read_only = self.actor.permissions.read_only.get(entity.name, frozenset())
        if self.actor.is_admin or not read_only:
            return values
        kept = {}
        for name, raw in values.items():
            if name in read_only and entity.has_field(name) and self._same_as_stored(entity, name, raw, current):
                continue
            kept[name] = raw
        return kept

    def _same_as_stored(self, entity: EntityDef, name: str, raw: Any, current: dict[str, Any]) -> bool:
        posted = stored_form(entity, name, raw)
        return posted is not UNREADABLE and posted == self._stored(entity, name, current)

    def _check_required_after(self, entity: EntityDef, current: dict[str, Any], changed: dict[str, Any],
                              problems: Problems) -> None:
        for name, value in changed.items():
            if name == "owner_id":
                continue
            f = entity.field(name)
            if value is None and (f.required or field_type(f.type).implicitly_required):
                problems.add(name, "is required")

    def _diff(self, entity: EntityDef, current: dict[str, Any], changed: dict[str, Any]) -> dict:
        diff = {}
        for name, stored in changed.items():
            if name == "owner_id":
                diff[name] = (current.get("owner_id"), stored)
                continue
            f = entity.field(name)
            diff[name] = (json_value(f, current.get(name)), self._json_from_db(f, stored))
        return diff

    def _merge_stale(self, conn: Connection, entity: EntityDef, values: Mapping[str, Any],
                     current: dict[str, Any], expected_version: int) -> MergedWrite:
        """Merges a write made from `expected_version` with what the audit log says was saved since."""
        history = audit.record_history(conn, entity.name, current["id"])
        before = values_at_version(history, expected_version, current["version"])
        stored = {name: self._stored(entity, name, current) for name in values
                  if name in current and (name in RECORD_COLUMNS or entity.has_field(name))}
        return merge_stale_write(entity, values, stored, before)

    def _conflict(self, entity: EntityDef, current: dict[str, Any], expected_version: int,
                  merged: MergedWrite) -> ConflictError:
        visible = strip_hidden(self.actor, entity, current, self.registry)
        return ConflictError(entity.name, current["id"], expected_version, visible,
                             [name for name in merged.changed_by_others if name in visible],
                             current.get("updated_by"), current.get("updated_at"),
                             [name for name in merged.conflicts if name in visible])

    # -- formulas: default values and validation rules ---------------------------------------
    def _apply_default_formulas(self, entity: EntityDef, columns: dict[str, Any], given: Mapping[str, Any],
                                reader: RecordValues, problems: Problems, row: int, now: datetime) -> None:
        defaults = self.registry.formulas[entity.name].defaults
        for name, compiled in defaults.items():
            if name in given and not is_blank(given[name]):
                continue   # a value the user gave wins; one left blank takes the default
            f = entity.field(name)
            record = row_to_record(entity, columns)
            try:
                raw = compiled.evaluate(reader.values(entity, record, compiled.paths, stored_record=False),
                                        is_new=True, now=now)
            except formula.FormulaError:
                raw = None
            value = self._coerce(f, raw, problems, row)
            if value is not MISSING:
                columns[name] = field_type(f.type).to_db(f, value) if value is not None else None

    def _check_rules(self, entity: EntityDef, columns: Mapping[str, Any], current: dict[str, Any] | None,
                     reader: RecordValues, problems: Problems, row: int | None, now: datetime) -> None:
        """Adds the message of every validation rule whose condition is true for the record."""
        rules = self.registry.formulas[entity.name].rules
        if not rules:
            return
        record = row_to_record(entity, columns)
        for rule, compiled in rules:
            values = reader.values(entity, record, compiled.paths, stored_record=current is not None)
            try:
                violated = compiled.evaluate(values, prior=current, is_new=current is None, now=now)
            except formula.FormulaError as exc:
                problems.add(None, f"the rule {rule.name} could not be checked: {exc.message}", row)
                continue
            if violated:
                problems.add(rule.field, label_text(rule.message, self.actor.locale), row)

    # -- delete and restore ------------------------------------------------------------------
    def delete(self, entity_name: str, record_id: int) -> None:
        """Moves a record, and its master-detail children, to the recycle bin."""
        entity = self.registry.entity(entity_name)
        table = self.registry.table(entity_name)
        now = self.clock()
        with self._transaction() as conn:
            current = self._load_for_write(conn, entity, table, record_id)
            check_write(self.actor, entity, "delete", current, conn=conn, registry=self.registry)
            refuse_locked(conn, self.registry, self.actor, entity.name, record_id, None, self.actor.locale)
            self._refuse_restricted(conn, entity, record_id)
            self._set_deleted(conn, entity, [record_id], now, now)
            self._emit(conn, entity, "deleted", current, None)

    def _set_deleted(self, conn: Connection, entity: EntityDef, ids: list[int], stamp: datetime | None,
                     now: datetime, *, restoring_from: datetime | None = None) -> None:
        if not ids:
            return
        table = self.registry.table(entity.name)
        action = "delete" if stamp is not None else "restore"
        # Every version gets its audit entry, so a stale write can tell what was saved since it.
        versions = conn.execute(sa.update(table).where(table.c.id.in_(ids))
                                .values(deleted_at=stamp, version=table.c.version + 1, updated_at=now,
                                        updated_by=self.actor.id)
                                .returning(table.c.id, table.c.version)).all()
        audit.write_entries(conn, ({"at": now, "actor_id": self.actor.id, "action": action,
                                    "entity": entity.name, "record_id": i, "changes": {},
                                    "detail": {"version": version}}
                                   for i, version in versions))
        for child, via in self.registry.children_of(entity.name):
            if child.field(via).type != "master_detail":
                continue
            child_table = self.registry.table(child.name)
            # Restoring brings back the children deleted with the parent, not older deletions.
            deleted_match = (child_table.c.deleted_at.is_(None) if stamp is not None
                             else child_table.c.deleted_at == restoring_from)
            child_ids = list(conn.execute(sa.select(child_table.c.id).where(
                child_table.c[via].in_(ids), deleted_match)).scalars())
            self._set_deleted(conn, child, child_ids, stamp, now, restoring_from=restoring_from)

    def restore(self, entity_name: str, record_id: int) -> dict[str, Any]:
        """Brings a record back from the recycle bin with the children deleted along with it."""
        entity = self.registry.entity(entity_name)
        table = self.registry.table(entity_name)
        now = self.clock()
        with self._transaction() as conn:
            current = self._load_for_write(conn, entity, table, record_id, deleted=True)
            check_write(self.actor, entity, "update", current, conn=conn, registry=self.registry)
            self._check_unique(conn, entity, [(None, {f.name: self._stored(entity, f.name, current)
                                                      for f in stored_fields(entity)})],
                               problems := Problems(entity.name), exclude_id=record_id)
            problems.raise_if_any()
            self._set_deleted(conn, entity, [record_id], None, now, restoring_from=current["deleted_at"])
            self._emit(conn, entity, "restored", current, self._reload(conn, entity, record_id))
            return self._read(entity.name, record_id, conn)

    def _refuse_restricted(self, conn: Connection, entity: EntityDef, record_id: int) -> None:
        for child, via in self.registry.children_of(entity.name):
            f = child.field(via)
            if f.option("on_delete") != "restrict":
                continue
            child_table = self.registry.table(child.name)
            count = conn.execute(sa.select(sa.func.count()).where(
                child_table.c[via] == record_id, child_table.c.deleted_at.is_(None))).scalar_one()
            if count:
                raise ValidationError(entity.name, [FieldError(None, self._still_pointing(child, f, count))])

    def _still_pointing(self, child: EntityDef, via: FieldDef, count: int) -> str:
        """Returns why a delete is refused, e.g. "3 Opportunities still point at this record through Account"."""
        lang = self.actor.locale
        if count == 1:
            return f"1 {entity_label(child, lang)} still points at this record through {field_label(via, lang)}"
        return f"{count} {plural_label(child, lang)} still point at this record through {field_label(via, lang)}"

    # -- shared checks -----------------------------------------------------------------------
    def _refuse_unknown(self, entity: EntityDef, values: Mapping[str, Any], problems: Problems,
                        row: int | None) -> None:
        for name in values:
            if name in SYSTEM_WRITABLE:
                continue
            if not entity.has_field(name):
                problems.add(name, f"is not a field of {entity_label(entity, self.actor.locale)}", row)
            elif not field_type(entity.field(name).type).stored:
                problems.add(name, "is computed and cannot be set", row)

    def _coerce(self, f: FieldDef, raw: Any, problems: Problems, row: int | None) -> Any:
        kind = field_type(f.type)
        try:
            value = kind.coerce(f, raw)
        except FieldValueError as exc:
            problems.add(f.name, exc.message, row)
            return MISSING
        if value is None:
            if f.required or kind.implicitly_required:
                problems.add(f.name, "is required", row)
                return MISSING
            return None
        messages = kind.check_value(f, value)
        for message in messages:
            problems.add(f.name, message, row)
        return MISSING if messages else value

    def _owner(self, raw: Any, problems: Problems, row: int | None) -> int | None:
        try:
            return int(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            problems.add("owner_id", "must be a user id", row)
            return None

    def _check_references(self, conn: Connection, entity: EntityDef,
                          prepared: list[tuple[int | None, dict[str, Any]]], problems: Problems) -> None:
        for f in stored_fields(entity):
            fk = field_type(f.type).foreign_key(f)
            if fk is None:
                continue
            wanted = {c[f.name] for _, c in prepared if c.get(f.name) is not None}
            if not wanted:
                continue
            target_table = fk[0]
            target_name = (entity_label(self.registry.entity(target_table), self.actor.locale)
                           if target_table in self.registry.entities else target_table)
            target = (self.registry.table(target_table) if target_table in self.registry.tables
                      else sa.table(target_table, sa.column("id")))
            query = sa.select(target.c.id).where(target.c.id.in_(wanted))
            if target_table in self.registry.entities:
                # A record the actor cannot read is answered like a missing one: linking to it
                # must not reveal that it exists.
                query = query.where(target.c.deleted_at.is_(None))
                scope = read_scope(self.actor, self.registry.entity(target_table), target, self.registry)
                if scope is not None:
                    query = query.where(scope)
            found = set(conn.execute(query).scalars())
            for row, columns in prepared:
                value = columns.get(f.name)
                if value is not None and value not in found:
                    problems.add(f.name, f"there is no {target_name} with id {value}", row)

    def _check_unique(self, conn: Connection, entity: EntityDef,
                      prepared: list[tuple[int | None, dict[str, Any]]], problems: Problems,
                      exclude_id: int | None) -> None:
        table = self.registry.table(entity.name)
        for f in stored_fields(entity):
            if not f.unique:
                continue
            seen: dict[Any, int | None] = {}
            for row, columns in prepared:
                value = columns.get(f.name)
                if value is None:
                    continue
                if value in seen:
                    problems.add(f.name, f"{value!r} is already used by row {seen[value]}", row)
                seen.setdefault(value, row)
            if not seen:
                continue
            query = sa.select(table.c[f.name], table.c.id).where(table.c[f.name].in_(list(seen)),
                                                                 table.c.deleted_at.is_(None))
            if exclude_id is not None:
                query = query.where(table.c.id != exclude_id)
            taken = dict(conn.execute(query).all())
            readable = self._readable_ids(conn, entity, table, set(taken.values()))
            noun = entity_label(entity, self.actor.locale)
            for row, columns in prepared:
                value = columns.get(f.name)
                if value in taken:
                    holder = f"{noun} {taken[value]}" if taken[value] in readable else f"another {noun}"
                    problems.add(f.name, f"{value!r} is already used by {holder}", row)

    def _readable_ids(self, conn: Connection, entity: EntityDef, table: sa.Table, ids: set[int]) -> set[int]:
        scope = read_scope(self.actor, entity, table, self.registry)
        if not ids or scope is None:
            return ids
        return set(conn.execute(sa.select(table.c.id).where(table.c.id.in_(ids), scope)).scalars())

    # -- events to the flow engine ------------------------------------------------------------
    def _emit(self, conn: Connection, entity: EntityDef, kind: str, old: dict[str, Any] | None,
              row: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """Hands the saved change to the flow engine in this transaction; returns the row as it
        is afterwards (automations may have written it again)."""
        new = row_to_record(entity, row) if row is not None else None
        record_id = (new or old)["id"]
        event = RecordEvent(kind, entity.name, record_id, old, new)
        if not self.events.emit(conn, event, self._flow_writer(conn), self.clock()) or row is None:
            return row
        return self._reload(conn, entity, record_id)

    def _flow_writer(self, conn: Connection) -> Callable[[FlowEvents], RecordService]:
        """Automations write as the system, in this transaction, one level deeper."""
        return lambda events: RecordService(self.engine, self.registry, SYSTEM, self.clock, conn=conn, events=events)

    def _reload(self, conn: Connection, entity: EntityDef, record_id: int) -> Mapping[str, Any]:
        table = self.registry.table(entity.name)
        return conn.execute(sa.select(table).where(table.c.id == record_id)).mappings().one()

    # -- reading inside the write path ---------------------------------------------------------
    def _load_for_write(self, conn: Connection, entity: EntityDef, table: sa.Table, record_id: int,
                        deleted: bool = False) -> dict[str, Any]:
        query = sa.select(table).where(table.c.id == record_id)
        query = query.where(table.c.deleted_at.is_not(None) if deleted else table.c.deleted_at.is_(None))
        scope = read_scope(self.actor, entity, table, self.registry)
        if scope is not None:
            query = query.where(scope)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(entity.name, record_id)
        return row_to_record(entity, row)

    def _read(self, entity_name: str, record_id: int, conn: Connection | None = None) -> dict[str, Any]:
        from engine.data.query import QueryService

        return QueryService(self.engine, self.registry, self.actor, conn=conn or self._conn).get(
            entity_name, record_id)

    @staticmethod
    def _stored(entity: EntityDef, name: str, record: dict[str, Any]) -> Any:
        if name in RECORD_COLUMNS:
            return record.get(name)
        f = entity.field(name)
        value = record.get(name)
        return field_type(f.type).to_db(f, value) if value is not None else None

    @staticmethod
    def _json_from_db(f: FieldDef, stored: Any) -> Any:
        if stored is None:
            return None
        kind = field_type(f.type)
        return kind.to_json(f, kind.from_db(f, stored))
