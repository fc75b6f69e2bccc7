"""Lead conversion: a lead becomes an account (new or existing), a contact and optionally an opportunity.

The mapping is the entity's `conversion` metadata. Every record is written through RecordService as
the acting user, in one transaction, so their permissions, validation and audit apply as for any write.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from rapidfuzz import fuzz
from sqlalchemy.engine import Connection

import formula
from engine.data.computed import RecordValues
from engine.data.query import QueryService
from engine.data.records import RecordService
from engine.errors import FieldError, NotFound, PermissionDenied, ValidationError
from engine.security import audit
from engine.security.actors import SYSTEM
from engine.security.scopes import check_write, hidden_fields
from engine.storage.db import write_transaction
from metamodel.conversion_checks import copied_field
from metamodel.fieldtypes import FieldValueError, field_type
from metamodel.formula_checks import formula_fields
from metamodel.model import Condition, ConversionDef, ConversionPart, EntityDef

ALREADY_CONVERTED = "This record was already converted."
NOT_CONVERTIBLE = "cannot be converted from this status"
NO_CONVERSION = "This kind of record has no conversion."
MAX_CANDIDATES = 200

# Legal forms and group words after a Chinese company's name, longest first; "A科技股份有限公司" is "A科技".
COMPANY_SUFFIXES = ("集团股份有限公司", "集团有限责任公司", "股份有限责任公司", "集团有限公司", "股份有限公司",
                    "有限责任公司", "有限公司", "股份公司", "集团公司", "分公司", "总公司", "集团", "公司")
ENGLISH_SUFFIXES = frozenset({"co", "company", "corp", "corporation", "inc", "incorporated", "limited", "ltd",
                              "llc", "plc", "group", "gmbh"})
# A place name in front ("北京云帆科技") says where the company is registered, not who it is.
PLACE_PREFIXES = tuple(sorted((
    "北京", "上海", "天津", "重庆", "广州", "深圳", "杭州", "南京", "苏州", "成都", "武汉", "西安", "长沙", "郑州",
    "青岛", "厦门", "宁波", "合肥", "济南", "沈阳", "大连", "哈尔滨", "长春", "福州", "昆明", "贵阳", "南宁",
    "石家庄", "太原", "呼和浩特", "乌鲁木齐", "兰州", "银川", "西宁", "拉萨", "海口", "南昌", "无锡", "佛山",
    "东莞", "珠海", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西", "山东",
    "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海", "内蒙古", "广西",
    "西藏", "宁夏", "新疆", "香港", "澳门"), key=len, reverse=True))
# Free mail domains: two people at qq.com do not work for the same company.
FREE_MAIL = frozenset({"qq.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com", "139.com",
                       "189.cn", "aliyun.com", "foxmail.com", "gmail.com", "outlook.com", "hotmail.com",
                       "live.com", "yahoo.com", "icloud.com", "me.com", "msn.com", "proton.me"})
NAME_THRESHOLD = 80          # rapidfuzz ratio of the name cores from which two names are alike
REASON_SCORES = {"email": 95, "phone": 90, "email_domain": 70}
PHONE_KEY = 8                # trailing digits compared: a landline without its area code, or a mobile's


class ConversionRefused(ValidationError):
    """One record of a conversion was refused; `part` says which (account, contact, opportunity),
    `errors` what is wrong, by field of that record. Nothing was written."""

    def __init__(self, part: str, error: ValidationError):
        super().__init__(error.entity, error.errors)
        self.part = part


@dataclass(frozen=True)
class MatchReason:
    """Why an account is offered: `kind` is name, phone, email or email_domain; `value` is the
    account's value that matched."""
    kind: str
    field: str
    value: str


@dataclass(frozen=True)
class LikelyAccount:
    id: int
    title: str
    score: int                       # 0-100, higher is likelier
    reasons: tuple[MatchReason, ...]


@dataclass(frozen=True)
class ConversionChoice:
    """What the user chose in the dialog. Values given here win over the mapped ones.

    `account_id` attaches the contact (and opportunity) to that existing account instead of
    creating one; `opportunity` None makes no opportunity.
    """
    account_id: int | None = None
    account: Mapping[str, Any] = field(default_factory=dict)
    contact: Mapping[str, Any] = field(default_factory=dict)
    opportunity: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ConversionResult:
    account_id: int
    contact_id: int
    opportunity_id: int | None
    account_created: bool


# -- the mapping -----------------------------------------------------------------------------------
def conversion_of(entity: EntityDef) -> ConversionDef:
    """Returns the entity's conversion; ValidationError when it has none."""
    if entity.conversion is None:
        raise ValidationError(entity.name, [FieldError(None, NO_CONVERSION)])
    return entity.conversion


def mapped_values(conn: Connection, registry: Any, entity: EntityDef, record: Mapping[str, Any],
                  part: ConversionPart, now: Any) -> dict[str, Any]:
    """Returns the values the mapping gives the new record of `part` from `record` (the lead).

    A copied picklist value the target does not list, and a formula that cannot be evaluated for
    this record (#Error!), are left blank: the dialog asks for them.
    """
    app = registry.app_of(entity.name)
    target = registry.entity(part.entity)
    reader = RecordValues(conn, registry)
    values: dict[str, Any] = {}
    for name, source in part.set.items():
        copied = copied_field(entity, source)
        if copied is not None:
            value = record.get(copied.name)
        else:
            compiled = formula.compile(source, formula_fields(app, entity.name, source))
            try:
                value = compiled.evaluate(reader.values(entity, record, compiled.paths, stored_record=True),
                                          now=now)
            except formula.FormulaError:
                value = None
        if value is not None and _fits(target, name, value):
            values[name] = value
    return values


def _fits(target: EntityDef, name: str, value: Any) -> bool:
    """Whether a mapped value is one the target field takes (a picklist value it lists)."""
    f = target.field(name)
    if not f.option("values"):
        return True
    kind = field_type(f.type)
    try:
        return not kind.check_value(f, kind.coerce(f, value))
    except FieldValueError:
        return False


# -- who may convert --------------------------------------------------------------------------------
def conversion_refusal(records: RecordService, entity: EntityDef, record: Mapping[str, Any]) -> str | None:
    """Returns why the actor may not convert `record` (already converted, its status, permissions),
    or None when they may; the Convert button shows only then. The opportunity is optional: whether
    it may be made is `may_create(records, part)`."""
    conversion = entity.conversion
    if conversion is None:
        return NO_CONVERSION
    if conversion.is_converted(record):
        return ALREADY_CONVERTED
    if conversion.allowed_from and record.get(conversion.status_field) not in conversion.allowed_from:
        return NOT_CONVERTIBLE
    try:
        with records.engine.connect() as conn:   # a lead shared with the actor for edit may be converted
            check_write(records.actor, entity, "update", record, conn=conn, registry=records.registry)
        check_write(records.actor, records.registry.entity(conversion.contact.entity), "create")
    except PermissionDenied as exc:
        return str(exc)
    return None


def may_create(records: RecordService, part: ConversionPart) -> bool:
    """Whether the actor may create the record of `part` at all (the opportunity box, a new account)."""
    try:
        check_write(records.actor, records.registry.entity(part.entity), "create")
    except PermissionDenied:
        return False
    return True


# -- likely accounts ----------------------------------------------------------------------------------
def company_core(name: str) -> str:
    """Returns what identifies a company in its name: width and case folded, punctuation, a
    bracketed or leading place, and legal-form suffixes removed ("北京A科技股份有限公司" -> "a科技")."""
    text = unicodedata.normalize("NFKC", name).lower()
    text = re.sub(r"\([^)]*\)", " ", text)
    words = [w for w in re.split(r"[\s,.&'·\-_/]+", text) if w]
    while len(words) > 1 and words[-1] in ENGLISH_SUFFIXES:
        words.pop()
    text = "".join(words)
    stripped = True
    while stripped:
        stripped = False
        for suffix in COMPANY_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text, stripped = text[:-len(suffix)], True
                break
    for place in PLACE_PREFIXES:
        rest = text[len(place):].removeprefix("市").removeprefix("省")
        if text.startswith(place) and len(rest) >= 2:
            text = rest
            break
    return text


def phone_key(phone: str) -> str:
    """Returns the trailing digits two numbers share when they are the same line ("" if too short)."""
    digits = re.sub(r"\D", "", phone)
    return digits[-PHONE_KEY:] if len(digits) >= 7 else ""


def email_domain(email: str) -> str:
    """Returns the company domain of an address, or "" for a free mail domain or no domain."""
    domain = email.rpartition("@")[2].strip().lower()
    return "" if not domain or domain in FREE_MAIL else domain


def likely_accounts(query: QueryService, conversion: ConversionDef, values: Mapping[str, Any], *,
                    limit: int = 5) -> list[LikelyAccount]:
    """Returns the accounts the actor may read that look like the new account `values` describe,
    best first: by company name (legal suffixes ignored, fuzzy), by phone and by email address or
    company domain, each with the reasons it matched."""
    account = query.registry.entity(conversion.account.entity)
    hidden = hidden_fields(query.actor, account, query.registry)
    probes = [(name, account.field(name).type, str(values.get(name) or "").strip())
              for name in conversion.account.match if name not in hidden]
    probes = [(name, kind, value) for name, kind, value in probes if value]
    conditions = [c for probe in probes for c in _candidate_conditions(*probe)]
    if not conditions:
        return []
    rows = query.list(account.name, any_of=conditions, limit=MAX_CANDIDATES).rows
    found = []
    for row in rows:
        reasons = [r for probe in probes if (r := _reason(row, *probe)) is not None]
        if reasons:
            found.append(LikelyAccount(row["id"], str(row.get(account.title) or f"#{row['id']}"),
                                       _score([s for _, s in reasons]), tuple(r for r, _ in reasons)))
    found.sort(key=lambda m: (-m.score, -len(m.reasons), m.title, m.id))
    return found[:limit]


def _candidate_conditions(name: str, kind: str, value: str) -> list[Condition]:
    """The SQL filters that find every account a probe may match (ranked afterwards in Python)."""
    if kind == "phone":
        key = phone_key(value)
        return [Condition(name, "contains", key[-4:])] if key else []
    if kind == "email":
        domain = email_domain(value)
        return [Condition(name, "contains", f"@{domain}" if domain else value.lower())]
    core = company_core(value)
    found = [Condition(name, "contains", core)] if core else []
    if len(core) >= 3 and not core.isascii():
        found.append(Condition(name, "contains", core[:2]))   # typos and word order: ranked by rapidfuzz
    return found


def _reason(row: Mapping[str, Any], name: str, kind: str, value: str) -> tuple[MatchReason, int] | None:
    """(why `row` matches the probe, how strongly), or None when it does not."""
    theirs = str(row.get(name) or "").strip()
    if not theirs:
        return None
    if kind == "phone":
        same = phone_key(theirs) and phone_key(theirs) == phone_key(value)
        return (MatchReason("phone", name, theirs), REASON_SCORES["phone"]) if same else None
    if kind == "email":
        if theirs.lower() == value.lower():
            return MatchReason("email", name, theirs), REASON_SCORES["email"]
        domain = email_domain(value)
        if domain and email_domain(theirs) == domain:
            return MatchReason("email_domain", name, theirs), REASON_SCORES["email_domain"]
        return None
    mine, core = company_core(value), company_core(theirs)
    similarity = 100 if mine == core else int(fuzz.ratio(mine, core))
    if similarity < NAME_THRESHOLD and not (min(len(mine), len(core)) >= 2 and (mine in core or core in mine)):
        return None
    return MatchReason("name", name, theirs), max(similarity, NAME_THRESHOLD)


def _score(strengths: list[int]) -> int:
    """The best reason's strength, a little more for each further reason, at most 100."""
    return min(100, max(strengths) + 5 * (len(strengths) - 1))


# -- converting -------------------------------------------------------------------------------------
def convert_lead(records: RecordService, entity_name: str, record_id: int,
                 choice: ConversionChoice) -> ConversionResult:
    """Converts one record (a lead) as `records.actor`, all in one transaction: attaches to the
    chosen account or creates one, creates the contact and, when asked, the opportunity, then
    marks the record converted with links to them and the time.

    Raises ValidationError when the record was converted already or its status does not allow it,
    ConversionRefused naming the part whose record was refused, PermissionDenied when the actor
    may not write one of them (or the lead), NotFound for a record they cannot read. Then nothing
    is written.
    """
    entity = records.registry.entity(entity_name)
    conversion = conversion_of(entity)
    with write_transaction(records.engine) as conn:
        lead = _load_for_conversion(records, conn, entity, record_id)
        mine = RecordService(records.engine, records.registry, records.actor, records.clock, conn=conn)
        now = records.clock()
        account_id, created = _account(mine, conn, entity, lead, conversion, choice, now)
        contact_values = {**mapped_values(conn, records.registry, entity, lead, conversion.contact, now),
                          **choice.contact, conversion.contact.account_field: account_id}
        contact_id = _create(mine, "contact", conversion.contact, contact_values)
        opportunity_id = None
        if choice.opportunity is not None and conversion.opportunity is not None:
            part = conversion.opportunity
            values = {**mapped_values(conn, records.registry, entity, lead, part, now), **choice.opportunity,
                      part.account_field: account_id}
            if part.contact_field:
                values[part.contact_field] = contact_id
            opportunity_id = _create(mine, "opportunity", part, values)
        marks = {conversion.status_field: conversion.status_value, conversion.converted_at: now,
                 conversion.account.link: account_id, conversion.contact.link: contact_id}
        if conversion.opportunity is not None:
            marks[conversion.opportunity.link] = opportunity_id
        # The links and the time are read-only to people: the system records them, in this transaction.
        RecordService(records.engine, records.registry, SYSTEM, records.clock, conn=conn).update(
            entity.name, record_id, marks)
        result = ConversionResult(account_id, contact_id, opportunity_id, created)
        audit.write_entry(conn, records.actor, "convert", entity.name, record_id, detail={
            "account": account_id, "account_created": created, "contact": contact_id,
            "opportunity": opportunity_id}, at=now)
        return result


def _load_for_conversion(records: RecordService, conn: Connection, entity: EntityDef,
                         record_id: int) -> dict[str, Any]:
    """Returns the record, locked for this transaction, once it is known the actor may convert it."""
    table = records.registry.table(entity.name)
    lock = sa.select(table.c.id).where(table.c.id == record_id)
    if conn.dialect.name == "postgresql":
        lock = lock.with_for_update()   # a second conversion of the same lead waits, then is refused
    conn.execute(lock)
    record = QueryService(records.engine, records.registry, records.actor, conn=conn).get(entity.name, record_id)
    conversion = conversion_of(entity)
    if conversion.is_converted(record):
        raise ValidationError(entity.name, [FieldError(None, ALREADY_CONVERTED)])
    if conversion.allowed_from and record.get(conversion.status_field) not in conversion.allowed_from:
        raise ValidationError(entity.name, [FieldError(conversion.status_field, NOT_CONVERTIBLE)])
    check_write(records.actor, entity, "update", record, conn=conn, registry=records.registry)
    return record


def _account(mine: RecordService, conn: Connection, entity: EntityDef, lead: Mapping[str, Any],
             conversion: ConversionDef, choice: ConversionChoice, now: Any) -> tuple[int, bool]:
    """Returns (the account's id, whether it was created): the chosen one, if the actor may read it."""
    part = conversion.account
    if choice.account_id is None:
        values = {**mapped_values(conn, mine.registry, entity, lead, part, now), **choice.account}
        return _create(mine, "account", part, values), True
    try:
        QueryService(mine.engine, mine.registry, mine.actor, conn=conn).get(part.entity, choice.account_id)
    except NotFound:
        raise ConversionRefused("account", ValidationError(part.entity, [FieldError(
            None, f"there is no account with id {choice.account_id}")])) from None
    return choice.account_id, False


def _create(mine: RecordService, role: str, part: ConversionPart, values: Mapping[str, Any]) -> int:
    try:
        return mine.create(part.entity, values)["id"]
    except ConversionRefused:
        raise
    except ValidationError as exc:
        raise ConversionRefused(role, exc) from None
