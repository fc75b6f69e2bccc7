"""Create and edit pages: the runtime form, the engine's errors beside fields, and stale-save merging.

A stale save (ConflictError) shows who changed what, both values per field, keeps what the user
typed, and saves against the new version once they choose per field.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import ConflictError, ValidationError
from engine.views import active_users, user_names
from metamodel.fieldtypes import FieldValueError, field_type
from metamodel.model import EntityDef, FieldDef, label_text
from ui.context import locale, query, records, registry, runtime
from ui.records import records_bp
from ui.records.detail import file_store
from ui.records.display import References, cell, record_title
from ui.records.forms import (
    attach_errors,
    form_class,
    form_data,
    form_sections,
    input_value,
    is_editable,
    submitted_values,
)


@dataclass(frozen=True)
class ConflictField:
    name: str
    label: str
    theirs: str
    yours: str


@dataclass(frozen=True)
class Conflict:
    changed_by: str
    changed_at: Any
    fields: list[ConflictField]


def _users():
    with runtime().engine.connect() as conn:
        return active_users(conn)


def _build_form(entity: EntityDef, data: dict[str, Any] | None = None):
    cls = form_class(entity, locale(), _users())
    return cls(data=data) if data is not None else cls()


def _lookup_titles(entity: EntityDef, form) -> dict[str, str]:
    titles = {}
    for name, input_field in form._fields.items():
        if not entity.has_field(name):
            continue
        f = entity.field(name)
        target = field_type(f.type).target_entity(f)
        value = str(input_field.data or "").strip()
        if target and value.isdigit():
            titles[name] = query().titles(target, [int(value)]).get(int(value), f"#{value}")
    return titles


def _render(entity: EntityDef, form, *, record: dict | None, errors: list[str], status: int = 200,
            conflict: Conflict | None = None):
    lang = locale()
    fixed = {}
    if record is not None:
        refs = References(query(), runtime().engine.connect).load(entity, [record], [f.name for f in entity.fields])
        fixed = {f.name: cell(entity, f.name, record, refs, lang) for f in entity.fields if not is_editable(f)}
    return render_template(
        "records/form.html", entity=entity, form=form, record=record, errors=errors, conflict=conflict,
        sections=form_sections(entity, lang), fixed=fixed, lookup_titles=_lookup_titles(entity, form),
        entity_label=label_text(entity.label, lang), plural_label=label_text(entity.plural_label, lang),
        title=record_title(entity, record) if record else None,
        widgets={f.name: _widget(f) for f in entity.fields},
        currencies={f.name: field_type(f.type).currency(f) for f in entity.fields if f.type == "currency"},
    ), status


def _widget(f: FieldDef) -> str:
    kind = field_type(f.type)
    # A percent is a number input with a % suffix; the type's widget name does not tell them apart.
    return "percent" if kind.formula_type == "percent" else kind.widget


@records_bp.route("/app/<entity>/new", methods=["GET", "POST"])
def new(entity: str):
    definition = registry().entity(entity)
    if request.method == "GET":
        prefill = {k: v for k, v in request.args.items() if definition.has_field(k)}
        return _render(definition, _build_form(definition, prefill), record=None, errors=[])
    form = _build_form(definition)
    form.validate_on_submit()
    try:
        created = records().create(entity, submitted_values(definition, form, file_store(), set()))
    except ValidationError as exc:
        errors = attach_errors(form, definition, exc.by_field(), locale())
        return _render(definition, form, record=None, errors=errors, status=422)
    flash(_("%(label)s created.", label=label_text(definition.label, locale())), "success")
    return redirect(url_for("records.show", entity=entity, record_id=created["id"]))


@records_bp.route("/app/<entity>/<int:record_id>/edit", methods=["GET", "POST"])
def edit(entity: str, record_id: int):
    definition = registry().entity(entity)
    record = query().get(entity, record_id)
    if request.method == "GET":
        return _render(definition, _build_form(definition, form_data(definition, record)), record=record, errors=[])
    form = _build_form(definition)
    form.validate_on_submit()
    removed = {name for name in form._fields if request.form.get(f"{name}__remove")}
    values = submitted_values(definition, form, file_store(), removed)
    values.update(_theirs_where_chosen(definition, record, values))
    version = int(form.version.data) if str(form.version.data or "").isdigit() else record["version"]
    try:
        records().update(entity, record_id, values, expected_version=version)
    except ValidationError as exc:
        errors = attach_errors(form, definition, exc.by_field(), locale())
        return _render(definition, form, record=record, errors=errors, status=422)
    except ConflictError as exc:
        form.version.data = exc.current["version"]
        return _render(definition, form, record=exc.current, errors=[], status=409,
                       conflict=_conflict(definition, exc, values))
    flash(_("Saved."), "success")
    return redirect(url_for("records.show", entity=entity, record_id=record_id))


def _theirs_where_chosen(entity: EntityDef, current: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """For each field where the user chose the other person's value, that (current) value."""
    chosen = {}
    for name in values:
        if request.form.get(f"merge_{name}") == "theirs" and entity.has_field(name):
            chosen[name] = input_value(entity.field(name), current.get(name))
    return chosen


def _conflict(entity: EntityDef, exc: ConflictError, typed: dict[str, Any]) -> Conflict:
    lang = locale()
    with runtime().engine.connect() as conn:
        who = user_names(conn, [exc.changed_by]).get(exc.changed_by, _("someone"))
    refs = References(query(), runtime().engine.connect).load(entity, [exc.current], exc.changed_fields)
    fields = []
    for name in exc.changed_fields:
        if not entity.has_field(name) or name not in typed:
            continue
        f = entity.field(name)
        theirs = cell(entity, name, exc.current, refs, lang)
        fields.append(ConflictField(name, label_text(f.label, lang), theirs.text, _typed_text(f, typed[name], lang)))
    return Conflict(who, exc.changed_at, fields)


def _typed_text(f: FieldDef, raw: Any, lang: str) -> str:
    kind = field_type(f.type)
    try:
        value = kind.coerce(f, raw)
    except FieldValueError:
        return str(raw)
    if value is None:
        return ""
    if kind.target_entity(f):
        return query().titles(kind.target_entity(f), [value]).get(value, f"#{value}")
    return kind.display(f, value, lang)
