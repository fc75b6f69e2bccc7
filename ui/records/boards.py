"""Kanban boards (a column per stage value, drag to move) and calendars (month and week).

A move saves through RecordService.update with the card's version, which merges a stale move: what
colleagues changed on the record meanwhile stands, and only a card they moved to another stage is
refused. A refusal goes back to the card.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import abort, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from engine.data.views import user_names
from engine.errors import ConflictError, PermissionDenied, ValidationError
from metamodel.fieldtypes import field_type
from metamodel.model import Condition, EntityDef, FieldDef, ListView, label_text
from ui.context import locale, query, records, registry, runtime
from ui.records import records_bp
from ui.records.display import Cell, References, cell, columns_of, record_title
from ui.records.lists import calendar_field, stage_view
from ui.records.visibility import readable

CARDS_PER_COLUMN = 30
CALENDAR_LIMIT = 500


@dataclass(frozen=True)
class Card:
    id: int
    version: int
    title: str
    href: str
    cells: list[tuple[str, Cell]]


@dataclass(frozen=True)
class BoardColumn:
    value: str
    label: str
    color: str | None
    count: int
    total: str
    cards: list[Card]
    next_cursor: str | None = None


def board_view(entity: EntityDef) -> ListView:
    named = next((v for v in entity.list_views if v.name == "kanban" and v.stage_field), None)
    view = named or stage_view(entity)
    if view is None:
        abort(404)
    return view


def amount_field(entity: EntityDef, view: ListView) -> FieldDef | None:
    names = readable(entity, list(view.columns) + [f.name for f in entity.fields])
    return next((entity.field(n) for n in names if entity.has_field(n) and entity.field(n).type == "currency"), None)


def column_totals(entity: EntityDef, view: ListView) -> dict[str, tuple[int, str]]:
    """stage value -> (count, sum of the amount field as shown)."""
    amount = amount_field(entity, view)
    totals = query().group_totals(entity.name, view.stage_field, amount.name if amount else None,
                                  filters=view.filters)
    lang = locale()
    shown = {}
    for value, total in totals.items():
        text = field_type(amount.type).display(amount, total.total or Decimal(0), lang) if amount else ""
        shown[value] = (total.count, text)
    # An empty column reads "0 · ¥0.00", not "0 ·".
    shown[None] = (0, field_type(amount.type).display(amount, Decimal(0), lang) if amount else "")
    return shown


def column_cards(entity: EntityDef, view: ListView, value: str, cursor: str | None = None) -> tuple[list[Card], str | None]:
    """One page of a column's cards (the records at stage `value`) and the cursor of the next page."""
    lang = locale()
    shown_names = readable(entity, [c for c in view.columns if c != view.stage_field and c != entity.title])
    labels = {c.name: c.label for c in columns_of(entity, shown_names, lang)}
    page = query().list(entity.name, filters=[*view.filters, Condition(view.stage_field, "eq", value)],
                        sort=view.sort, limit=CARDS_PER_COLUMN, cursor=cursor)
    refs = References(query(), runtime().engine.connect).load(entity, page.rows, shown_names)
    cards = [Card(r["id"], r["version"], record_title(entity, r),
                  url_for("records.show", entity=entity.name, record_id=r["id"]),
                  [(labels[n], cell(entity, n, r, refs, lang)) for n in shown_names])
             for r in page.rows]
    return cards, page.next_cursor


def stage_choices(entity: EntityDef, view: ListView) -> list[tuple[str, str]]:
    stage = entity.field(view.stage_field)
    kind = field_type(stage.type)
    return [(c["value"], kind.label_of(stage, c["value"], locale())) for c in kind.choices(stage)]


@records_bp.route("/app/<entity>/kanban")
def kanban(entity: str):
    definition = registry().entity(entity)
    view = board_view(definition)
    stage = definition.field(view.stage_field)
    kind = field_type(stage.type)
    lang = locale()
    totals = column_totals(definition, view)
    columns = []
    for choice in kind.choices(stage):
        cards, next_cursor = column_cards(definition, view, choice["value"])
        count, total = totals.get(choice["value"], totals[None])
        columns.append(BoardColumn(choice["value"], kind.label_of(stage, choice["value"], lang),
                                   choice.get("color"), count, total, cards, next_cursor))
    return render_template("records/kanban.html", entity=definition, columns=columns, view=view,
                           zero_total=totals[None][1],
                           stages=stage_choices(definition, view),
                           entity_label=label_text(definition.plural_label, lang),
                           stage_label=label_text(stage.label, lang))


@records_bp.route("/app/<entity>/kanban/cards")
def kanban_cards(entity: str):
    """The next cards of one column (htmx "load more"): they replace the column's load-more item."""
    definition = registry().entity(entity)
    view = board_view(definition)
    value = request.args.get("value", "")
    if value not in {v for v, _label in stage_choices(definition, view)}:
        abort(400)
    cards, next_cursor = column_cards(definition, view, value, request.args.get("cursor") or None)
    return render_template("records/_cards.html", entity=definition, value=value, cards=cards,
                           next_cursor=next_cursor, stages=stage_choices(definition, view))


@records_bp.route("/app/<entity>/<int:record_id>/move", methods=["POST"])
def move(entity: str, record_id: int):
    """Moves a card: sets the stage field alone, from the card's version, so a stale card changes
    nothing else; refused (409) when someone moved it to another stage since. Answers JSON."""
    definition = registry().entity(entity)
    view = board_view(definition)
    value = request.form.get("value", "")
    version = request.form.get("version", "")
    if not version.isdigit():
        abort(400)
    try:
        saved = records().update(entity, record_id, {view.stage_field: value}, expected_version=int(version))
    except ValidationError as exc:
        return jsonify(ok=False, message=refusal_text(definition, view.stage_field, exc)), 422
    except ConflictError as exc:
        with runtime().engine.connect() as conn:
            who = user_names(conn, [exc.changed_by]).get(exc.changed_by, _("someone"))
        return jsonify(ok=False, message=_("Changed by %(who)s meanwhile; reload to see it.", who=who)), 409
    except PermissionDenied as exc:
        return jsonify(ok=False, message=str(exc)), 403
    totals = column_totals(definition, view)
    return jsonify(ok=True, version=saved["version"],
                   columns={k: {"count": c, "total": t} for k, (c, t) in totals.items() if k is not None})


def refusal_text(entity: EntityDef, stage_field: str, exc: ValidationError) -> str:
    """Why a move was refused, for the card: the stage's own messages (its gate's) first, then the
    other fields' named by their labels ("Amount: is required in stage Won")."""
    lang = locale()
    by_field = exc.by_field()
    parts = [_(m) for m in by_field.get(stage_field, [])]
    for name, messages in by_field.items():
        if name == stage_field:
            continue
        label = label_text(entity.field(name).label, lang) if name and entity.has_field(name) else ""
        parts.extend(f"{label}: {_(m)}" if label else _(m) for m in messages)
    return "; ".join(parts)


@records_bp.route("/app/<entity>/calendar")
def calendar(entity: str):
    definition = registry().entity(entity)
    name = calendar_field(definition)
    if name is None:
        abort(404)
    lang = locale()
    return render_template("records/calendar.html", entity=definition,
                           entity_label=label_text(definition.plural_label, lang),
                           field_label=label_text(definition.field(name).label, lang),
                           events_url=url_for("records.calendar_events", entity=entity))


@records_bp.route("/app/<entity>/calendar.json")
def calendar_events(entity: str):
    """FullCalendar's event feed: records whose calendar field falls in [start, end)."""
    definition = registry().entity(entity)
    name = calendar_field(definition)
    if name is None:
        abort(404)
    f = definition.field(name)
    start, end = _day(request.args.get("start")), _day(request.args.get("end"))
    low, high = (start.isoformat(), (end - timedelta(days=1)).isoformat()) if f.type == "date" else (
        datetime(start.year, start.month, start.day).isoformat() + "+00:00",
        datetime(end.year, end.month, end.day).isoformat() + "+00:00")
    page = query().list(entity, filters=[Condition(name, "between", [low, high])],
                        sort=[], limit=CALENDAR_LIMIT)
    events = []
    for row in page.rows:
        when = row.get(name)
        events.append({"id": row["id"], "title": record_title(definition, row),
                       "start": when.isoformat(), "allDay": f.type == "date",
                       "url": url_for("records.show", entity=entity, record_id=row["id"])})
    return jsonify(events)


def _day(text: str | None) -> date:
    if not text:
        abort(400)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        abort(400)
