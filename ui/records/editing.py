"""Create and edit pages: the runtime form, the engine's errors beside fields, and stale-save merging.

The form posts every field with the version it was loaded at; the engine (RecordService.update)
merges a stale save: the user's changes are written and the fields they left alone keep whatever
a colleague saved meanwhile. Only fields both changed to different values come back as a
ConflictError; the page then shows who changed the record, those fields with both values and no
choice made, the colleague's other changes already in the form, and what the user typed. Saving
again (against the new version) requires a choice per field: a missing one is refused beside it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.data.layouts import LayoutState
from engine.data.views import active_users, user_names
from engine.errors import ConflictError, ValidationError
from engine.security.scopes import check_write
from metamodel.fieldtypes import FieldValueError, field_type
from metamodel.model import EntityDef, FieldDef, label_text
from ui.context import actor, locale, query, records, registry, runtime
from ui.records import records_bp
from ui.records.display import References, cell, record_title
from ui.records.files import file_store
from ui.records.forms import (
    attach_errors,
    default_data,
    form_class,
    form_data,
    form_sections,
    input_value,
    kept_file,
    kept_file_token,
    prefill_errors,
    submitted_values,
)
from ui.records.localtime import from_local_input
from ui.records.visibility import (
    conditionally_missing,
    hidden_names,
    locked_names,
    record_layout,
    typed_values,
)


@dataclass(frozen=True)
class ConflictField:
    """A field both people changed: their value and the user's as shown, and the user's choice
    ("theirs" or "mine") once made; None until then, since nothing is chosen for them."""
    name: str
    label: str
    theirs: str
    yours: str
    chosen: str | None = None


@dataclass(frozen=True)
class Conflict:
    changed_by: str
    changed_at: Any
    fields: list[ConflictField]


@dataclass
class Submission:
    """What a posted form asks for: the values to save, the layout state they give, the fields a
    required_if leaves blank, the uploads refused for their content, and the files to keep should
    the save be refused."""
    values: dict[str, Any]
    layout: LayoutState
    missing: list[str]
    refused: dict[str, list[str]]
    kept: dict[str, str]

    def is_incomplete(self) -> bool:
        """Whether the form must come back before the engine is asked to save it."""
        return bool(self.missing or self.refused)


def _users():
    with runtime().engine.connect() as conn:
        return active_users(conn)


def _build_form(entity: EntityDef, data: dict[str, Any] | None = None):
    cls = form_class(entity, locale(), _users(), locked_names(entity))
    return cls(data=data) if data is not None else cls()


def _lookup_titles(entity: EntityDef, form) -> dict[str, str]:
    titles = {}
    for name, input_field in form._fields.items():
        if not entity.has_field(name):
            continue
        f = entity.field(name)
        target = field_type(f.type).target_entity(f)
        record_id = _record_id(f, input_field.data) if target else None
        if record_id is not None:
            titles[name] = query().titles(target, [record_id]).get(
                record_id, _("Record #%(id)s (not visible to you)", id=record_id))
    return titles


def _record_id(f: FieldDef, raw: Any) -> int | None:
    """The id a lookup input holds, or None when blank or not an id its type accepts."""
    try:
        return field_type(f.type).coerce(f, str(raw or ""))
    except FieldValueError:
        return None


def _render(entity: EntityDef, form, *, record: dict | None, errors: list[str], layout: LayoutState,
            status: int = 200, conflict: Conflict | None = None, kept: dict[str, str] | None = None):
    lang = locale()
    fixed = {}
    if record is not None:
        refs = References(query(), runtime().engine.connect).load(entity, [record], [f.name for f in entity.fields])
        fixed = {f.name: cell(entity, f.name, record, refs, lang) for f in entity.fields if f.name not in form}
    kept = kept or {}
    return render_template(
        "records/form.html", entity=entity, form=form, record=record, errors=errors, conflict=conflict,
        back=_back(),
        sections=form_sections(entity, lang, hidden_names(entity)), fixed=fixed,
        lookup_titles=_lookup_titles(entity, form), layout=layout, kept=kept,
        kept_names={name: kept_file(token)["name"] for name, token in kept.items() if kept_file(token)},
        layout_url=url_for("records.live_layout", entity=entity.name, record_id=record["id"] if record else None),
        entity_label=label_text(entity.label, lang), plural_label=label_text(entity.plural_label, lang),
        title=record_title(entity, record) if record else None,
        widgets={f.name: _widget(f) for f in entity.fields},
        currencies={f.name: field_type(f.type).currency(f) for f in entity.fields if f.type == "currency"},
    ), status


def _back() -> str | None:
    """Where a new record's form returns to (the parent's related list it was started from)."""
    from ui.auth import safe_next

    wanted = request.values.get("back", "")
    return safe_next(wanted) if wanted else None


def _widget(f: FieldDef) -> str:
    kind = field_type(f.type)
    # A percent is a number input with a % suffix; the type's widget name does not tell them apart.
    return "percent" if kind.formula_type == "percent" else kind.widget


def _posted_input(entity: EntityDef, form, record: dict | None) -> dict[str, Any]:
    """The record as the posted form would leave it: stored values under what was posted.

    A field not posted (hidden by a condition, so disabled in the browser) keeps its stored value;
    a checkbox is never posted unchecked, so its input always counts.
    """
    posted = {name: field.data for name, field in form._fields.items()
              if entity.has_field(name) and entity.field(name).type != "file"
              and (name in request.form or entity.field(name).type == "boolean")}
    for name, value in list(posted.items()):
        if entity.field(name).type == "datetime":
            posted[name] = from_local_input(value)
    return {**(record or {}), **typed_values(entity, posted)}


def _submission(entity: EntityDef, form, record: dict | None) -> Submission:
    removed = {name for name in form._fields if request.form.get(f"{name}__remove")}
    kept_tokens = {name: request.form.get(f"{name}__kept", "") for name in form._fields}
    submitted = submitted_values(entity, form, file_store(), removed, kept_tokens)
    values = submitted.values
    layout = record_layout(entity, _posted_input(entity, form, record))
    values = {name: value for name, value in values.items() if name in layout.visible_fields}
    candidate = {**(record or {}), **typed_values(entity, values)}
    missing = conditionally_missing(entity, layout, candidate, form._fields)
    kept = {name: kept_file_token(value) for name, value in values.items()
            if entity.field(name).type == "file" and isinstance(value, dict)}
    return Submission(values, layout, missing, submitted.refused, kept)


def _refuse_incomplete(form, submission: Submission) -> None:
    for name in submission.missing:
        form._fields[name].errors = [_("is required")]
    for name, messages in submission.refused.items():
        form._fields[name].errors = list(messages)


def _commit_files(entity: EntityDef, values: dict[str, Any]) -> None:
    """Moves the saved record's new uploads from staging into the store."""
    for name, value in values.items():
        if entity.field(name).type == "file" and isinstance(value, dict):
            file_store().commit(value["key"])


def _discard_refused_files(entity: EntityDef, submission: Submission, exc: ValidationError) -> dict[str, str]:
    """Removes the uploads of the fields the engine refused (too large, not an accepted type);
    returns the kept-file tokens of the others, which the user may still save."""
    refused = exc.by_field()
    for name, value in submission.values.items():
        if name in refused and entity.field(name).type == "file" and isinstance(value, dict):
            file_store().discard(value["key"])
    return {name: token for name, token in submission.kept.items() if name not in refused}


@records_bp.route("/app/<entity>/new", methods=["GET", "POST"])
def new(entity: str):
    definition = registry().entity(entity)
    # Refused before the form is filled in, not after: the user would lose what they typed.
    check_write(actor(), definition, "create")
    if request.method == "GET":
        data = default_data(definition)
        data.update({k: v for k, v in request.args.items() if definition.has_field(k)})
        form = _build_form(definition, data)
        refused = prefill_errors(definition, request.args)
        return _render(definition, form, record=None, errors=attach_errors(form, definition, refused, locale()),
                       layout=record_layout(definition, typed_values(definition, data)),
                       status=400 if refused else 200)
    form = _build_form(definition)
    form.validate_on_submit()
    submission = _submission(definition, form, None)
    if submission.is_incomplete():
        _refuse_incomplete(form, submission)
        return _render(definition, form, record=None, errors=[], layout=submission.layout, status=422,
                       kept=submission.kept)
    try:
        created = records().create(entity, submission.values)
    except ValidationError as exc:
        kept = _discard_refused_files(definition, submission, exc)
        errors = attach_errors(form, definition, exc.by_field(), locale())
        return _render(definition, form, record=None, errors=errors, layout=submission.layout, status=422,
                       kept=kept)
    _commit_files(definition, submission.values)
    flash(_("%(label)s created.", label=label_text(definition.label, locale())), "success")
    if request.form.get("back"):
        from ui.auth import safe_next

        return redirect(safe_next(request.form["back"]))
    return redirect(url_for("records.show", entity=entity, record_id=created["id"]))


@records_bp.route("/app/<entity>/<int:record_id>/edit", methods=["GET", "POST"])
def edit(entity: str, record_id: int):
    definition = registry().entity(entity)
    record = query().get(entity, record_id)
    if request.method == "GET" and definition.conversion and definition.conversion.is_converted(record):
        flash(_("This record was converted and can no longer be edited."), "warning")
        return redirect(url_for("records.show", entity=entity, record_id=record_id))
    if request.method == "GET":
        return _render(definition, _build_form(definition, form_data(definition, record)), record=record,
                       errors=[], layout=record_layout(definition, record))
    form = _build_form(definition)
    form.validate_on_submit()
    submission = _submission(definition, form, record)
    if submission.is_incomplete():
        _refuse_incomplete(form, submission)
        return _render(definition, form, record=record, errors=[], layout=submission.layout, status=422,
                       kept=submission.kept)
    values = submission.values
    unchosen = _unchosen_merges(values)
    if unchosen:
        for name in unchosen:
            form._fields[name].errors = [_("Choose their value or yours.")]
        conflict = _conflict(definition, record, _merge_names(values), values, _choices(values),
                             record.get("updated_by"), record.get("updated_at"))
        return _render(definition, form, record=record, errors=[], layout=submission.layout, status=409,
                       conflict=conflict, kept=submission.kept)
    values.update(_theirs_where_chosen(definition, record, values))
    version = int(form.version.data) if str(form.version.data or "").isdigit() else record["version"]
    try:
        records().update(entity, record_id, values, expected_version=version)
    except ValidationError as exc:
        kept = _discard_refused_files(definition, submission, exc)
        errors = attach_errors(form, definition, exc.by_field(), locale())
        return _render(definition, form, record=record, errors=errors, layout=submission.layout, status=422,
                       kept=kept)
    except ConflictError as exc:
        form.version.data = exc.current["version"]
        _show_their_changes(definition, form, exc)
        conflict = _conflict(definition, exc.current, exc.conflicting_fields, values, {}, exc.changed_by,
                             exc.changed_at)
        return _render(definition, form, record=exc.current, errors=[], layout=submission.layout, status=409,
                       conflict=conflict, kept=submission.kept)
    _commit_files(definition, values)
    flash(_("Saved."), "success")
    return redirect(url_for("records.show", entity=entity, record_id=record_id))


@records_bp.route("/app/<entity>/layout-state", methods=["POST"])
@records_bp.route("/app/<entity>/<int:record_id>/layout-state", methods=["POST"])
def live_layout(entity: str, record_id: int | None = None):
    """Which sections and fields show and which are required for the form's current values (htmx).

    Answers with an empty body and an `fw-layout` event (HX-Trigger) that form.js applies; the
    conditions are evaluated here, never in the browser.
    """
    definition = registry().entity(entity)
    record = query().get(entity, record_id) if record_id else None
    form = _build_form(definition)
    layout = record_layout(definition, _posted_input(definition, form, record))
    payload = {"sections": sorted(layout.visible_sections), "fields": sorted(layout.visible_fields),
               "required": sorted(layout.required_fields)}
    response = make_response("", 200)
    response.headers["HX-Trigger"] = json.dumps({"fw-layout": payload})
    return response


def _merge_names(values: dict[str, Any]) -> list[str]:
    """The fields the conflict page asked the user to choose for (its hidden `merge` inputs)."""
    return [name for name in request.form.getlist("merge") if name in values]


def _choices(values: dict[str, Any]) -> dict[str, str]:
    """Field -> "theirs" or "mine", for each conflicting field the user chose a value for."""
    chosen = {name: request.form.get(f"merge_{name}", "") for name in _merge_names(values)}
    return {name: choice for name, choice in chosen.items() if choice in ("theirs", "mine")}


def _unchosen_merges(values: dict[str, Any]) -> list[str]:
    """The conflicting fields posted back without a choice of value."""
    chosen = _choices(values)
    return [name for name in _merge_names(values) if name not in chosen]


def _theirs_where_chosen(entity: EntityDef, current: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """For each field where the user chose the other person's value, that (current) value."""
    chosen = {}
    for name in values:
        if request.form.get(f"merge_{name}") == "theirs" and entity.has_field(name):
            chosen[name] = input_value(entity.field(name), current.get(name))
    return chosen


def _show_their_changes(entity: EntityDef, form, exc: ConflictError) -> None:
    """Puts the colleague's values into the inputs of the fields they changed and the user did not,
    so that saving the page again keeps them rather than the values the form was loaded with."""
    for name in exc.changed_fields:
        if name in exc.conflicting_fields or name not in form._fields or not entity.has_field(name):
            continue
        f = entity.field(name)
        if f.type != "file":
            form._fields[name].data = input_value(f, exc.current.get(name))


def _conflict(entity: EntityDef, current: dict[str, Any], names: list[str], typed: dict[str, Any],
              chosen: dict[str, str], changed_by: int | None, changed_at: Any) -> Conflict:
    """The conflict panel: who saved `current` and when, and for each of `names` both values and
    the choice the user already made (`chosen`; a new conflict has none)."""
    lang = locale()
    with runtime().engine.connect() as conn:
        who = user_names(conn, [changed_by]).get(changed_by, _("someone"))
    refs = References(query(), runtime().engine.connect).load(entity, [current], names)
    fields = []
    for name in names:
        if not entity.has_field(name) or name not in typed:
            continue
        f = entity.field(name)
        theirs = cell(entity, name, current, refs, lang)
        fields.append(ConflictField(name, label_text(f.label, lang), theirs.text, _typed_text(f, typed[name], lang),
                                    chosen.get(name)))
    return Conflict(who, changed_at, fields)


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
