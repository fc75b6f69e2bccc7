"""List pages: columns, sort, filter builder, saved views, keyset pages, bulk actions, search, lookups.

`fetch_list` is the one read behind the list page and its exports, so both show the same rows.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from engine.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from engine.query import OPERATORS, Page, describe_condition
from engine.views import active_users, delete_view, save_view, saved_view, saved_views
from metamodel.fieldtypes import field_type
from metamodel.model import Condition, EntityDef, label_text
from ui.context import locale, query, records, registry, runtime
from ui.records import records_bp
from ui.records.display import Cell, Column, References, cell, columns_of, record_title
from ui.records.listing import (
    SYSTEM_LIST_COLUMNS,
    ListState,
    filterable_fields,
    find_view,
    parse_state,
    sortable,
)

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
    return parse_state(args, entity, saved)


def fetch_list(entity: EntityDef, state: ListState, *, limit: int, with_total: bool = True) -> ListResult:
    """Returns one page of the list the state describes; a bad filter becomes a message, not a 500."""
    lang = locale()
    columns = columns_of(entity, state.columns, lang)
    errors: list[str] = []
    try:
        page = query().list(entity.name, filters=state.all_of, any_of=state.any_of, search=state.q or None,
                            sort=[k for k in state.sort if sortable(entity, k.field)], cursor=state.cursor,
                            limit=limit, with_total=with_total)
    except ValidationError as exc:
        errors = [f"{_field_label(entity, name)}: {', '.join(messages)}" if name else ", ".join(messages)
                  for name, messages in exc.by_field().items()]
        page = Page([], None, 0)
    refs = References(query(), runtime().engine.connect).load(entity, page.rows, state.columns)
    rows = [Row(r["id"], record_title(entity, r), [cell(entity, c.name, r, refs, lang) for c in columns])
            for r in page.rows]
    return ListResult(entity, state, columns, page, rows, errors)


def _field_label(entity: EntityDef, name: str) -> str:
    return label_text(entity.field(name).label, locale()) if entity.has_field(name) else name


def filter_sentences(entity: EntityDef, state: ListState) -> list[str]:
    sentences = []
    for condition in state.filters:
        try:
            sentences.append(describe_condition(entity, condition, locale()))
        except (KeyError, ValueError, TypeError):
            sentences.append(f"{condition.field} {condition.op} {condition.value}")
    return sentences


def filter_choices(entity: EntityDef) -> dict[str, list[tuple[str, str]]]:
    """Field -> (value, label) suggestions for the filter builder's value input (choice fields)."""
    lang = locale()
    found = {}
    for f in filterable_fields(entity):
        kind = field_type(f.type)
        if hasattr(kind, "choices"):
            found[f.name] = [(c["value"], kind.label_of(f, c["value"], lang)) for c in kind.choices(f)]
        elif kind.widget == "checkbox":
            found[f.name] = [("true", kind.display(f, True, lang)), ("false", kind.display(f, False, lang))]
    return found


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
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == "list-page":
        return render_template("records/_list_page.html", result=result, **list_context(definition, state))
    return render_template("records/list.html", result=result, **list_context(definition, state))


def page_size() -> int:
    from flask import current_app

    return current_app.config["LIST_PAGE_SIZE"]


def list_context(entity: EntityDef, state: ListState) -> dict:
    lang = locale()
    engine = runtime().engine
    with engine.connect() as conn:
        users = active_users(conn)
    current_view = find_view(entity, state.view) if state.view and not state.view.isdigit() else None
    return {
        "entity": entity,
        "state": state,
        "entity_label": label_text(entity.plural_label, lang),
        "views": entity.list_views,
        "saved_views": saved_views(engine, entity.name, current_user.profile.id),
        "current_view": current_view,
        "filter_fields": filterable_fields(entity),
        "filter_choices": filter_choices(entity),
        "operators": [(name, operator_label(name)) for name in OPERATORS],
        "sentences": filter_sentences(entity, state),
        "all_columns": [("owner_id", _("Owner")), ("created_at", _("Created")), ("updated_at", _("Updated"))]
        + [(f.name, label_text(f.label, lang)) for f in entity.fields],
        "users": users,
        "settable_fields": [f for f in filterable_fields(entity) if field_type(f.type).widget
                            in ("select", "checkbox", "text", "date", "number", "user")
                            and not field_type(f.type).generated],
        "has_kanban": stage_view(entity) is not None,
        "has_calendar": calendar_field(entity) is not None,
        "sortable": {c: sortable(entity, c) for c in state.columns},
        "system_columns": SYSTEM_LIST_COLUMNS,
    }


@records_bp.route("/app/<entity>/filter-row")
def filter_row(entity: str):
    """One row of the filter builder (htmx): field, operator and a value input fitting the field."""
    definition = registry().entity(entity)
    name = request.args.get("f") or filterable_fields(definition)[0].name
    condition = Condition(name, request.args.get("op", "eq"), request.args.get("v", ""))
    return render_template("records/_filter_row.html", entity=definition, condition=condition,
                           uid=uuid.uuid4().hex[:8], choices=filter_choices(definition),
                           filter_fields=filterable_fields(definition),
                           operators=[(n, operator_label(n)) for n in OPERATORS])


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
    view_id = save_view(runtime().engine, entity, name, current_user.profile.id, state.saved_state(),
                        shared=shared)
    flash(_("View “%(name)s” saved.", name=name), "success")
    return redirect(url_for("records.list_records", entity=entity, view=view_id))


@records_bp.route("/app/<entity>/views/<int:view_id>/delete", methods=["POST"])
def delete_list_view(entity: str, view_id: int):
    registry().entity(entity)
    if not delete_view(runtime().engine, view_id, current_user.profile.id):
        abort(404)
    flash(_("View deleted."), "success")
    return redirect(url_for("records.list_records", entity=entity))


@records_bp.route("/app/<entity>/bulk", methods=["POST"])
def bulk(entity: str):
    """Applies one action to the selected rows: assign owner, set a field, delete."""
    definition = registry().entity(entity)
    ids = [int(i) for i in request.form.getlist("ids") if i.isdigit()]
    action = request.form.get("action", "")
    back = request.form.get("back") or url_for("records.list_records", entity=entity)
    if not ids:
        flash(_("Select at least one row first."), "warning")
        return redirect(_local(back, entity))
    if action in ("export_csv", "export_xlsx"):
        from ui.records.exports import export_selected

        return export_selected(definition, ids, action.removeprefix("export_"))
    if action == "assign":
        values = {"owner_id": request.form.get("owner_id") or None}
    elif action == "set":
        name = request.form.get("field", "")
        if not definition.has_field(name):
            abort(400)
        values = {name: request.form.get("value", "")}
    elif action != "delete":
        abort(400)
    done, problems = 0, []
    service = records()
    for record_id in ids:
        try:
            if action == "delete":
                service.delete(entity, record_id)
            else:
                service.update(entity, record_id, values)
            done += 1
        except (ValidationError, ConflictError, PermissionDenied, NotFound) as exc:
            problems.append(f"#{record_id}: {exc}")
    flash(_("%(done)d of %(total)d records changed.", done=done, total=len(ids)),
          "success" if not problems else "warning")
    for problem in problems[:5]:
        flash(problem, "danger")
    return redirect(_local(back, entity))


def _local(target: str, entity: str) -> str:
    from ui.auth import safe_next

    return safe_next(target) if target.startswith("/") else url_for("records.list_records", entity=entity)


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
