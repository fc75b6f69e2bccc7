"""The single read path: permission scope + filters + search + sort + keyset page, all in SQL.

List views, record pages, lookups, exports and the API read through QueryService and nothing else.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import formula
from engine.config import DEFAULT_QUERY_TIMEOUT_SECONDS
from engine.data.computed import SqlPaths
from engine.data.cursors import decode_cursor, encode_cursor
from engine.data.registry import Registry
from engine.data.rows import RECORD_COLUMNS, row_to_record
from engine.errors import FieldError, NotFound, ValidationError
from engine.security.actors import Actor
from engine.security.audit import AuditEntry, record_history
from engine.security.scopes import hidden_fields, read_scope, strip_hidden
from engine.storage.deadline import statement_deadline
from engine.storage.tables import stored_fields
from formula.ast import Field, walk
from metamodel.fieldtypes import FieldValueError, field_type
from metamodel.formula_checks import formula_fields
from metamodel.model import Condition, EntityDef, FieldDef, SortKey, label_text
from metamodel.paths import path_hops

MAX_PAGE = 500
CANNOT_READ = "you cannot read this field"
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
    """One page of a list: its rows, the cursors of the next and previous pages (None at either
    end) and the total."""
    rows: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None = None
    prev_cursor: str | None = None


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

    def __init__(self, engine: Engine, registry: Registry, actor: Actor, conn: Connection | None = None,
                 *, timeout_seconds: float = DEFAULT_QUERY_TIMEOUT_SECONDS):
        self.engine = engine
        self.registry = registry
        self.actor = actor
        self._conn = conn
        self.timeout_seconds = timeout_seconds

    def _rows(self, statement: sa.Executable) -> list[Mapping[str, Any]]:
        with self._connection() as conn:
            return list(conn.execute(statement).mappings())

    def _scalar(self, statement: sa.Executable) -> Any:
        with self._connection() as conn:
            return conn.execute(statement).scalar()

    def _rows_tuples(self, statement: sa.Executable) -> list[tuple]:
        with self._connection() as conn:
            return list(conn.execute(statement))

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A connection whose statements run under the query time limit (QueryTimeout past it)."""
        if self._conn is not None:
            # the caller's connection, inside the caller's transaction
            with statement_deadline(self._conn, self.timeout_seconds) as conn:
                yield conn
            return
        with self.engine.connect() as conn, statement_deadline(conn, self.timeout_seconds):
            yield conn

    # -- the one place every read passes through ------------------------------------------------
    def selection(self, entity_name: str, *, deleted: bool = False) -> Selection:
        """Returns what every read of `entity_name` starts from: its columns, computed fields
        included, and the WHERE clauses of the recycle bin and the actor's read scope."""
        entity = self.registry.entity(entity_name)
        table = self.registry.table(entity_name)
        paths = SqlPaths(self.registry, entity, table, self._join_scope)
        computed = [paths.field(name).label(name) for name in self.registry.formulas[entity.name].computed_names]
        return Selection(entity, table, paths, [table, *computed], self.scope_clauses(entity, table, deleted=deleted))

    def scope_clauses(self, entity: EntityDef, table: sa.FromClause, *, deleted: bool = False) -> list:
        """Returns the WHERE clauses every read of `table` carries: recycle bin and read scope."""
        clauses = [table.c.deleted_at.is_not(None) if deleted else table.c.deleted_at.is_(None)]
        scope = read_scope(self.actor, entity, table, self.registry)
        if scope is not None:
            clauses.append(scope)
        return clauses

    def _join_scope(self, entity: EntityDef, table: sa.FromClause) -> list:
        scope = read_scope(self.actor, entity, table, self.registry)
        return [] if scope is None else [scope]

    # -- reads -------------------------------------------------------------------------------
    def get(self, entity_name: str, record_id: int, *, deleted: bool = False) -> dict[str, Any]:
        """Returns one record; NotFound when it does not exist or lies outside the actor's scope."""
        selected = self.selection(entity_name, deleted=deleted)
        rows = self._rows(selected.select(selected.table.c.id == record_id))
        if not rows:
            raise NotFound(entity_name, record_id)
        return strip_hidden(self.actor, selected.entity, row_to_record(selected.entity, rows[0]), self.registry)

    def list(self, entity_name: str, *, filters: Sequence[Condition] = (), any_of: Sequence[Condition] = (),
             search: str | None = None, formula: str | None = None, sort: Sequence[SortKey] = (),
             cursor: str | None = None, before: str | None = None, limit: int = 50,
             with_total: bool = False, deleted: bool = False, paths: Sequence[str] = ()) -> Page:
        """Returns one page of records matching every filter (and one of `any_of`, if given).

        `formula` is a boolean formula over the entity's fields, e.g. `amount * probability > 10000`.
        `cursor` asks for the page after a page's `next_cursor`, `before` for the page before a
        page's `prev_cursor`. `paths` adds values across lookups, e.g. "account.name", to each row.
        """
        selected = self.selection(entity_name, deleted=deleted)
        entity = selected.entity
        where = self._where(entity, selected.paths, filters, any_of, search, formula)
        keys = self._sort_keys(entity, selected.paths, sort)
        # A sort across a lookup needs its value in the row, for the next page's cursor.
        sorted_paths = [k.key for k in keys if "." in k.key and k.key not in paths]
        extra = self._path_columns(selected, [*paths, *sorted_paths])
        total = None
        if with_total:
            total = self._scalar(sa.select(sa.func.count()).select_from(selected.select(*where).subquery()))
        backward = bool(before)
        if cursor or before:
            values = decode_cursor(before or cursor, [k.expression for k in keys])
            where.append(_before(keys, values) if backward else _after(keys, values))
        limit = max(1, min(limit, MAX_PAGE))
        order = [_order(k.expression, k.direction, reverse=backward) for k in keys]
        rows = self._rows(selected.select(*where).add_columns(*extra).order_by(*order).limit(limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        if backward:
            rows.reverse()
        if not rows:
            return Page([], None, total, None)
        first, last = (encode_cursor([row[k.key] for k in keys]) for row in (rows[0], rows[-1]))
        next_cursor = last if (more and not backward) or backward else None
        prev_cursor = first if (more and backward) or (cursor and not backward) else None
        records = [self._record(entity, row, paths) for row in rows]
        return Page(records, next_cursor, total, prev_cursor)

    def _path_columns(self, selected: Selection, paths: Sequence[str]) -> list:
        columns = []
        for path in paths:
            hidden = self.hidden_part(selected.entity, path)
            if hidden is not None:
                raise ValidationError(selected.entity.name, [FieldError(hidden, CANNOT_READ)])
            try:
                columns.append(selected.paths.path(path).label(path))
            except KeyError:
                raise ValidationError(selected.entity.name, [FieldError(path, "is not a field you can see")]) \
                    from None
        return columns

    def _readable_column(self, selected: Selection, name: str) -> sa.ColumnElement:
        """Returns the SQL of a field of the entity the actor may read; ValidationError otherwise."""
        resolved = self._resolve(selected.entity, selected.paths, name)
        if resolved is None:
            raise ValidationError(selected.entity.name, [FieldError(name, CANNOT_READ)])
        return resolved[1]

    def _record(self, entity: EntityDef, row: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Any]:
        record = strip_hidden(self.actor, entity, row_to_record(entity, row), self.registry)
        for path in paths:
            record[path] = row[path]
        return record

    def count(self, entity_name: str, *, filters: Sequence[Condition] = (), any_of: Sequence[Condition] = (),
              search: str | None = None, formula: str | None = None) -> int:
        selected = self.selection(entity_name)
        where = self._where(selected.entity, selected.paths, filters, any_of, search, formula)
        return self._scalar(sa.select(sa.func.count()).select_from(selected.select(*where).subquery()))

    def group_totals(self, entity_name: str, group_field: str, sum_field: str | None = None, *,
                     filters: Sequence[Condition] = ()) -> dict[Any, GroupTotal]:
        """Returns group value -> (count, sum of `sum_field`) over the actor's readable records."""
        selected = self.selection(entity_name)
        where = self._where(selected.entity, selected.paths, filters, (), None, None)
        group = self._readable_column(selected, group_field)
        total = sa.func.sum(self._readable_column(selected, sum_field)) if sum_field else sa.null()
        statement = (sa.select(group, sa.func.count(), total).select_from(selected.paths.from_clause())
                     .where(*selected.where, *where).group_by(group))
        return {row[0]: GroupTotal(row[1], Decimal(str(row[2])) if row[2] is not None else None)
                for row in self._rows_tuples(statement)}

    def history(self, entity_name: str, record_id: int) -> list[AuditEntry]:
        """Returns the audit entries of a record the actor can read, newest first, without the
        changes of fields hidden from the actor."""
        entity = self.registry.entity(entity_name)
        self.get(entity_name, record_id, deleted=self._is_deleted(entity_name, record_id))
        hidden = self.hidden(entity)
        with self._connection() as conn:
            entries = record_history(conn, entity_name, record_id)
        if not hidden:
            return entries
        return [dataclasses.replace(e, changes={k: v for k, v in e.changes.items() if k not in hidden})
                for e in entries]

    def _is_deleted(self, entity_name: str, record_id: int) -> bool:
        table = self.registry.table(entity_name)
        statement = sa.select(table.c.deleted_at.is_not(None)).where(table.c.id == record_id)
        return bool(self._scalar(statement))

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
        shown = entity.title in table.c and entity.title not in self.hidden(entity)
        title = table.c[entity.title] if shown else table.c.id
        statement = sa.select(table.c.id, title).where(table.c.id.in_(set(ids)),
                                                       *self.scope_clauses(entity, table))
        return {row[0]: str(row[1]) for row in self._rows_tuples(statement)}

    # -- what the actor may not read --------------------------------------------------------------
    def hidden(self, entity: EntityDef) -> frozenset[str]:
        """Returns the fields of `entity` hidden from the actor, computed fields built on them included."""
        return hidden_fields(self.actor, entity, self.registry)

    def hidden_part(self, entity: EntityDef, dotted: str) -> str | None:
        """Returns `dotted` up to its first hop hidden from the actor ("account.annual_revenue"),
        or None when the actor may read every field the path passes through.

        The one check of every path a read names: filters, sorts, columns and formulas.
        """
        for hop in path_hops(self.registry.entities, entity, dotted):
            if hop.field in self.hidden(hop.entity):
                return hop.path
        return None

    # -- building blocks -------------------------------------------------------------------------
    def _where(self, entity: EntityDef, paths: SqlPaths, filters: Sequence[Condition],
               any_of: Sequence[Condition], search: str | None, formula_text: str | None) -> list:
        problems: list[FieldError] = []
        clauses = [c for c in (self._clause(entity, paths, f, problems) for f in filters) if c is not None]
        alternatives = [c for c in (self._clause(entity, paths, f, problems) for f in any_of) if c is not None]
        if problems:
            raise ValidationError(entity.name, problems)
        if alternatives:
            clauses.append(sa.or_(*alternatives))
        terms = search_terms(search or "")
        if terms:
            clauses.append(self._search_clause(entity, paths.table, terms))
        if formula_text:
            clauses.append(self._formula_clause(entity, paths, formula_text))
        return clauses

    def _formula_clause(self, entity: EntityDef, paths: SqlPaths, text: str) -> sa.ColumnElement[bool]:
        app = self.registry.app_of(entity.name)
        try:
            compiled = formula.compile(text, formula_fields(app, entity.name, text))
            if compiled.type != "boolean":
                raise formula.FormulaError(f"A filter formula must be true or false, not {compiled.type}.", 1, 1)
            self._refuse_hidden_reads(entity, compiled)
            return compiled.to_sql({p: paths.path(p) for p in compiled.paths})
        except formula.FormulaError as exc:
            raise ValidationError(entity.name, [FieldError("formula", str(exc))]) from None

    def _refuse_hidden_reads(self, entity: EntityDef, compiled: formula.CompiledFormula) -> None:
        """Raises FormulaError at the first field the formula reads through a hop hidden from the actor."""
        for node in walk(compiled.tree):
            if isinstance(node, Field):
                hidden = self.hidden_part(entity, node.dotted)
                if hidden is not None:
                    raise formula.FormulaError(f"{hidden}: {CANNOT_READ}", node.pos.line, node.pos.column,
                                               kind="hidden_field", source=compiled.source)

    def _clause(self, entity: EntityDef, paths: SqlPaths, condition: Condition,
                problems: list[FieldError]) -> sa.ColumnElement[bool] | None:
        op = OPERATORS.get(condition.op)
        if op is None:
            problems.append(FieldError(condition.field, f"{condition.op!r} is not a filter operator "
                                                         f"(known: {', '.join(OPERATORS)})"))
            return None
        if condition.field in RECORD_COLUMNS:
            return op.clause(paths.table.c[condition.field], condition.value)
        resolved = self._resolve(entity, paths, condition.field)
        if resolved is None:
            # A hidden field is answered like an unknown one: filtering on it would reveal its values.
            problems.append(FieldError(condition.field, f"is not a field of {entity.name}"))
            return None
        f, column = resolved
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

    def _resolve(self, entity: EntityDef, paths: SqlPaths, name: str) -> tuple[FieldDef, sa.ColumnElement] | None:
        """Returns the field a filter or sort names (its own, or across lookups such as
        "account.city") and its SQL; None when there is no such field the actor may see."""
        if not entity.has_field(name.split(".", 1)[0]) or self.hidden_part(entity, name) is not None:
            return None
        if "." not in name:
            return entity.field(name), paths.field(name)
        owner, field_name = paths.owner_of(name)
        if not owner.has_field(field_name):
            return None
        try:
            return owner.field(field_name), paths.path(name)
        except KeyError:
            return None

    def _search_clause(self, entity: EntityDef, table: sa.FromClause, terms: Sequence[str]) -> sa.ColumnElement[bool]:
        """Returns the clause a record meets when it holds every term, each in any searchable field."""
        hidden = self.hidden(entity)
        columns = [table.c[f.name] for f in stored_fields(entity) if f.type in SEARCHABLE and f.name not in hidden]
        if not columns:
            return sa.false()
        return sa.and_(*(_held_in_any(columns, term) for term in terms))

    def _sort_keys(self, entity: EntityDef, paths: SqlPaths, sort: Sequence[SortKey]) -> list[SortExpression]:
        keys: list[SortExpression] = []
        for key in sort:
            if key.direction not in ("asc", "desc"):
                raise ValidationError(entity.name, [FieldError(key.field, "sort direction must be asc or desc")])
            if key.field == "id":
                continue
            if key.field in RECORD_COLUMNS:
                keys.append(SortExpression(paths.table.c[key.field], key.direction, key.field))
                continue
            resolved = self._resolve(entity, paths, key.field)
            if resolved is None:
                raise ValidationError(entity.name, [FieldError(key.field, "cannot be sorted on")])
            keys.append(SortExpression(resolved[1], key.direction, key.field))
        last = sort[-1].direction if sort and sort[-1].field == "id" else "asc"
        keys.append(SortExpression(paths.table.c.id, last, "id"))
        return keys


@dataclass(frozen=True)
class SortExpression:
    expression: sa.ColumnElement
    direction: str
    key: str          # the name the value has in a result row, for the next page's cursor


@dataclass(frozen=True)
class Selection:
    """The start of every read: an entity's columns (computed ones labelled) and its scope."""
    entity: EntityDef
    table: sa.Table
    paths: SqlPaths
    columns: list
    where: list

    def select(self, *conditions: sa.ColumnElement[bool]) -> sa.Select:
        # The FROM is built last: filters and sorts may have added joins to `paths`.
        return sa.select(*self.columns).select_from(self.paths.from_clause()).where(*self.where, *conditions)


@dataclass(frozen=True)
class GroupTotal:
    count: int
    total: Decimal | None


def search_terms(text: str) -> list[str]:
    """Returns the words of a search, each to be found on its own: split at whitespace, with a
    "quoted phrase" (straight or Chinese quotes) kept as one term; Chinese written without spaces
    stays one term."""
    return [phrase or word for phrase, word in _SEARCH_TERM.findall(text) if (phrase or word).strip()]


# A quoted phrase, or a run of non-space characters (a lone quote mark is dropped, not searched for).
_SEARCH_TERM = re.compile(r'["“”]([^"“”]*)["“”]|([^\s"“”]+)')


def _held_in_any(columns: Sequence[sa.ColumnElement], term: str) -> sa.ColumnElement[bool]:
    pattern = f"%{_escape_like(term.strip())}%"
    return sa.or_(*(c.ilike(pattern, escape="\\") for c in columns))


def _filter_value(f: FieldDef, op: Operator, raw: Any) -> Any:
    if not field_type(f.type).stored:   # a formula or rollup compares as the type it gives
        f = field_type(f.type).result_field(f)
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


def _order(column: sa.ColumnElement, direction: str, *, reverse: bool = False) -> sa.ColumnElement:
    # Blanks come last in both directions, as a person scanning a list expects; walking a list
    # backwards reads the same order from its end.
    if not reverse:
        return (column.asc() if direction == "asc" else column.desc()).nulls_last()
    return (column.desc() if direction == "asc" else column.asc()).nulls_first()


def _after(keys: list[SortExpression], values: list[Any]) -> sa.ColumnElement[bool]:
    """Returns the keyset condition 'sorts after the row whose keys are `values`' (blanks last)."""
    return _keyset(keys, values, _sorts_after)


def _before(keys: list[SortExpression], values: list[Any]) -> sa.ColumnElement[bool]:
    """Returns the keyset condition 'sorts before the row whose keys are `values`' (blanks last)."""
    return _keyset(keys, values, _sorts_before)


Beyond = Callable[[SortExpression, Any, bool], "sa.ColumnElement[bool] | None"]


def _keyset(keys: list[SortExpression], values: list[Any], beyond: Beyond) -> sa.ColumnElement[bool]:
    # Row comparison spelt out: equal on the first i keys, strictly beyond on key i.
    alternatives = []
    for i, key in enumerate(keys):
        strictly = beyond(key, values[i], i == len(keys) - 1)
        if strictly is not None:
            equal_before = [_same(k.expression, v) for k, v in zip(keys[:i], values[:i], strict=True)]
            alternatives.append(sa.and_(*equal_before, strictly))
    return sa.or_(*alternatives) if alternatives else sa.false()


def _sorts_after(key: SortExpression, value: Any, last: bool) -> sa.ColumnElement[bool] | None:
    if value is None:
        return None   # nothing sorts after a blank except other blanks, which tie on this key
    column = key.expression
    beyond = column > value if key.direction == "asc" else column < value
    return beyond if last else sa.or_(beyond, column.is_(None))


def _sorts_before(key: SortExpression, value: Any, last: bool) -> sa.ColumnElement[bool]:
    column = key.expression
    if value is None:
        return column.is_not(None)   # every value precedes a blank
    return column < value if key.direction == "asc" else column > value


def _same(column: sa.ColumnElement, value: Any) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == value
