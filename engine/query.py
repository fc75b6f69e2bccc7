"""The single read path: permission scope + filters + search + sort + keyset page, all in SQL.

List views, record pages, lookups, exports and the API read through QueryService and nothing else.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from engine.errors import FieldError, NotFound, ValidationError
from engine.records import RECORD_COLUMNS, row_to_record
from engine.registry import Registry
from engine.security import Actor, read_scope
from engine.tables import stored_fields
from metamodel.fieldtypes import FieldValueError, field_type
from metamodel.model import Condition, EntityDef, FieldDef, SortKey, label_text

MAX_PAGE = 500
SEARCHABLE = ("text", "textarea", "email", "phone", "url", "autonumber")


# ---------------------------------------------------------------------------------------------
# filter operators: each makes the SQL clause and the sentence shown to the user

@dataclass(frozen=True)
class Operator:
    name: str
    words: str                                   # "is", "contains", ...
    clause: Callable[[sa.ColumnElement, Any], sa.ColumnElement[bool]]
    arity: str = "one"                           # "one", "many", "two", "none"

    def sentence(self, label: str, shown: str) -> str:
        return f"{label} {self.words}" + (f" {shown}" if self.arity != "none" else "")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


OPERATORS: dict[str, Operator] = {op.name: op for op in (
    Operator("eq", "is", lambda c, v: c == v),
    Operator("ne", "is not", lambda c, v: sa.or_(c != v, c.is_(None))),
    Operator("lt", "is less than", lambda c, v: c < v),
    Operator("le", "is at most", lambda c, v: c <= v),
    Operator("gt", "is greater than", lambda c, v: c > v),
    Operator("ge", "is at least", lambda c, v: c >= v),
    Operator("contains", "contains", lambda c, v: c.ilike(f"%{_escape_like(str(v))}%", escape="\\")),
    Operator("starts_with", "starts with", lambda c, v: c.ilike(f"{_escape_like(str(v))}%", escape="\\")),
    Operator("in", "is one of", lambda c, v: c.in_(v), "many"),
    Operator("not_in", "is none of", lambda c, v: sa.or_(c.not_in(v), c.is_(None)), "many"),
    Operator("between", "is between", lambda c, v: c.between(v[0], v[1]), "two"),
    Operator("is_blank", "is blank", lambda c, v: c.is_(None), "none"),
    Operator("is_not_blank", "is not blank", lambda c, v: c.is_not(None), "none"),
)}

TEXT_OPERATORS = ("contains", "starts_with")


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows, the cursor of the next page (None at the end) and the total."""
    rows: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None = None


def describe_condition(entity: EntityDef, condition: Condition, locale: str = "en") -> str:
    """Returns the sentence a person reads for a filter, e.g. 'Stage is one of Won, Lost'."""
    op = OPERATORS[condition.op]
    if condition.field in RECORD_COLUMNS:
        return op.sentence(condition.field, str(condition.value))
    f = entity.field(condition.field)
    kind = field_type(f.type)
    values = condition.value if isinstance(condition.value, (list, tuple)) else [condition.value]
    shown = [kind.display(f, kind.coerce(f, v), locale) if v is not None else "" for v in values]
    joined = " and ".join(shown) if op.arity == "two" else ", ".join(shown)
    return op.sentence(label_text(f.label, locale), joined)


class QueryService:
    """Reads records of any entity for one actor, always inside the actor's read scope."""

    def __init__(self, engine: Engine, registry: Registry, actor: Actor, conn: Connection | None = None):
        self.engine = engine
        self.registry = registry
        self.actor = actor
        self._conn = conn

    def _rows(self, statement: sa.Executable) -> list[Mapping[str, Any]]:
        if self._conn is not None:
            return list(self._conn.execute(statement).mappings())
        with self.engine.connect() as conn:
            return list(conn.execute(statement).mappings())

    def _scalar(self, statement: sa.Executable) -> Any:
        if self._conn is not None:
            return self._conn.execute(statement).scalar()
        with self.engine.connect() as conn:
            return conn.execute(statement).scalar()

    # -- the one place every read passes through ------------------------------------------------
    def base_query(self, entity_name: str, *, deleted: bool = False) -> tuple[EntityDef, sa.Table, sa.Select]:
        """Returns the entity, its table and a SELECT of its columns limited to the actor's scope."""
        entity = self.registry.entity(entity_name)
        table = self.registry.table(entity_name)
        return entity, table, sa.select(table).where(*self.scope_clauses(entity, table, deleted=deleted))

    def scope_clauses(self, entity: EntityDef, table: sa.Table, *, deleted: bool = False) -> list:
        """Returns the WHERE clauses every read of `table` carries: recycle bin and read scope."""
        clauses = [table.c.deleted_at.is_not(None) if deleted else table.c.deleted_at.is_(None)]
        scope = read_scope(self.actor, entity, table)
        if scope is not None:
            clauses.append(scope)
        return clauses

    # -- reads -------------------------------------------------------------------------------
    def get(self, entity_name: str, record_id: int, *, deleted: bool = False) -> dict[str, Any]:
        """Returns one record; NotFound when it does not exist or lies outside the actor's scope."""
        entity, table, query = self.base_query(entity_name, deleted=deleted)
        rows = self._rows(query.where(table.c.id == record_id))
        if not rows:
            raise NotFound(entity_name, record_id)
        return row_to_record(entity, rows[0])

    def list(self, entity_name: str, *, filters: Sequence[Condition] = (), any_of: Sequence[Condition] = (),
             search: str | None = None, sort: Sequence[SortKey] = (), cursor: str | None = None,
             limit: int = 50, with_total: bool = False, deleted: bool = False) -> Page:
        """Returns one page of records matching every filter (and one of `any_of`, if given)."""
        entity, table, query = self.base_query(entity_name, deleted=deleted)
        query = query.where(*self._where(entity, table, filters, any_of, search))
        keys = self._sort_keys(entity, table, sort)
        total = None
        if with_total:
            total = self._scalar(sa.select(sa.func.count()).select_from(query.subquery()))
        if cursor:
            query = query.where(_after(keys, _decode_cursor(cursor, len(keys))))
        limit = max(1, min(limit, MAX_PAGE))
        query = query.order_by(*(_order(column, direction) for column, direction in keys)).limit(limit + 1)
        rows = self._rows(query)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = _encode_cursor([_jsonable(rows[-1][c.key]) for c, _ in keys]) if more else None
        return Page([row_to_record(entity, row) for row in rows], next_cursor, total)

    def count(self, entity_name: str, *, filters: Sequence[Condition] = (), any_of: Sequence[Condition] = (),
              search: str | None = None) -> int:
        entity, table, query = self.base_query(entity_name)
        query = query.where(*self._where(entity, table, filters, any_of, search))
        return self._scalar(sa.select(sa.func.count()).select_from(query.subquery()))

    def related(self, entity_name: str, record_id: int, child_name: str, via: str, **kwargs: Any) -> Page:
        """Returns the page of `child_name` records whose `via` field points at this record."""
        self.get(entity_name, record_id)   # the parent itself must be readable
        child = self.registry.entity(child_name)
        if child.field(via).option("target") != entity_name:
            raise ValidationError(child_name, [FieldError(via, f"does not point at {entity_name}")])
        filters = [*kwargs.pop("filters", ()), Condition(via, "eq", record_id)]
        return self.list(child_name, filters=filters, **kwargs)

    def titles(self, entity_name: str, ids: Sequence[int]) -> dict[int, str]:
        """Returns id -> title of the readable records among `ids` (lookup display, type-ahead)."""
        if not ids:
            return {}
        entity = self.registry.entity(entity_name)
        table = self.registry.table(entity_name)
        title = table.c[entity.title] if entity.title in table.c else table.c.id
        statement = sa.select(table.c.id, title).where(table.c.id.in_(set(ids)),
                                                       *self.scope_clauses(entity, table))
        return {row[0]: str(row[1]) for row in self._rows_tuples(statement)}

    def _rows_tuples(self, statement: sa.Executable) -> list[tuple]:
        if self._conn is not None:
            return list(self._conn.execute(statement))
        with self.engine.connect() as conn:
            return list(conn.execute(statement))

    # -- building blocks -------------------------------------------------------------------------
    def _where(self, entity: EntityDef, table: sa.Table, filters: Sequence[Condition],
               any_of: Sequence[Condition], search: str | None) -> list[sa.ColumnElement[bool]]:
        problems: list[FieldError] = []
        clauses = [c for c in (self._clause(entity, table, f, problems) for f in filters) if c is not None]
        alternatives = [c for c in (self._clause(entity, table, f, problems) for f in any_of) if c is not None]
        if problems:
            raise ValidationError(entity.name, problems)
        if alternatives:
            clauses.append(sa.or_(*alternatives))
        if search:
            clauses.append(self._search_clause(entity, table, search))
        return clauses

    def _clause(self, entity: EntityDef, table: sa.Table, condition: Condition,
                problems: list[FieldError]) -> sa.ColumnElement[bool] | None:
        op = OPERATORS.get(condition.op)
        if op is None:
            problems.append(FieldError(condition.field, f"{condition.op!r} is not a filter operator "
                                                         f"(known: {', '.join(OPERATORS)})"))
            return None
        if condition.field in RECORD_COLUMNS:
            return op.clause(table.c[condition.field], condition.value)
        if not entity.has_field(condition.field):
            problems.append(FieldError(condition.field, f"is not a field of {entity.name}"))
            return None
        f = entity.field(condition.field)
        if f.name not in table.c:
            problems.append(FieldError(f.name, "is computed; filter it with a formula"))
            return None
        column = table.c[f.name]
        if op.name in TEXT_OPERATORS:
            return op.clause(column, condition.value)
        if f.type == "multipicklist" and op.name in ("eq", "in"):
            return _includes_any(column, condition.value)
        try:
            value = _filter_value(f, op, condition.value)
        except FieldValueError as exc:
            problems.append(FieldError(f.name, exc.message))
            return None
        return op.clause(column, value)

    def _search_clause(self, entity: EntityDef, table: sa.Table, text: str) -> sa.ColumnElement[bool]:
        pattern = f"%{_escape_like(text.strip())}%"
        columns = [table.c[f.name] for f in stored_fields(entity) if f.type in SEARCHABLE]
        if not columns:
            return sa.false()
        return sa.or_(*(c.ilike(pattern, escape="\\") for c in columns))

    def _sort_keys(self, entity: EntityDef, table: sa.Table,
                   sort: Sequence[SortKey]) -> list[tuple[sa.ColumnElement, str]]:
        keys: list[tuple[sa.ColumnElement, str]] = []
        for key in sort:
            if key.field not in table.c or (key.field not in RECORD_COLUMNS and not entity.has_field(key.field)):
                raise ValidationError(entity.name, [FieldError(key.field, "cannot be sorted on")])
            if key.direction not in ("asc", "desc"):
                raise ValidationError(entity.name, [FieldError(key.field, "sort direction must be asc or desc")])
            if key.field != "id":
                keys.append((table.c[key.field], key.direction))
        last = sort[-1].direction if sort and sort[-1].field == "id" else "asc"
        keys.append((table.c.id, last))
        return keys


def _filter_value(f: FieldDef, op: Operator, raw: Any) -> Any:
    kind = field_type(f.type)
    if op.arity == "none":
        return None
    if op.arity == "many":
        items = raw if isinstance(raw, (list, tuple)) else [raw]
        return [kind.to_db(f, kind.coerce(f, item)) for item in items]
    if op.arity == "two":
        if not isinstance(raw, (list, tuple)) or len(raw) != 2:
            raise FieldValueError("between needs two values")
        return [kind.to_db(f, kind.coerce(f, item)) for item in raw]
    value = kind.coerce(f, raw)
    if value is None:
        raise FieldValueError("needs a value to compare with")
    return kind.to_db(f, value)


def _includes_any(column: sa.ColumnElement, raw: Any) -> sa.ColumnElement[bool]:
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    wrapped = sa.literal(";") + column + sa.literal(";")
    return sa.or_(*(wrapped.like(f"%;{_escape_like(str(i))};%", escape="\\") for i in items))


def _order(column: sa.ColumnElement, direction: str) -> sa.ColumnElement:
    # Blanks come last in both directions, as a person scanning a list expects.
    return (column.asc() if direction == "asc" else column.desc()).nulls_last()


def _after(keys: list[tuple[sa.ColumnElement, str]], values: list[Any]) -> sa.ColumnElement[bool]:
    """Returns the keyset condition 'sorts after the row whose keys are `values`' (blanks last)."""
    alternatives = []
    for i, (column, direction) in enumerate(keys):
        equal_before = [_same(c, v) for (c, _), v in zip(keys[:i], values[:i], strict=True)]
        value = values[i]
        if value is None:
            continue   # nothing sorts after a blank except other blanks, which tie on this key
        beyond = column > value if direction == "asc" else column < value
        alternatives.append(sa.and_(*equal_before, sa.or_(beyond, column.is_(None))
                                    if i < len(keys) - 1 else beyond))
    return sa.or_(*alternatives) if alternatives else sa.false()


def _same(column: sa.ColumnElement, value: Any) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (int, str, float, bool)):
        return value
    return {"$": type(value).__name__, "v": value.isoformat() if hasattr(value, "isoformat") else str(value)}


def _restore(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    from datetime import date, datetime
    from decimal import Decimal

    kind, text = value.get("$"), value.get("v")
    if kind == "Decimal":
        return Decimal(text)
    if kind == "datetime":
        return datetime.fromisoformat(text)
    if kind == "date":
        return date.fromisoformat(text)
    return text


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str, length: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise ValidationError("cursor", [FieldError("cursor", "is not a valid page cursor")]) from None
    if not isinstance(values, list) or len(values) != length:
        raise ValidationError("cursor", [FieldError("cursor", "belongs to another sort order")])
    return [_restore(v) for v in values]
