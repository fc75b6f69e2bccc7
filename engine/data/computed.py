"""Formulas of the installed metadata, compiled once per registry, and their SQL and Python values.

Formula fields and rollups are computed in the SELECT (lookup paths become outer joins that obey
the reader's scope); validation rules and default formulas are evaluated on a record in memory.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

import formula
from engine.storage.db import fw_user
from metamodel.fieldtypes import field_type
from metamodel.formula_checks import formula_fields
from metamodel.model import AppDef, EntityDef, FieldDef, ValidationRule
from metamodel.paths import path_hops

ROLLUP_FUNCTIONS: dict[str, Callable[[sa.ColumnElement], sa.ColumnElement]] = {
    "SUM": lambda c: sa.func.coalesce(sa.func.sum(c), 0),
    "COUNT": lambda c: sa.func.count(c),
    "MIN": sa.func.min,
    "MAX": sa.func.max,
}
EMPTY_ROLLUP = {"SUM": Decimal(0), "COUNT": Decimal(0), "MIN": None, "MAX": None}
NUMBER_TYPES = frozenset({"number", "currency", "percent"})
USER_COLUMNS = {"id": "id", "name": "display_name", "email": "email"}
SYSTEM_USER_FIELDS = {"owner": "owner_id", "created_by": "created_by", "updated_by": "updated_by"}

FieldRef = tuple[str, str]   # (entity name, field name)


@dataclass(frozen=True)
class Rollup:
    field: FieldDef
    child: str
    via: str
    function: str
    child_field: str | None
    filter: formula.CompiledFormula | None


@dataclass(frozen=True)
class EntityFormulas:
    """Everything computed about one entity: formula fields, rollups, rules and default formulas."""
    formulas: Mapping[str, formula.CompiledFormula] = field(default_factory=dict)
    rollups: Mapping[str, Rollup] = field(default_factory=dict)
    rules: tuple[tuple[ValidationRule, formula.CompiledFormula], ...] = ()
    defaults: Mapping[str, formula.CompiledFormula] = field(default_factory=dict)
    conditions: Mapping[str, formula.CompiledFormula] = field(default_factory=dict)   # layout visible_if/required_if
    # computed field -> every field its value depends on, at every hop and through other computed
    # fields: a reader from whom any of them is hidden must not see the computed field either
    reads: Mapping[str, frozenset[FieldRef]] = field(default_factory=dict)

    @property
    def computed_names(self) -> list[str]:
        return [*self.formulas, *self.rollups]


def compile_app_formulas(app: AppDef) -> dict[str, EntityFormulas]:
    """Returns entity name -> its compiled formulas; the metadata was type-checked when loaded."""
    compiled = {entity.name: _compile_entity(app, entity) for entity in app.entities.values()}
    reads = computed_reads(app.entities, compiled)
    return {name: dataclasses.replace(formulas, reads=reads.get(name, {})) for name, formulas in compiled.items()}


def computed_reads(entities: Mapping[str, EntityDef], compiled: Mapping[str, EntityFormulas],
                   ) -> dict[str, dict[str, frozenset[FieldRef]]]:
    """Returns entity -> computed field -> the fields it reads, transitively through other
    formula and rollup fields (cycles are refused when metadata loads; they end the walk here)."""
    direct = {(name, computed): frozenset(_direct_reads(entities, entities[name], formulas, computed))
              for name, formulas in compiled.items() for computed in formulas.computed_names}
    result: dict[str, dict[str, frozenset[FieldRef]]] = {}
    for (name, computed) in direct:
        result.setdefault(name, {})[computed] = _closure(direct, (name, computed))
    return result


def _closure(direct: Mapping[FieldRef, frozenset[FieldRef]], start: FieldRef) -> frozenset[FieldRef]:
    found: set[FieldRef] = set()
    pending = [start]
    while pending:
        for ref in direct.get(pending.pop(), ()):
            if ref not in found:
                found.add(ref)
                pending.append(ref)
    return frozenset(found)


def _direct_reads(entities: Mapping[str, EntityDef], entity: EntityDef, formulas: EntityFormulas,
                  name: str) -> Iterator[FieldRef]:
    if name in formulas.formulas:
        yield from _path_reads(entities, entity, formulas.formulas[name].paths)
        return
    rollup = formulas.rollups[name]
    child = entities[rollup.child]
    yield child.name, rollup.via
    if rollup.child_field:
        yield from _path_reads(entities, child, [rollup.child_field])
    if rollup.filter is not None:
        yield from _path_reads(entities, child, rollup.filter.paths)


def _path_reads(entities: Mapping[str, EntityDef], entity: EntityDef, paths: Iterable[str]) -> Iterator[FieldRef]:
    for path in paths:
        for hop in path_hops(entities, entity, path):
            yield hop.entity.name, hop.field


def _compile(app: AppDef, entity: str, source: str, **kwargs: Any) -> formula.CompiledFormula:
    return formula.compile(source, formula_fields(app, entity, source), **kwargs)


def _compile_entity(app: AppDef, entity: EntityDef) -> EntityFormulas:
    formulas, rollups, defaults = {}, {}, {}
    for f in entity.fields:
        if f.type == "formula":
            formulas[f.name] = _compile(app, entity.name, f.option("expression"),
                                        blank_as_zero=bool(f.option("blank_as_zero")), returns=f.option("returns"))
        elif f.type == "rollup":
            child_filter = f.option("filter")
            rollups[f.name] = Rollup(f, f.option("child"), f.option("via"), f.option("function").upper(),
                                     f.option("field"),
                                     _compile(app, f.option("child"), child_filter) if child_filter else None)
        if f.default_formula:
            defaults[f.name] = _compile(app, entity.name, f.default_formula)
    rules = tuple((rule, _compile(app, entity.name, rule.condition)) for rule in entity.validation_rules)
    conditions = {source: _compile(app, entity.name, source) for source in _layout_conditions(entity)}
    return EntityFormulas(formulas, rollups, rules, defaults, conditions)


def _layout_conditions(entity: EntityDef) -> set[str]:
    sources = set()
    for layout in entity.layouts:
        for section in layout.sections:
            sources.add(section.visible_if)
            for item in section.fields:
                sources.update((item.visible_if, item.required_if))
    return {s for s in sources if s}


# ---------------------------------------------------------------------------------------------
# SQL: column expressions for formula paths, with the joins they need

ScopeFunction = Callable[[EntityDef, sa.FromClause], list[sa.ColumnElement[bool]]]


class SqlPaths:
    """Resolves formula paths of one entity's table to SQL, collecting the outer joins they need.

    A lookup's row joins only when it is readable (not deleted, inside the reader's scope), so a
    path through a record the reader may not see reads as blank.
    """

    def __init__(self, registry: Any, entity: EntityDef, table: sa.FromClause, scope: ScopeFunction):
        self.registry = registry
        self.entity = entity
        self.table = table
        self.scope = scope
        self._joins: dict[str, tuple[sa.FromClause, sa.ColumnElement[bool]]] = {}

    def from_clause(self) -> sa.FromClause:
        joined = self.table
        for alias, onclause in self._joins.values():
            joined = joined.outerjoin(alias, onclause)
        return joined

    def field(self, name: str) -> sa.ColumnElement:
        """Returns the SQL of a field of the entity: its column, or its formula or rollup."""
        return self._field(self.entity, self.table, name, "")

    def path(self, dotted: str) -> sa.ColumnElement:
        return self._path(self.entity, self.table, dotted.split("."), "")

    def owner_of(self, dotted: str) -> tuple[EntityDef, str]:
        """Returns the entity whose field ends `dotted`, and that field's name ("account.name" ->
        (account, "name")); users' fields belong to no entity and come back with the current one."""
        entity = self.entity
        parts = dotted.split(".")
        for head in parts[:-1]:
            if head in SYSTEM_USER_FIELDS or not entity.has_field(head):
                return entity, head
            f = entity.field(head)
            target = field_type(f.type).target_entity(f)
            if target is None:
                return entity, head
            entity = self.registry.entity(target)
        return entity, parts[-1]

    def _path(self, entity: EntityDef, table: sa.FromClause, parts: list[str], prefix: str) -> sa.ColumnElement:
        head, rest = parts[0], parts[1:]
        if not rest:
            return self._field(entity, table, head, prefix)
        if head in SYSTEM_USER_FIELDS:
            return self._user_column(table, SYSTEM_USER_FIELDS[head], rest[0], prefix + head)
        f = entity.field(head)
        if rest == ["id"]:
            return table.c[head]
        target = field_type(f.type).target_entity(f)
        if target is None:   # a user field
            return self._user_column(table, head, rest[0], prefix + head)
        target_entity = self.registry.entity(target)
        alias = self._join(prefix + head, lambda: self._entity_join(table, head, target_entity))
        return self._path(target_entity, alias, rest, f"{prefix}{head}.")

    def _field(self, entity: EntityDef, table: sa.FromClause, name: str, prefix: str) -> sa.ColumnElement:
        if name in table.c:
            return table.c[name]
        if name in SYSTEM_USER_FIELDS:
            return table.c[SYSTEM_USER_FIELDS[name]]
        compiled = self.registry.formulas[entity.name]
        if name in compiled.formulas:
            source = compiled.formulas[name]
            return source.to_sql({p: self._path(entity, table, p.split("."), prefix) for p in source.paths})
        if name in compiled.rollups:
            return self._rollup(compiled.rollups[name], table)
        raise KeyError(f"{entity.name} has no field {name!r}")

    def _rollup(self, rollup: Rollup, parent: sa.FromClause) -> sa.ColumnElement:
        child_entity = self.registry.entity(rollup.child)
        child = self.registry.table(rollup.child).alias()
        inner = SqlPaths(self.registry, child_entity, child, self.scope)
        measured = inner.field(rollup.child_field) if rollup.child_field else child.c.id
        conditions = [child.c[rollup.via] == parent.c.id, child.c.deleted_at.is_(None)]
        if rollup.filter is not None:
            conditions.append(rollup.filter.to_sql({p: inner.path(p) for p in rollup.filter.paths}))
        query = sa.select(ROLLUP_FUNCTIONS[rollup.function](measured)).select_from(inner.from_clause())
        return query.where(*conditions).scalar_subquery()

    def _join(self, key: str, make: Callable[[], tuple[sa.FromClause, sa.ColumnElement[bool]]]) -> sa.FromClause:
        if key not in self._joins:
            self._joins[key] = make()
        return self._joins[key][0]

    def _entity_join(self, table: sa.FromClause, via: str, target: EntityDef) -> tuple[sa.FromClause, Any]:
        alias = self.registry.table(target.name).alias()
        onclause = sa.and_(alias.c.id == table.c[via], alias.c.deleted_at.is_(None), *self.scope(target, alias))
        return alias, onclause

    def _user_column(self, table: sa.FromClause, column: str, wanted: str, key: str) -> sa.ColumnElement:
        if wanted == "id":
            return table.c[column]
        def user_join() -> tuple[sa.FromClause, sa.ColumnElement[bool]]:
            alias = fw_user.alias()
            return alias, alias.c.id == table.c[column]

        return self._join(key, user_join).c[USER_COLUMNS[wanted]]


# ---------------------------------------------------------------------------------------------
# Python: the nested values a formula reads for one record in memory

class RecordValues:
    """Builds the nested mapping a formula reads for one record, loading linked records on demand."""

    def __init__(self, conn: Connection, registry: Any):
        self.conn = conn
        self.registry = registry
        self._loaded: dict[tuple[str, int], dict[str, Any]] = {}

    def values(self, entity: EntityDef, record: Mapping[str, Any], paths: frozenset[str],
               *, stored_record: bool) -> dict[str, Any]:
        """Returns the values `paths` read; `stored_record` says whether rollups can be read from SQL."""
        result: dict[str, Any] = {}
        nested: dict[str, set[str]] = {}
        for path in paths:
            head, _, rest = path.partition(".")
            if rest:
                nested.setdefault(head, set()).add(rest)
            else:
                result[head] = self._value(entity, record, head, stored_record)
        for head, deeper in nested.items():
            result[head] = self._linked(entity, record, head, frozenset(deeper))
        return result

    def _value(self, entity: EntityDef, record: Mapping[str, Any], name: str, stored_record: bool) -> Any:
        compiled = self.registry.formulas[entity.name]
        if name in compiled.formulas:
            source = compiled.formulas[name]
            try:
                return source.evaluate(self.values(entity, record, source.paths, stored_record=stored_record))
            except formula.FormulaError:
                return None   # #Error! reads as blank, as in SQL
        if name in compiled.rollups:
            rollup = compiled.rollups[name]
            if not stored_record or record.get("id") is None:
                return EMPTY_ROLLUP[rollup.function]
            table = self.registry.table(entity.name)
            paths = SqlPaths(self.registry, entity, table, lambda _e, _t: [])
            value = self.conn.execute(sa.select(paths.field(name)).where(table.c.id == record["id"])).scalar()
            return Decimal(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if name in SYSTEM_USER_FIELDS:
            return record.get(SYSTEM_USER_FIELDS[name])
        value = record.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and entity.has_field(name):
            f = entity.field(name)
            if field_type(f.type).formula_type_of(f) in NUMBER_TYPES:
                return Decimal(value)   # formulas compute in Decimal; an integer field stores ints
        return value

    def _linked(self, entity: EntityDef, record: Mapping[str, Any], name: str, deeper: frozenset[str]) -> Any:
        column = SYSTEM_USER_FIELDS.get(name, name)
        linked_id = record.get(column)
        if deeper == {"id"}:
            return {"id": linked_id}
        if linked_id is None:
            return None
        f = None if name in SYSTEM_USER_FIELDS else entity.field(name)
        target = field_type(f.type).target_entity(f) if f is not None else None
        if target is None:
            user = self.conn.execute(sa.select(fw_user).where(fw_user.c.id == linked_id)).mappings().first()
            return {k: user[c] for k, c in USER_COLUMNS.items()} if user else None
        target_entity = self.registry.entity(target)
        parent = self._load(target_entity, linked_id)
        if parent is None:
            return None
        return self.values(target_entity, parent, deeper, stored_record=True)

    def _load(self, entity: EntityDef, record_id: int) -> dict[str, Any] | None:
        key = (entity.name, record_id)
        if key not in self._loaded:
            from engine.data.rows import row_to_record

            table = self.registry.table(entity.name)
            row = self.conn.execute(sa.select(table).where(table.c.id == record_id,
                                                           table.c.deleted_at.is_(None))).mappings().first()
            self._loaded[key] = row_to_record(entity, row) if row is not None else None
        return self._loaded[key]
