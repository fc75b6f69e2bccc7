"""The conversion page of a lead, and what its record page shows about a conversion.

One form: the account (new and prefilled, or one of the likely matches, or any other), the contact,
and optionally an opportunity; one submit to `convert_lead`, whose refusals come back beside fields.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import Form

from engine.data.conversion import (
    ALREADY_CONVERTED,
    NO_CONVERSION,
    NOT_CONVERTIBLE,
    ConversionChoice,
    ConversionRefused,
    LikelyAccount,
    MatchReason,
    conversion_of,
    conversion_refusal,
    convert_lead,
    likely_accounts,
    mapped_values,
    may_create,
)
from engine.data.conversion_rules import CONVERT_TO_MARK, CONVERTED_READ_ONLY
from engine.data.views import active_users
from engine.errors import PermissionDenied, ValidationError
from metamodel.fieldtypes import FieldValueError, field_type
from metamodel.model import ConversionDef, EntityDef, label_text
from ui.context import locale, query, records, registry, runtime
from ui.records import records_bp
from ui.records.display import References, cell, record_title
from ui.records.forms import attach_errors, fields_form_class, input_value
from ui.records.localtime import from_local_input
from ui.records.visibility import locked_names

# The engine's refusals, listed so that extraction puts them in the catalogue.
REFUSALS = {ALREADY_CONVERTED: _l("This record was already converted."),
            NOT_CONVERTIBLE: _l("cannot be converted from this status"),
            NO_CONVERSION: _l("This kind of record has no conversion."),
            CONVERTED_READ_ONLY: _l("This record was converted and can no longer be edited."),
            CONVERT_TO_MARK: _l("is set to this value by converting the record; use Convert")}
NEW_ACCOUNT = "new"
OTHER_ACCOUNT = "other"


@dataclass(frozen=True)
class ConvertedLink:
    label: str       # "Converted account"
    title: str       # the record's title, or a note when the user may not read it
    href: str | None


@dataclass(frozen=True)
class ConversionPanel:
    """What a record page shows: the Convert button (when the user may convert), or what it became."""
    converted: bool
    at: datetime | None
    links: list[ConvertedLink]
    convert_href: str | None


@dataclass(frozen=True)
class PartForm:
    """One record of the conversion page: its heading, entity and form."""
    role: str
    label: str
    entity: EntityDef
    form: Form


@dataclass(frozen=True)
class Match:
    """A likely account as the page offers it: the account and why it matches, in words."""
    account: LikelyAccount
    reasons: list[str]


def conversion_panel(entity: EntityDef, record: dict[str, Any]) -> ConversionPanel | None:
    """The record page's conversion part; None for an entity without a conversion."""
    conversion = entity.conversion
    if conversion is None:
        return None
    if not conversion.is_converted(record):
        may = conversion_refusal(records(), entity, record) is None
        href = url_for("records.convert", entity=entity.name, record_id=record["id"]) if may else None
        return ConversionPanel(False, None, [], href)
    return ConversionPanel(True, record.get(conversion.converted_at), _converted_links(entity, conversion, record),
                           None)


def _converted_links(entity: EntityDef, conversion: ConversionDef, record: dict[str, Any]) -> list[ConvertedLink]:
    lang = locale()
    links = []
    for _role, part in conversion.parts:
        linked = record.get(part.link)
        if linked is None:
            continue
        title = query().titles(part.entity, [linked]).get(linked)
        links.append(ConvertedLink(
            label_text(entity.field(part.link).label, lang),
            title or _("Record #%(id)s (not visible to you)", id=linked),
            url_for("records.show", entity=part.entity, record_id=linked) if title else None))
    return links


# -- the page --------------------------------------------------------------------------------------
def _part_forms(entity: EntityDef, conversion: ConversionDef, prefill: dict[str, dict[str, Any]],
                posted: frozenset[str] = frozenset()) -> list[PartForm]:
    """The forms of the account, contact and opportunity: those in `posted` from the posted form,
    the others prefilled from the mapping."""
    lang = locale()
    with runtime().engine.connect() as conn:
        users = active_users(conn)
    found = []
    for role, part in conversion.parts:
        target = registry().entity(part.entity)
        cls = fields_form_class(target, list(part.form_fields), lang, users, locked_names(target))
        form = cls(request.form, prefix=role) if role in posted else cls(prefix=role, data=prefill[role])
        found.append(PartForm(role, label_text(target.label, lang), target, form))
    return found


def _prefill(entity: EntityDef, conversion: ConversionDef, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The mapped values of each part, as the inputs hold them."""
    now = runtime().clock()
    data = {}
    with runtime().engine.connect() as conn:
        for role, part in conversion.parts:
            target = registry().entity(part.entity)
            values = mapped_values(conn, registry(), entity, record, part, now)
            data[role] = {name: input_value(target.field(name), _typed(target, name, value))
                          for name, value in values.items()}
    return data


def _typed(target: EntityDef, name: str, value: Any) -> Any:
    """A mapped value in the type its input shows (a formula's date, a copied number)."""
    f = target.field(name)
    try:
        return field_type(f.type).coerce(f, value)
    except FieldValueError:
        return value


def _posted(part_form: PartForm) -> dict[str, Any]:
    """The values a part's inputs send to the engine; datetimes read in the user's time zone."""
    values = {}
    for name, input_field in part_form.form._fields.items():
        f = part_form.entity.field(name)
        values[name] = from_local_input(input_field.data) if f.type == "datetime" else input_field.data
    return values


def _matches(conversion: ConversionDef, account_values: dict[str, Any]) -> list[Match]:
    """The likely accounts of the new account `account_values` describe, each with its reasons in words."""
    return [Match(m, [_reason_text(r) for r in m.reasons])
            for m in likely_accounts(query(), conversion, account_values)]


def _reason_text(reason: MatchReason) -> str:
    if reason.kind == "phone":
        return _("Same phone: %(value)s", value=reason.value)
    if reason.kind == "email":
        return _("Same email: %(value)s", value=reason.value)
    if reason.kind == "email_domain":
        return _("Same email domain: %(value)s", value=reason.value.rpartition("@")[2])
    return _("Similar name: %(value)s", value=reason.value)


def _render(entity: EntityDef, record: dict[str, Any], parts: list[PartForm], matches: list[Match], *,
            account_choice: str, other_account: str, make_opportunity: bool, errors: list[str],
            part_errors: dict[str, list[str]], status: int = 200):
    conversion = entity.conversion
    lang = locale()
    opportunity = conversion.opportunity
    other_title = ""
    if other_account.isdigit():
        other_title = query().titles(conversion.account.entity, [int(other_account)]).get(int(other_account), "")
    refs = References(query(), runtime().engine.connect).load(entity, [record], [f.name for f in entity.fields])
    return render_template(
        "records/convert.html", entity=entity, record=record, title=record_title(entity, record),
        entity_label=label_text(entity.label, lang), plural_label=label_text(entity.plural_label, lang),
        parts={p.role: p for p in parts}, matches=matches, account_choice=account_choice,
        other_account=other_account, other_title=other_title, account_entity=conversion.account.entity,
        may_create_account=may_create(records(), conversion.account),
        may_create_opportunity=opportunity is not None and may_create(records(), opportunity),
        make_opportunity=make_opportunity, errors=errors, part_errors=part_errors,
        widgets={p.role: {name: _widget(p.entity, name) for name in p.form._fields} for p in parts},
        currencies={p.role: {name: field_type(p.entity.field(name).type).currency(p.entity.field(name))
                             for name in p.form._fields if p.entity.field(name).type == "currency"} for p in parts},
        summary=[(label_text(entity.field(n).label, lang), cell(entity, n, record, refs, lang))
                 for n in _summary_fields(entity)],
    ), status


def _summary_fields(entity: EntityDef) -> list[str]:
    wanted = [n for n in ("company", "phone", "email", "source") if entity.has_field(n)]
    return [entity.title, *wanted] if entity.title not in wanted else wanted


def _widget(target: EntityDef, name: str) -> str:
    kind = field_type(target.field(name).type)
    return "percent" if kind.formula_type == "percent" else kind.widget


def _refused(entity: EntityDef, record_id: int, refusal: str):
    message = REFUSALS.get(refusal)
    flash(str(message) if message else refusal, "warning")
    return redirect(url_for("records.show", entity=entity.name, record_id=record_id))


@records_bp.route("/app/<entity>/<int:record_id>/convert", methods=["GET", "POST"])
def convert(entity: str, record_id: int):
    definition = registry().entity(entity)
    record = query().get(entity, record_id)
    refusal = conversion_refusal(records(), definition, record)
    if refusal is not None:
        return _refused(definition, record_id, refusal)
    conversion = definition.conversion
    opportunity_allowed = conversion.opportunity is not None and may_create(records(), conversion.opportunity)
    if request.method == "GET":
        prefill = _prefill(definition, conversion, record)
        parts = _part_forms(definition, conversion, prefill)
        matches = _matches(conversion, prefill["account"])
        choice = NEW_ACCOUNT if may_create(records(), conversion.account) or not matches else str(matches[0].account.id)
        return _render(definition, record, parts, matches, account_choice=choice, other_account="",
                       make_opportunity=opportunity_allowed, errors=[], part_errors={})
    return _submit(definition, record, conversion, opportunity_allowed)


def _submit(entity: EntityDef, record: dict[str, Any], conversion: ConversionDef, opportunity_allowed: bool):
    account_choice = request.form.get("account_choice", NEW_ACCOUNT)
    other_account = request.form.get("other_account", "").strip()
    make_opportunity = opportunity_allowed and request.form.get("make_opportunity") == "1"
    posted = {"contact"} | ({"account"} if account_choice == NEW_ACCOUNT else set()) | (
        {"opportunity"} if make_opportunity else set())
    prefill = _prefill(entity, conversion, record)
    parts = _part_forms(entity, conversion, prefill, frozenset(posted))
    by_role = {p.role: p for p in parts}
    matches = _matches(conversion, _account_values(prefill, by_role["account"], account_choice))
    state = {"account_choice": account_choice, "other_account": other_account, "make_opportunity": make_opportunity}
    account_id = _chosen_account(account_choice, other_account)
    if account_id is None and account_choice != NEW_ACCOUNT:
        return _render(entity, record, parts, matches, **state, errors=[],
                       part_errors={"account": [_("Choose the existing account to attach to.")]}, status=422)
    choice = ConversionChoice(
        account_id=account_id, account=_posted(by_role["account"]) if account_id is None else {},
        contact=_posted(by_role["contact"]),
        opportunity=_posted(by_role["opportunity"]) if make_opportunity and "opportunity" in by_role else None)
    try:
        result = convert_lead(records(), entity.name, record["id"], choice)
    except ConversionRefused as exc:
        part = by_role[exc.part]
        general = attach_errors(part.form, part.entity, exc.by_field(), locale())
        return _render(entity, record, parts, matches, **state, errors=[], part_errors={exc.part: general},
                       status=422)
    except PermissionDenied as exc:
        return _render(entity, record, parts, matches, **state, errors=[str(exc)], part_errors={}, status=403)
    except ValidationError as exc:
        return _refused(entity, record["id"], exc.errors[0].message)
    flash(_("Converted. The account, contact and opportunity are linked below.") if result.opportunity_id
          else _("Converted. The account and contact are linked below."), "success")
    return redirect(url_for("records.show", entity=entity.name, record_id=record["id"]))


def _account_values(prefill: dict[str, dict[str, Any]], account: PartForm, account_choice: str) -> dict[str, Any]:
    """What the likely accounts are matched on: the new account's inputs while it is being made
    (the user may have corrected the name), else the values the lead maps to."""
    if account_choice != NEW_ACCOUNT:
        return prefill["account"]
    return {**prefill["account"], **_posted(account)}


@records_bp.route("/app/<entity>/<int:record_id>/convert/matches", methods=["POST"])
def convert_matches(entity: str, record_id: int):
    """The likely accounts again, for the new account's inputs as they are now (htmx)."""
    definition = registry().entity(entity)
    record = query().get(entity, record_id)
    conversion = conversion_of(definition)
    account_choice = request.form.get("account_choice", NEW_ACCOUNT)
    prefill = _prefill(definition, conversion, record)
    parts = _part_forms(definition, conversion, prefill, frozenset({"account"}))
    account = next(p for p in parts if p.role == "account")
    matches = _matches(conversion, _account_values(prefill, account, NEW_ACCOUNT))
    return render_template("records/_likely_accounts.html", matches=matches, account_choice=account_choice,
                           account_entity=conversion.account.entity)


def _chosen_account(account_choice: str, other_account: str) -> int | None:
    """The existing account chosen: a likely match's id, or the one picked in the search box."""
    if account_choice == OTHER_ACCOUNT:
        return int(other_account) if other_account.isdigit() else None
    return int(account_choice) if account_choice.isdigit() else None
