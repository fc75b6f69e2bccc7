"""The record page: header and actions, details by layout, related lists, timeline and history.

A record outside the user's scope raises NotFound in the engine, which the error handler makes a 404.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from engine.data.views import user_names
from engine.errors import ValidationError
from engine.flows.pipelines import stage_history
from engine.security.audit import record_history
from metamodel.fieldtypes import field_type
from metamodel.model import EntityDef, FieldDef, SortKey, label_text
from ui.context import locale, query, records, registry, runtime
from ui.records import records_bp
from ui.records.changes import ChangeText
from ui.records.conversion import conversion_panel
from ui.records.display import Cell, Column, References, cell, columns_of, record_title
from ui.records.forms import form_sections
from ui.records.listing import default_columns, default_view
from ui.records.localtime import to_local
from ui.records.visibility import hidden_names, readable, record_layout

TIMELINE_ENTITIES = ("activity", "task")
RELATED_ROWS = 5
RELATED_COLUMNS = 7


@dataclass(frozen=True)
class DetailItem:
    label: str
    cell: Cell
    wide: bool
    note: str = ""     # how the value is made, e.g. a rollup's totals counting every child


@dataclass(frozen=True)
class DetailSection:
    name: str
    label: str
    columns: int
    collapsed: bool
    items: list[DetailItem]


@dataclass(frozen=True)
class RelatedList:
    entity: EntityDef
    via: str
    label: str
    columns: list[Column]
    rows: list[tuple[int, str, list[Cell]]]     # id, title, cells
    total: int
    new_href: str
    all_href: str


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime | None
    icon: str
    title: str
    href: str | None
    detail: str
    who: str


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    who: str
    action: str
    changes: list[tuple[str, str, str]]


@dataclass(frozen=True)
class PathStep:
    label: str
    entered: str        # the local date the record last entered the stage; "" when it never did
    current: bool
    passed: bool        # before the current stage in the pipeline's order


@dataclass(frozen=True)
class StagePath:
    """The path bar: the pipeline's stages in order, and how long the record has been in its own."""
    label: str
    steps: list[PathStep]
    days_in_current: int | None


def stage_path(entity: EntityDef, record: dict[str, Any]) -> StagePath | None:
    """The record's pipeline as a path bar; None without a pipeline or when its stage field is hidden."""
    with runtime().engine.connect() as conn:
        found = stage_history(conn, registry(), entity, record, runtime().clock())
    if found is None or found.pipeline.stage_field in hidden_names(entity):
        return None
    lang = locale()
    f = entity.field(found.pipeline.stage_field)
    kind = field_type(f.type)
    entered = found.last_entered()
    order = [s.value for s in found.pipeline.stages]
    position = order.index(found.current) if found.current in order else -1
    steps = [PathStep(kind.label_of(f, value, lang),
                      to_local(entered[value].at).strftime("%Y-%m-%d") if value in entered else "",
                      i == position, i < position)
             for i, value in enumerate(order)]
    days = found.time_in_current.days if found.time_in_current is not None else None
    return StagePath(label_text(f.label, lang), steps, days)


def header_fields(entity: EntityDef) -> list[str]:
    """The key fields shown in the header: the default list view's columns after the title."""
    view = default_view(entity)
    names = view.columns if view else default_columns(entity)
    return readable(entity, [n for n in names if n != entity.title and entity.has_field(n)])[:4]


@records_bp.route("/app/<entity>/<int:record_id>")
def show(entity: str, record_id: int):
    definition = registry().entity(entity)
    record = query().get(entity, record_id)
    lang = locale()
    names = [f.name for f in definition.fields]
    refs = References(query(), runtime().engine.connect).load(definition, [record],
                                                              names + ["owner_id", "created_by", "updated_by"])
    sections = detail_sections(definition, record, refs)
    header = [(c.label, cell(definition, c.name, record, refs, lang))
              for c in columns_of(definition, header_fields(definition), lang)]
    related = related_lists(definition, record_id)
    changes = history(definition, record_id)
    return render_template(
        "records/record.html", entity=definition, record=record, title=record_title(definition, record),
        header=header, sections=sections, related=related, history=changes, path=stage_path(definition, record),
        timeline=merged_timeline(timeline(definition, record_id), changes), owner=cell(definition, "owner_id", record, refs, lang),
        conversion=conversion_panel(definition, record),
        entity_label=label_text(definition.label, lang), plural_label=label_text(definition.plural_label, lang))


def detail_sections(entity: EntityDef, record: dict[str, Any], refs: References) -> list[DetailSection]:
    """The layout's sections and fields that show for this record: conditions evaluated, fields
    hidden from the user's roles left out."""
    lang = locale()
    layout = record_layout(entity, record)
    found = []
    for s in form_sections(entity, lang, hidden_names(entity)):
        if s.name not in layout.visible_sections:
            continue
        items = [DetailItem(label_text(f.label, lang), cell(entity, f.name, record, refs, lang),
                            field_type(f.type).widget == "textarea", _reader_note(f))
                 for f in s.fields if f.name in layout.visible_fields]
        found.append(DetailSection(s.name, s.label, s.columns, s.collapsed, items))
    return found


def _reader_note(f: FieldDef) -> str:
    note = field_type(f.type).reader_note(f)
    return _(note) if note else ""


def related_lists(entity: EntityDef, record_id: int) -> list[RelatedList]:
    """The records pointing at this one, a few per list, the title column first; "New" comes back here."""
    lang = locale()
    back = url_for("records.show", entity=entity.name, record_id=record_id) + "#pane-related"
    found = []
    for child, via in registry().children_of(entity.name):
        view = default_view(child)
        names = [c for c in (view.columns if view else default_columns(child)) if c != via]
        if child.title in names:
            names = [child.title, *(n for n in names if n != child.title)]
        names = readable(child, names)[:RELATED_COLUMNS]
        sort = view.sort if view else (SortKey("id", "desc"),)
        page = query().related(entity.name, record_id, child.name, via, sort=sort, limit=RELATED_ROWS,
                               with_total=True)
        refs = References(query(), runtime().engine.connect).load(child, page.rows, names)
        columns = columns_of(child, names, lang)
        f = child.field(via)
        label = (label_text(f.option("related_label"), lang) if f.option("related_label")
                 else label_text(child.plural_label, lang))
        found.append(RelatedList(
            child, via, label, columns,
            [(r["id"], record_title(child, r), [cell(child, c.name, r, refs, lang) for c in columns])
             for r in page.rows],
            page.total or 0,
            url_for("records.new", entity=child.name, **{via: record_id, "back": back}),
            url_for("records.list_records", entity=child.name, f=via, op="eq", v=record_id, fb=1)))
    return found


def timeline(entity: EntityDef, record_id: int) -> list[TimelineEntry]:
    """Activities and tasks pointing at the record, newest first, beside its creation."""
    lang = locale()
    entries: list[TimelineEntry] = []
    for child, via in registry().children_of(entity.name):
        if child.name not in TIMELINE_ENTITIES:
            continue
        when = _first_time_field(child)
        sort = (SortKey(when, "desc"),) if when else ()
        page = query().related(entity.name, record_id, child.name, via, sort=sort, limit=20)
        for row in page.rows:
            detail_field = next((f for f in child.fields if f.type == "picklist"), None)
            detail = (field_type(detail_field.type).display(detail_field, row.get(detail_field.name), lang)
                      if detail_field else "")
            stamp = row.get(when) if when else row.get("created_at")
            if stamp is not None and not isinstance(stamp, datetime):
                stamp = datetime(stamp.year, stamp.month, stamp.day)
            elif stamp is not None:
                stamp = to_local(stamp)
            entries.append(TimelineEntry(stamp, "phone-call" if child.name == "activity" else "checkbox",
                                         record_title(child, row),
                                         url_for("records.show", entity=child.name, record_id=row["id"]),
                                         detail, label_text(child.label, lang)))
    return entries


def merged_timeline(entries: list[TimelineEntry], changes: list[HistoryEntry]) -> list[TimelineEntry]:
    """The activities and tasks with the record's own changes, newest first."""
    for change in changes:
        detail = ", ".join(label for label, _old, _new in change.changes[:4])
        entries.append(TimelineEntry(change.at, "history", change.action, None, detail, change.who))
    return sorted(entries, key=lambda e: _sortable_time(e.at), reverse=True)


def _sortable_time(value: datetime | None) -> float:
    if value is None:
        return 0.0
    return value.timestamp() if value.tzinfo else value.replace(tzinfo=None).timestamp()


def _first_time_field(entity: EntityDef) -> str | None:
    return next((f.name for f in entity.fields if f.type in ("datetime", "date")), None)


def history(entity: EntityDef, record_id: int) -> list[HistoryEntry]:
    """Who changed what (old → new) and when, newest first; values shown as the fields show them
    (lookups as titles, users by name, times in the user's zone)."""
    lang = locale()
    with runtime().engine.connect() as conn:
        entries = record_history(conn, entity.name, record_id)
        names = user_names(conn, [e.actor_id for e in entries])
    texts = ChangeText().load((entity, e.changes) for e in entries)
    actions = {"create": _("created"), "update": _("changed"), "delete": _("deleted"), "restore": _("restored"),
               "convert": _("converted")}
    hidden = hidden_names(entity)
    found = []
    for entry in entries:
        changes = []
        for name, (old, new) in entry.changes.items():
            if name == "owner_id":
                changes.append((_("Owner"), texts.user(old), texts.user(new)))
            elif entity.has_field(name) and name not in hidden:
                f = entity.field(name)
                changes.append((label_text(f.label, lang), texts.value(f, old, lang), texts.value(f, new, lang)))
        found.append(HistoryEntry(to_local(entry.at), names.get(entry.actor_id, _("System")),
                                  actions.get(entry.action, entry.action), changes))
    return found


@records_bp.route("/app/<entity>/<int:record_id>/delete", methods=["POST"])
def delete(entity: str, record_id: int):
    definition = registry().entity(entity)
    try:
        records().delete(entity, record_id)
    except ValidationError as exc:
        for messages in exc.by_field().values():
            for message in messages:
                flash(message, "danger")
        return redirect(url_for("records.show", entity=entity, record_id=record_id))
    flash(_("%(label)s deleted.", label=label_text(definition.label, locale())), "success")
    return redirect(url_for("records.list_records", entity=entity))
