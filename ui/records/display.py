"""Records as people read them: each value shown by its field type, lookups as linked titles.

Templates only print `Cell`s; every decision about how a value looks is made here.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import url_for
from flask_babel import gettext as _

from engine.data.query import QueryService
from engine.data.views import user_names
from metamodel.fieldtypes import field_type
from metamodel.model import EntityDef, FieldDef, label_text
from ui.records.localtime import local_text

USER_COLUMNS = ("owner_id", "created_by", "updated_by")
TIME_COLUMNS = ("created_at", "updated_at")


@dataclass(frozen=True)
class Cell:
    text: str
    kind: str = "text"            # text, link, badge, bool, number, blank
    href: str | None = None
    color: str | None = None
    raw: Any = None


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    field: FieldDef | None       # None for system columns
    numeric: bool = False


def shown_field(f: FieldDef) -> FieldDef:
    """The field whose type shows the value: a formula or rollup shows as the type it gives."""
    kind = field_type(f.type)
    if kind.stored:
        return f
    return kind.result_field(f)


def path_field(entity: EntityDef, name: str) -> tuple[EntityDef, FieldDef | None]:
    """The entity and field a column names: its own field, or across one lookup ("account.name")."""
    if "." not in name:
        return entity, entity.field(name) if entity.has_field(name) else None
    from ui.context import registry

    head, rest = name.split(".", 1)
    target = field_type(entity.field(head).type).target_entity(entity.field(head))
    hop = registry().entity(target)
    return hop, hop.field(rest) if hop.has_field(rest) else None


def column_label(entity: EntityDef, name: str, locale: str) -> str:
    names = {"owner_id": _("Owner"), "created_at": _("Created"), "updated_at": _("Updated"),
             "created_by": _("Created by"), "updated_by": _("Updated by"), "id": "ID",
             "deleted_at": _("Deleted")}
    if name in names:
        return names[name]
    if "." in name:
        head = name.split(".", 1)[0]
        _hop, f = path_field(entity, name)
        return f"{label_text(entity.field(head).label, locale)} › {label_text(f.label, locale) if f else name}"
    return label_text(entity.field(name).label, locale)


def is_numeric(f: FieldDef | None) -> bool:
    return f is not None and field_type(shown_field(f).type).formula_type in ("number", "currency", "percent")


def columns_of(entity: EntityDef, names: Iterable[str], locale: str) -> list[Column]:
    found = []
    for name in names:
        _hop, f = path_field(entity, name)
        found.append(Column(name, column_label(entity, name, locale), f, is_numeric(f)))
    return found


class References:
    """Titles of the records and names of the users a set of records points at, fetched once."""

    def __init__(self, query: QueryService, conn_factory):
        self.query = query
        self.conn_factory = conn_factory
        self.titles: dict[str, dict[int, str]] = {}
        self.users: dict[int, str] = {}

    def load(self, entity: EntityDef, rows: Sequence[dict[str, Any]], names: Iterable[str]) -> References:
        names = list(names)
        user_ids: set[int] = set()
        for name in names:
            if name in USER_COLUMNS:
                user_ids.update(r.get(name) for r in rows if r.get(name))
                continue
            if name in TIME_COLUMNS or name == "deleted_at":
                continue
            _hop, f = path_field(entity, name)
            if f is None:
                continue
            target = field_type(f.type).target_entity(f)
            if f.type == "user":
                user_ids.update(r.get(name) for r in rows if r.get(name))
            elif target:
                ids = [r.get(name) for r in rows if r.get(name)]
                self.titles.setdefault(target, {}).update(self.query.titles(target, ids))
        if user_ids:
            with self.conn_factory() as conn:
                self.users.update(user_names(conn, list(user_ids)))
        return self


def cell(entity: EntityDef, name: str, record: dict[str, Any], refs: References, locale: str) -> Cell:
    """Returns how column `name` of `record` is shown."""
    value = record.get(name)
    if name in USER_COLUMNS:
        return Cell(refs.users.get(value, ""), raw=value) if value else Cell("", "blank")
    if name in TIME_COLUMNS or name == "deleted_at":
        return Cell(local_text(value), raw=value)
    if name == "id":
        return Cell(str(value))
    hop, f = path_field(entity, name)
    if f is None:
        return Cell("", "blank")
    if "." in name and f.type == "file":
        return Cell(field_type(f.type).display(f, value, locale) if value else "", "text" if value else "blank")
    return value_cell(hop, shown_field(f), value, record, refs, locale)


def value_cell(entity: EntityDef, f: FieldDef, value: Any, record: dict[str, Any], refs: References,
               locale: str) -> Cell:
    """Returns how a value of field `f` (of `entity`) is shown."""
    if value is None or value == [] or value == "":
        return Cell("", "blank") if f.type != "boolean" else Cell(_("No"), "bool", raw=False)
    kind = field_type(f.type)
    name = f.name
    target = kind.target_entity(f)
    if target:
        title = refs.titles.get(target, {}).get(value)
        if title is None:   # a record outside the user's scope (or gone): say so rather than show a bare id
            return Cell(_("Record #%(id)s (not visible to you)", id=value), "restricted", raw=value)
        return Cell(title, "link", url_for("records.show", entity=target, record_id=value), raw=value)
    if f.type == "user":
        return Cell(refs.users.get(value, f"#{value}"), raw=value)
    if f.type == "picklist":
        choice = kind.choice(f, value)
        return Cell(kind.display(f, value, locale), "badge", color=(choice or {}).get("color"), raw=value)
    if f.type == "boolean":
        return Cell(kind.display(f, value, locale), "bool", raw=value)
    if f.type == "file":
        return Cell(kind.display(f, value, locale), "link",
                    url_for("records.download", entity=entity.name, record_id=record["id"], field=name))
    if f.type == "url":
        return Cell(value, "link", value if value.startswith(("http://", "https://")) else None)
    if f.type == "email":
        return Cell(value, "link", f"mailto:{value}")
    if f.type == "datetime":
        return Cell(local_text(value), raw=value)
    text = kind.display(f, value, locale)
    numeric = kind.formula_type in ("number", "currency", "percent")
    return Cell(text, "number" if numeric else "text", raw=value)


def plain_value(entity: EntityDef, name: str, record: dict[str, Any], refs: References,
                locale: str) -> str:
    """Returns a column's value as text for exports (titles for lookups, labels for choices)."""
    shown = cell(entity, name, record, refs, locale)
    return "" if shown.kind == "blank" else shown.text


def record_title(entity: EntityDef, record: dict[str, Any]) -> str:
    value = record.get(entity.title)
    return str(value) if value not in (None, "") else f"{label_text(entity.label)} #{record['id']}"
