"""List pages: columns, sort, filter builder, saved views, keyset pages, bulk actions, search, lookups.

`fetch_list` is the one read behind the list page and its exports, so both show the same rows.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from engine.data.query import OPERATORS, Page
from engine.data.views import active_users, delete_view, save_view, saved_view, saved_views
from engine.errors import CursorError, ValidationError
from metamodel.fieldtypes import FieldValueError, field_type
from metamodel.model import Condition, EntityDef, FieldDef, label_text
from ui.context import actor, locale, query, registry, runtime
from ui.records import records_bp
from ui.records.display import Cell, Column, References, cell, columns_of, record_title, shown_field
from ui.records.listing import (
    SYSTEM_LIST_COLUMNS,
    ListState,
    decode_value,
    filterable_fields,
    find_view,
    parse_state,
    sortable,
)
from ui.records.values import (
    ValueInput,
    field_label,
    operators_for,
    query_value,
    split_values,
    value_input,
)
from ui.records.visibility import hidden_names, locked_names, readable

# The engine's operator names (OPERATORS keys) in the user's language; the engine's English words
# are never shown.
OPERATOR_LABELS = {
    "eq": _l("is"), "ne": _l("is not"), "lt": _l("is less than"), "le": _l("is at most"),
    "gt": _l("is greater than"), "ge": _l("is at least"), "contains": _l("contains"),
    "starts_with": _l("starts with"), "in": _l("is one of"), "not_in": _l("is none of"),
    "between": _l("is between"), "is_blank": _l("is blank"), "is_not_blank": _l("is not blank"),
}


@dataclass(frozen=True)
class Row:
    id: int
    title: str
    cells: list[Cell]


@dataclass
class ListResult:
    entity: EntityDef
    state: ListState
    columns: list[Column]
    page: Page
    rows: list[Row]
    errors: list[str]
    formula_error: str = ""

    @property
    def refused(self) -> str:
        """Why the engine refused the list's filters, sort or columns ("" when it did not)."""
        return "\n".join([*self.errors, *([self.formula_error] if self.formula_error else [])])


@dataclass(frozen=True)
class FilterRow:
    """One row of the filter builder: the condition, the operators its field offers, its input."""
    uid: str
    condition: Condition
    operators: list[tuple[str, str]]
    spec: ValueInput
    values: list[str]
    title: str | None = None


def operator_label(name: str) -> str:
    return str(OPERATOR_LABELS[name])


def current_state(entity: EntityDef) -> ListState:
    view = request.args.get("view", "")
    saved = saved_view(runtime().engine, int(view), current_user.profile.id) if view.isdigit() else None
    if view.isdigit() and saved is None:
        abort(404)
    args = request.args.copy()
    if len(args.getlist("cols")) > 1:
        args.setlist("cols", [",".join(args.getlist("cols"))])
    state = parse_state(args, entity, saved)
    hidden = hidden_names(entity)
    return replace(state, columns=tuple(readable(entity, state.columns)),
                   filters=tuple(c for c in state.filters if c.field not in hidden),
                   sort=tuple(k for k in state.sort if k.field not in hidden))


def fetch_list(entity: EntityDef, state: ListState, *, limit: int, with_total: bool = True) -> ListResult:
    """Returns one page of the list the state describes; a bad filter becomes a message, not a 500."""
    lang = locale()
    columns = columns_of(entity, state.columns, lang)
    errors: list[str] = []
    formula_error = ""
    try:
        page = query().list(entity.name, filters=_query_conditions(entity, state.all_of),
                            any_of=_query_conditions(entity, state.any_of), search=state.q or None,
                            formula=state.formula or None,
                            sort=[k for k in state.sort if sortable(entity, k.field)], cursor=state.cursor,
                            before=state.before, limit=limit, with_total=with_total,
                            paths=[c for c in state.columns if "." in c])
    except CursorError:
        raise   # a page link no list wrote: the request is bad (400), not the list's filters
    except ValidationError as exc:
        found = exc.by_field()
        formula_error = "\n".join(found.pop("formula", []))
        errors = [f"{field_label(entity, name)}: {', '.join(messages)}" if name else ", ".join(messages)
                  for name, messages in found.items()]
        page = Page([], None, 0)
    refs = References(query(), runtime().engine.connect).load(entity, page.rows, state.columns)
    rows = [Row(r["id"], record_title(entity, r), [cell(entity, c.name, r, refs, lang) for c in columns])
            for r in page.rows]
    return ListResult(entity, state, columns, page, rows, errors, formula_error)


def _query_conditions(entity: EntityDef, conditions: tuple[Condition, ...]) -> list[Condition]:
    return [Condition(c.field, c.op, query_value(entity, c.field, c.value)) for c in conditions]


def filter_sentence(entity: EntityDef, condition: Condition) -> str:
    """A filter as a person reads it, in their language: 'Stage is one of Won, Lost'."""
    if condition.op not in OPERATOR_LABELS:
        return f"{condition.field} {condition.op}"
    shown = [_shown_value(entity, condition.field, v) for v in split_values(condition.value)]
    arity = OPERATORS[condition.op].arity
    joined = "" if arity == "none" else (f" {_('and')} ".join(shown) if arity == "two" else ", ".join(shown))
    return " ".join(part for part in (field_label(entity, condition.field), operator_label(condition.op), joined)
                    if part)


def _shown_value(entity: EntityDef, name: str, text: str) -> str:
    if name == "owner_id" or not entity.has_field(name):
        return text
    f = shown_field(entity.field(name))
    kind = field_type(f.type)
    if f.type == "datetime" or (kind.target_entity(f) is None and f.type not in ("picklist", "multipicklist",
                                                                                "boolean")):
        return text
    try:
        value = kind.coerce(f, text)
    except FieldValueError:
        return text
    if kind.target_entity(f):
        return query().titles(kind.target_entity(f), [value]).get(value, f"#{value}")
    return kind.display(f, value, locale())


def filter_sentences(entity: EntityDef, state: ListState) -> list[str]:
    return [filter_sentence(entity, condition) for condition in state.filters]


def filter_field_choices(entity: EntityDef) -> list[tuple[str, str]]:
    """(name, label) of the fields a filter may name, hidden ones left out, the owner last."""
    hidden = hidden_names(entity)
    lang = locale()
    return [(f.name, label_text(f.label, lang)) for f in filterable_fields(entity) if f.name not in hidden] \
        + [("owner_id", _("Owner"))]


def filter_row_of(entity: EntityDef, condition: Condition, uid: str, users: list) -> FilterRow:
    ops = operators_for(entity, condition.field)
    op = condition.op if condition.op in ops else ops[0]
    condition = Condition(condition.field, op, condition.value)
    spec = value_input(entity, condition.field, op, users)
    values = split_values(condition.value)
    title = None
    if spec.kind == "lookup" and values and values[0].isdigit():
        title = query().titles(spec.target, [int(values[0])]).get(int(values[0]))
    return FilterRow(uid, condition, [(name, operator_label(name)) for name in ops], spec, values, title)


def column_choices(entity: EntityDef) -> list[tuple[str, list[tuple[str, str]]]]:
    """The column chooser's groups: the entity's own columns, then each lookup target's fields."""
    lang = locale()
    hidden = hidden_names(entity)
    own = [("owner_id", _("Owner")), ("created_at", _("Created")), ("updated_at", _("Updated"))] + [
        (f.name, label_text(f.label, lang)) for f in entity.fields if f.name not in hidden]
    groups = [(label_text(entity.label, lang), own)]
    for f in entity.fields:
        target = field_type(f.type).target_entity(f)
        if target is None or f.name in hidden or target not in registry().entities:
            continue
        hop = registry().entity(target)
        hop_hidden = hidden_names(hop)
        groups.append((label_text(f.label, lang), [
            (f"{f.name}.{t.name}", f"{label_text(f.label, lang)} › {label_text(t.label, lang)}")
            for t in hop.fields if t.type != "file" and t.name not in hop_hidden]))
    return groups


def stage_view(entity: EntityDef):
    return next((v for v in entity.list_views if v.stage_field), None)


def calendar_field(entity: EntityDef) -> str | None:
    """The entity's first date or datetime field named in a list view (else in its fields)."""
    names = [c for v in entity.list_views for c in v.columns] + [f.name for f in entity.fields]
    for name in names:
        if entity.has_field(name) and entity.field(name).type in ("date", "datetime"):
            return name
    return None


@records_bp.route("/")
def home():
    for app in registry().apps.values():
        for group in app.navigation:
            for item in group.items:
                if item.entity in registry().entities:
                    return redirect(url_for("records.list_records", entity=item.entity))
    if registry().entities:
        return redirect(url_for("records.list_records", entity=next(iter(registry().entities))))
    return render_template("records/empty.html")


@records_bp.route("/app/<entity>")
def list_records(entity: str):
    definition = registry().entity(entity)
    state = current_state(definition)
    result = fetch_list(definition, state, limit=page_size())
    template = "records/list.html"
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == "list-page":
        template = "records/_list_page.html"
    # A refused formula is the asker's mistake: the page shows why, with a status that says so.
    # (A bad value in the filter builder keeps answering 200 with its message, as it always has.)
    status = 422 if result.formula_error else 200
    return render_template(template, result=result, page_size=page_size(), **list_context(definition, state)), status


def page_size() -> int:
    from flask import current_app

    return current_app.config["LIST_PAGE_SIZE"]


def list_context(entity: EntityDef, state: ListState) -> dict:
    lang = locale()
    engine = runtime().engine
    users = _users()
    current_view = find_view(entity, state.view) if state.view and not state.view.isdigit() else None
    fields = settable_fields(entity)
    first = fields[0].name if fields else None
    return {
        "entity": entity,
        "state": state,
        "entity_label": label_text(entity.plural_label, lang),
        "views": entity.list_views,
        "saved_views": saved_views(engine, entity.name, current_user.profile.id),
        "current_view": current_view,
        "filter_fields": filter_field_choices(entity),
        "filter_rows": [filter_row_of(entity, c, str(n), users) for n, c in enumerate(state.filters, 1)],
        "sentences": filter_sentences(entity, state),
        "column_groups": column_choices(entity),
        "users": users,
        "settable_fields": fields,
        "bulk_input": value_input(entity, first, "eq", users) if first else None,
        "has_kanban": stage_view(entity) is not None,
        "can_export": actor().has_right("export"),
        "has_calendar": calendar_field(entity) is not None,
        "sortable": {c: sortable(entity, c) for c in state.columns},
        "system_columns": SYSTEM_LIST_COLUMNS,
    }


def _users() -> list:
    if "fw_users" not in g:
        with runtime().engine.connect() as conn:
            g.fw_users = active_users(conn)
    return g.fw_users


def settable_fields(entity: EntityDef) -> list[FieldDef]:
    """The fields bulk "set a field" offers: stored, not generated, not files, not locked for the user."""
    locked = locked_names(entity) | hidden_names(entity)
    return [f for f in entity.fields if field_type(f.type).stored and not field_type(f.type).generated
            and f.type not in ("file", "textarea") and not f.read_only and f.name not in locked]


@records_bp.route("/app/<entity>/filter-row")
def filter_row(entity: str):
    """One row of the filter builder (htmx): field, operators of its type, and a value input fitting it."""
    definition = registry().entity(entity)
    choices = filter_field_choices(definition)
    name = request.args.get("f") or choices[0][0]
    if name not in {n for n, _label in choices}:
        abort(400)
    values = request.args.getlist("v")
    condition = Condition(name, request.args.get("op", "eq"), decode_value(request.args.get("op", "eq"),
                                                                           values[0] if values else ""))
    row = filter_row_of(definition, condition, uuid.uuid4().hex[:8], _users())
    if "f" in request.args and request.args.get("op") and row.spec.kind == "select":
        row = replace(row, values=[v for v in row.values if v in {c for c, _t in row.spec.choices}])
    return render_template("records/_filter_row.html", row=row, filter_fields=choices)


@records_bp.route("/app/<entity>/bulk-value")
def bulk_value(entity: str):
    """The bulk "set a field" value input fitting the chosen field (htmx)."""
    definition = registry().entity(entity)
    name = request.args.get("field", "")
    if name not in {f.name for f in settable_fields(definition)}:
        abort(400)
    return render_template("records/_bulk_value.html", spec=value_input(definition, name, "eq", _users()))


@records_bp.route("/app/<entity>/views", methods=["POST"])
def save_list_view(entity: str):
    definition = registry().entity(entity)
    name = request.form.get("name", "").strip()[:200]
    if not name:
        flash(_("Give the view a name."), "warning")
        return redirect(request.referrer or url_for("records.list_records", entity=entity))
    args = request.form.to_dict(flat=False)
    args.pop("csrf_token", None)
    args.pop("name", None)
    shared = bool(args.pop("shared", None)) and current_user.is_admin
    from werkzeug.datastructures import MultiDict

    multi = MultiDict([(k, v) for k, values in args.items() for v in values])
    state = parse_state(multi, definition, None)
    try:
        view_id = save_view(runtime().engine, entity, name, current_user.profile.id, state.saved_state(),
                            shared=shared)
    except ValidationError as exc:
        flash("; ".join(e.message for e in exc.errors), "warning")
        return redirect(url_for("records.list_records", entity=entity))
    flash(_("View “%(name)s” saved.", name=name), "success")
    return redirect(url_for("records.list_records", entity=entity, view=view_id))


@records_bp.route("/app/<entity>/views/<int:view_id>/delete", methods=["POST"])
def delete_list_view(entity: str, view_id: int):
    registry().entity(entity)
    if not delete_view(runtime().engine, view_id, current_user.profile.id):
        abort(404)
    flash(_("View deleted."), "success")
    return redirect(url_for("records.list_records", entity=entity))


@records_bp.route("/app/<entity>/lookup")
def lookup(entity: str):
    """Type-ahead for lookup inputs: up to 10 titles of readable records matching `q`."""
    definition = registry().entity(entity)
    text = request.args.get("q", "").strip()
    page = query().list(entity, search=text or None, limit=10)
    return jsonify([{"id": r["id"], "title": record_title(definition, r)} for r in page.rows])


@records_bp.route("/search")
def search():
    """Global search: the first records of every entity whose text fields contain `q`."""
    text = request.args.get("q", "").strip()
    groups = []
    if text:
        lang = locale()
        for definition in registry().entities.values():
            page = query().list(definition.name, search=text, limit=5, with_total=True)
            if page.rows:
                groups.append({"entity": definition, "label": label_text(definition.plural_label, lang),
                               "total": page.total,
                               "rows": [(r["id"], record_title(definition, r)) for r in page.rows]})
    return render_template("records/search.html", q=text, groups=groups)
