"""Create and edit forms built at runtime from layout metadata, one WTForms field per widget.

The engine validates: its errors are put beside their fields, and the record's version rides along.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.datastructures import FileStorage
from wtforms import (
    BooleanField,
    Form,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.widgets import CheckboxInput, ListWidget

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:   # WTForms < 3.3 takes (value, label) pairs
    def SelectChoice(value: str, label: str) -> tuple[str, str]:  # noqa: N802
        return value, label

from engine.data.files import FileStore, content_mismatch
from engine.data.views import UserProfile
from metamodel.fieldtypes import FieldValueError, field_type
from metamodel.model import EntityDef, FieldDef, label_text
from ui.records.localtime import from_local_input, local_input
from ui.records.visibility import form_layout

# The engine's most common field messages, listed so that extraction puts them in the catalogue;
# `attach_errors` translates whatever the engine says, falling back to its English.
ENGINE_MESSAGES = (_l("is required"), _l("is read-only"), _l("must be a number"), _l("must be a whole number"),
                   _l("needs a value to compare with"), _l("between needs two values"))

EDITABLE_WIDGETS = ("text", "email", "phone", "url", "textarea", "number", "checkbox", "date", "datetime",
                    "select", "multiselect", "lookup", "user", "file")


class MultiCheckboxField(SelectMultipleField):
    """A multi-picklist as a group of checkboxes: every value visible, one click each."""
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


@dataclass(frozen=True)
class FormSection:
    name: str
    label: str
    columns: int
    collapsed: bool
    fields: tuple[FieldDef, ...]


def form_sections(entity: EntityDef, locale: str, hidden: frozenset[str] = frozenset()) -> list[FormSection]:
    """The layout's sections with their fields, leaving out the fields in `hidden` (the role's)."""
    sections = []
    for section in form_layout(entity).sections:
        fields = tuple(entity.field(lf.field) for lf in section.fields
                       if entity.has_field(lf.field) and lf.field not in hidden)
        sections.append(FormSection(section.name, label_text(section.label, locale) if section.label else "",
                                    section.columns, section.collapsed, fields))
    return sections


def is_editable(f: FieldDef) -> bool:
    return field_type(f.type).widget in EDITABLE_WIDGETS and not f.read_only


def _input_field(f: FieldDef, locale: str, users: list[UserProfile]):
    kind = field_type(f.type)
    label = label_text(f.label, locale) or f.name
    description = label_text(f.help, locale) if f.help else ""
    widget = kind.widget
    if widget == "textarea":
        return TextAreaField(label, description=description)
    if widget == "checkbox":
        return BooleanField(label, description=description)
    if widget == "select":
        choices = [SelectChoice("", "—")] + [SelectChoice(c["value"], label_text(_as_label(c["label"]), locale))
                                             for c in kind.choices(f)]
        return SelectField(label, choices=choices, validate_choice=False, description=description)
    if widget == "multiselect":
        choices = [SelectChoice(c["value"], label_text(_as_label(c["label"]), locale)) for c in kind.choices(f)]
        return MultiCheckboxField(label, choices=choices, validate_choice=False, description=description)
    if widget == "user":
        choices = [SelectChoice("", "—")] + [SelectChoice(str(u.id), u.display_name) for u in users]
        return SelectField(label, choices=choices, validate_choice=False, description=description)
    if widget == "file":
        return FileField(label, description=description)
    return StringField(label, description=description)


def _as_label(label: Any) -> Mapping[str, str]:
    return label if isinstance(label, Mapping) else {"en": str(label)}


def form_class(entity: EntityDef, locale: str, users: list[UserProfile],
               locked: frozenset[str] = frozenset()) -> type[FlaskForm]:
    """Returns a FlaskForm subclass with one field per editable field of the entity's layout;
    fields in `locked` (hidden or read-only for the user's roles) get no input."""
    attributes: dict[str, Any] = {"version": HiddenField()}
    for section in form_layout(entity).sections:
        for lf in section.fields:
            if entity.has_field(lf.field) and is_editable(entity.field(lf.field)) and lf.field not in locked:
                attributes[lf.field] = _input_field(entity.field(lf.field), locale, users)
    return type(f"{entity.name.title()}Form", (FlaskForm,), attributes)


def fields_form_class(entity: EntityDef, names: list[str], locale: str, users: list[UserProfile],
                      locked: frozenset[str] = frozenset()) -> type[Form]:
    """Returns a plain (CSRF-less) form with an input for each of `names` that the user may set: a
    part of a larger form, such as one record of the conversion page."""
    attributes = {name: _input_field(entity.field(name), locale, users) for name in names
                  if entity.has_field(name) and is_editable(entity.field(name)) and name not in locked}
    return type(f"{entity.name.title()}PartForm", (Form,), attributes)


def form_data(entity: EntityDef, record: Mapping[str, Any]) -> dict[str, Any]:
    """Returns a record's values in the shape the form's inputs hold them."""
    data: dict[str, Any] = {"version": record.get("version")}
    for f in entity.fields:
        if f.name in record and is_editable(f) and f.type != "file":
            data[f.name] = input_value(f, record[f.name])
    return data


def input_value(f: FieldDef, value: Any) -> Any:
    if value is None:
        return [] if f.type == "multipicklist" else ("" if f.type != "boolean" else False)
    if isinstance(value, dt.datetime):
        return local_input(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)):
        return list(value)
    return str(value)


def prefill_errors(entity: EntityDef, prefill: Mapping[str, Any]) -> dict[str | None, list[str]]:
    """What is wrong with a new record's values given in the query string (`?account=42`), by field."""
    errors: dict[str | None, list[str]] = {}
    for name, raw in prefill.items():
        if not entity.has_field(name) or not is_editable(entity.field(name)):
            continue
        f = entity.field(name)
        try:
            field_type(f.type).coerce(f, raw)
        except FieldValueError as exc:
            errors[name] = [exc.message]
    return errors


def default_data(entity: EntityDef) -> dict[str, Any]:
    """A new record's form values: each field's literal default, as its input holds it."""
    return {f.name: input_value(f, f.default) for f in entity.fields if f.default is not None and is_editable(f)}


@dataclass(frozen=True)
class SubmittedValues:
    """What a posted form sends to the engine, and the uploads refused before it got there."""
    values: dict[str, Any]
    refused: dict[str, list[str]]     # field name -> why its upload was refused (its file is gone)


def submitted_values(entity: EntityDef, form: FlaskForm, files: FileStore, removed: set[str],
                     kept: Mapping[str, str]) -> SubmittedValues:
    """Returns the values the form sends to the engine: uploads staged first, under the type their
    content shows (one that does not agree with its name is refused and removed), or the ones kept
    from a refused save by their signed token; untouched files left alone; datetimes read in the
    user's time zone."""
    values: dict[str, Any] = {}
    refused: dict[str, list[str]] = {}
    for name, input_field in form._fields.items():
        if name in ("version", "csrf_token") or not entity.has_field(name):
            continue
        f = entity.field(name)
        if f.type != "file":
            values[name] = from_local_input(input_field.data) if f.type == "datetime" else input_field.data
            continue
        upload = input_field.data
        kept_value = kept_file(kept.get(name, ""))
        if isinstance(upload, FileStorage) and upload.filename:
            staged = files.stage(upload.stream, upload.filename)
            problem = content_mismatch(staged.value["name"], staged.content)
            if problem:
                files.discard(staged.value["key"])
                refused[name] = [problem]
            else:
                values[name] = staged.value
        elif name in removed:
            values[name] = None
        elif kept_value and files.is_available(kept_value["key"]):
            values[name] = kept_value
    return SubmittedValues(values, refused)


def _kept_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="formwork-kept-file")


def kept_file_token(value: Mapping[str, Any]) -> str:
    """A signed token naming an uploaded file, so a refused save can keep it without re-upload."""
    return _kept_serializer().dumps(dict(value))


def kept_file(token: str) -> dict[str, Any] | None:
    """The stored file a token names; None when the token is missing or was not signed by us."""
    if not token:
        return None
    try:
        value = _kept_serializer().loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, dict) and str(value.get("key", "")).isalnum() else None


def attach_errors(form: FlaskForm, entity: EntityDef, by_field: Mapping[str | None, list[str]],
                  locale: str) -> list[str]:
    """Puts each engine error beside its field; returns the form-level messages."""
    general: list[str] = []
    for name, messages in by_field.items():
        translated = [_(m) for m in messages]
        if name and name in form._fields:
            form._fields[name].errors = list(translated)
        elif name and entity.has_field(name):
            label = label_text(entity.field(name).label, locale)
            general.extend(f"{label}: {m}" for m in translated)
        else:
            general.extend(translated)
    return general
