"""Semantic checks of an entity's `conversion`: every field it names exists and fits, formulas type-check.

Each check is a generator over a CheckContext yielding every issue with its JSON path, as in checks.py.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from metamodel.checks import Check
from metamodel.context import CheckContext
from metamodel.fieldtypes import FIELD_TYPES
from metamodel.flow_checks import accepted_types, writable
from metamodel.formula_checks import FormulaSite, site_issues
from metamodel.issues import WARNING, MetadataIssue
from metamodel.model import ConversionDef, ConversionPart, EntityDef, FieldDef

BASE = "/conversion"
MATCH_TYPES = ("text", "phone", "email")   # a company name, a phone number, an email address
TIME_TYPES = ("datetime", "date")
_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class _Site:
    """A conversion being checked: its file, the entity it converts and the conversion itself."""
    file: str
    entity: EntityDef
    conversion: ConversionDef

    def issue(self, path: str, message: str, suggestion: str | None = None, *, level: str = "error",
              ) -> MetadataIssue:
        return MetadataIssue(self.file, f"{BASE}{path}", message, suggestion, level=level)


def _sites(ctx: CheckContext) -> Iterator[_Site]:
    for source in ctx.entities:
        if source.entity.conversion is not None:
            yield _Site(source.file, source.entity, source.entity.conversion)


def _field(ctx: CheckContext, site: _Site, path: str, entity: EntityDef, name: str,
           ) -> tuple[FieldDef | None, MetadataIssue | None]:
    """Returns the field `name` of `entity`, or the issue saying it has none (None, None when the
    field exists but failed the schema: that is reported already)."""
    problem = ctx.unknown_field(entity, name)
    if problem:
        return None, site.issue(path, *problem)
    return (entity.field(name) if entity.has_field(name) else None), None


def check_conversion_marks(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """The status field is a picklist holding the converted value (and every `from` value), and
    converted_at is a date or time field."""
    for site in _sites(ctx):
        conversion = site.conversion
        status, issue = _field(ctx, site, "/status/field", site.entity, conversion.status_field)
        if issue:
            yield issue
        elif status is not None and FIELD_TYPES[status.type].formula_type_of(status) != "picklist":
            yield site.issue("/status/field", f"{site.entity.name}.{status.name} is {status.type}, not a picklist")
        elif status is not None:
            values = [c["value"] for c in status.option("values", ())]
            wanted = [("/status/value", conversion.status_value),
                      *((f"/status/from/{i}", v) for i, v in enumerate(conversion.allowed_from))]
            for path, value in wanted:
                if value not in values:
                    yield site.issue(path, f"{value!r} is not a value of {site.entity.name}.{status.name}",
                                     f"use one of: {', '.join(values)}")
        stamp, issue = _field(ctx, site, "/converted_at", site.entity, conversion.converted_at)
        if issue:
            yield issue
        elif stamp is not None and stamp.type not in TIME_TYPES:
            yield site.issue("/converted_at", f"{site.entity.name}.{stamp.name} is {stamp.type}, "
                             "not a datetime or date field")


def check_conversion_parts(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Each part names an entity, a link of the converted entity to it, and fields of it that a
    conversion may set; every required field gets a value; the lookups between parts fit."""
    for site in _sites(ctx):
        for role, part in site.conversion.parts:
            path = f"/{role}"
            problem = ctx.unknown_entity(part.entity)
            if problem:
                yield site.issue(f"{path}/entity", *problem)
                continue
            target = ctx.app.entities.get(part.entity)
            if target is None:
                continue   # the entity failed the schema; its issue is reported
            yield from _link_issues(ctx, site, f"{path}/link", site.entity, part.link, part.entity)
            yield from _settable_issues(ctx, site, path, target, part)
            yield from _required_issues(site, path, target, part)
            yield from _part_link_issues(ctx, site, role, target, part)
            yield from _copy_issues(site, path, target, part)


def _link_issues(ctx: CheckContext, site: _Site, path: str, entity: EntityDef, name: str, target: str,
                 ) -> Iterator[MetadataIssue]:
    f, issue = _field(ctx, site, path, entity, name)
    if issue:
        yield issue
    elif f is not None and FIELD_TYPES[f.type].target_entity(f) != target:
        yield site.issue(path, f"{entity.name}.{name} is not a lookup to {target!r}",
                         f"name a lookup field of {entity.name} whose target is {target}")


def _settable_issues(ctx: CheckContext, site: _Site, path: str, target: EntityDef, part: ConversionPart,
                     ) -> Iterator[MetadataIssue]:
    named = [(f"{path}/set/{name}", name) for name in part.set]
    named += [(f"{path}/form/{i}", name) for i, name in enumerate(part.form)]
    for where, name in named:
        f, issue = _field(ctx, site, where, target, name)
        if issue:
            yield issue
        elif f is not None and not writable(f):
            yield site.issue(where, f"{target.name}.{name} is {f.type}, so a conversion cannot set it",
                             "name a stored field instead")


def _required_issues(site: _Site, path: str, target: EntityDef, part: ConversionPart,
                     ) -> Iterator[MetadataIssue]:
    given = {*part.set, *part.form, part.account_field, part.contact_field}
    for f in target.fields:
        if f.required and f.default is None and not f.default_formula and writable(f) and f.name not in given:
            yield site.issue(f"{path}/set", f"{target.name}.{f.name} is required, so the conversion needs it",
                             f"add \"{f.name}\" to set (a formula over the {site.entity.name}) or to form")


def _part_link_issues(ctx: CheckContext, site: _Site, role: str, target: EntityDef, part: ConversionPart,
                      ) -> Iterator[MetadataIssue]:
    conversion = site.conversion
    links = [("account_field", part.account_field, conversion.account.entity),
             ("contact_field", part.contact_field, conversion.contact.entity)]
    for key, name, linked in links:
        if name is not None:
            yield from _link_issues(ctx, site, f"/{role}/{key}", target, name, linked)
    for i, name in enumerate(part.match):
        where = f"/{role}/match/{i}"
        f, issue = _field(ctx, site, where, target, name)
        if issue:
            yield issue
        elif f is not None and f.type not in MATCH_TYPES:
            yield site.issue(where, f"{target.name}.{name} is {f.type}; likely accounts are matched on "
                             f"{', '.join(MATCH_TYPES)} fields")
        elif f is not None and name not in part.set:
            yield site.issue(where, f"{target.name}.{name} is not in set, so there is nothing to compare",
                             f"map it in set, e.g. \"{name}\": \"{name}\"")


def copied_field(entity: EntityDef, source: str) -> FieldDef | None:
    """Returns the field of `entity` a mapping copies when its source is a bare field name (a
    picklist's value, a lookup's record), else None: the source is then a formula."""
    if _BARE_NAME.fullmatch(source) and entity.has_field(source):
        return entity.field(source)
    return None


def copy_problem(given: FieldDef, wanted: FieldDef) -> str | None:
    """Returns why `given`'s value cannot be copied into `wanted`, or None when it can."""
    given_target = FIELD_TYPES[given.type].target_entity(given)
    wanted_target = FIELD_TYPES[wanted.type].target_entity(wanted)
    if given_target is not None or wanted_target is not None:
        if given_target == wanted_target:
            return None
        return (f"is a lookup to {wanted_target!r}, but {given.name} is "
                + (f"a lookup to {given_target!r}" if given_target else given.type))
    kind = FIELD_TYPES[given.type].formula_type_of(given)
    accepts = accepted_types(wanted)
    if kind in accepts or (kind == "picklist" and "text" in accepts):
        return None
    return f"is {wanted.type}, but {given.name} is {given.type}"


def _copy_issues(site: _Site, path: str, target: EntityDef, part: ConversionPart) -> Iterator[MetadataIssue]:
    """A field copied from the converted record fits the field it fills; a picklist copied from a
    picklist whose values it lacks is a warning: such records get that field blank."""
    for name, source in part.set.items():
        given = copied_field(site.entity, source)
        if given is None or not target.has_field(name):
            continue
        wanted = target.field(name)
        problem = copy_problem(given, wanted)
        if problem:
            yield site.issue(f"{path}/set/{name}", f"{target.name}.{name} {problem}",
                             "map a field of a fitting type, or write a formula")
            continue
        if given.type != "picklist" or wanted.type != "picklist":
            continue
        allowed = {c["value"] for c in wanted.option("values", ())}
        missing = [c["value"] for c in given.option("values", ()) if c["value"] not in allowed]
        if missing:
            yield site.issue(f"{path}/set/{name}",
                             f"{site.entity.name}.{source} values {', '.join(missing)} are not values of "
                             f"{target.name}.{name}; the conversion leaves it blank for such a record",
                             "add the values to the target picklist or map them with CASE()", level=WARNING)


def conversion_formula_sites(ctx: CheckContext) -> Iterator[FormulaSite]:
    """Yields every formula of every conversion: each a formula over the converted record giving a
    value the target field takes."""
    for site in _sites(ctx):
        for role, part in site.conversion.parts:
            target = ctx.app.entities.get(part.entity)
            for name, source in part.set.items():
                if copied_field(site.entity, source) is not None:
                    continue   # a copied field, checked by _copy_issues
                f = target.field(name) if target is not None and target.has_field(name) else None
                yield FormulaSite(site.file, f"{BASE}/{role}/set/{name}", site.entity.name, source, None,
                                  accepts=accepted_types(f) if f is not None else frozenset())


def check_conversion_formulas(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Every mapping formula compiles against the converted entity and gives what its field takes."""
    for site in conversion_formula_sites(ctx):
        yield from site_issues(ctx, site)


CONVERSION_CHECKS: tuple[Check, ...] = (check_conversion_marks, check_conversion_parts, check_conversion_formulas)
