"""Every metadata change between two versions of an app, beyond the schema steps, and its effect on data.

`metadata_changes` compares two apps without the database; `with_affected_rows` asks the read path
which existing records a new constraint (required, unique, a range, a rule...) would refuse.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from engine.data.query import QueryService
from engine.errors import ValidationError
from engine.grant_merge import differing_keys, role_grants, shown
from metamodel.fieldtypes import field_type
from metamodel.model import (
    AppDef,
    Condition,
    EntityDef,
    FieldDef,
    Label,
    Layout,
    ListView,
    NavGroup,
    SortKey,
    label_text,
)

LISTED_ROWS = 5
PAGE = 500
# Options compared one by one below; any other option that changes gets a generic line.
VALUE_OPTIONS = ("max_length", "min", "max", "pattern", "values")


# ----------------------------------------------------------------------------------------------
# what a change does to existing records

@dataclass(frozen=True)
class RowRef:
    id: int
    title: str

    def __str__(self) -> str:
        return f"{self.title} (id {self.id})"


@dataclass(frozen=True)
class AffectedRows:
    """The existing records a change would refuse on their next edit: how many, and a few of them."""
    total: int
    rows: tuple[RowRef, ...] = ()
    unchecked: str | None = None   # why the records could not be checked

    def describe(self) -> str:
        if self.unchecked:
            return f"existing records not checked ({self.unchecked})"
        if not self.total:
            return "no existing record breaks it"
        listed = ", ".join(str(r) for r in self.rows)
        more = f" and {self.total - len(self.rows)} more" if self.total > len(self.rows) else ""
        noun = "record breaks" if self.total == 1 else "records break"
        return f"{self.total} existing {noun} it: {listed}{more}"


class Check(Protocol):
    """What a constraint asks of the existing records of one entity."""
    entity: str

    def affected(self, query: QueryService) -> AffectedRows: ...


def _listed(query: QueryService, entity: str, **where: Any) -> AffectedRows:
    page = query.list(entity, sort=[SortKey("id")], limit=LISTED_ROWS, with_total=True, **where)
    return AffectedRows(page.total or 0, _refs(query, entity, [r["id"] for r in page.rows]))


def _refs(query: QueryService, entity: str, ids: Sequence[int]) -> tuple[RowRef, ...]:
    titles = query.titles(entity, ids)
    return tuple(RowRef(i, titles.get(i) or f"#{i}") for i in ids)


@dataclass(frozen=True)
class RequiredCheck:
    entity: str
    field: str

    def affected(self, query: QueryService) -> AffectedRows:
        return _listed(query, self.entity, filters=[Condition(self.field, "is_blank")])


@dataclass(frozen=True)
class UniqueCheck:
    entity: str
    field: str

    def affected(self, query: QueryService) -> AffectedRows:
        groups = query.group_totals(self.entity, self.field)
        shared = [value for value, group in groups.items() if value is not None and group.count > 1]
        if not shared:
            return AffectedRows(0)
        return _listed(query, self.entity, filters=[Condition(self.field, "in", shared)])


@dataclass(frozen=True)
class ValueCheck:
    """Checks every stored value against the field's new definition (length, range, pattern, values)."""
    entity: str
    field: FieldDef

    def affected(self, query: QueryService) -> AffectedRows:
        kind = field_type(self.field.type)
        failing: list[int] = []
        cursor = None
        while True:
            page = query.list(self.entity, filters=[Condition(self.field.name, "is_not_blank")],
                              sort=[SortKey("id")], cursor=cursor, limit=PAGE)
            failing += [r["id"] for r in page.rows if kind.check_value(self.field, r[self.field.name])]
            cursor = page.next_cursor
            if cursor is None:
                break
        return AffectedRows(len(failing), _refs(query, self.entity, failing[:LISTED_ROWS]))


@dataclass(frozen=True)
class RuleCheck:
    """Counts the records a validation rule's condition is true for, in SQL through the read path."""
    entity: str
    condition: str

    def affected(self, query: QueryService) -> AffectedRows:
        return _listed(query, self.entity, formula=self.condition)


# ----------------------------------------------------------------------------------------------
# the changes

@dataclass(frozen=True)
class MetadataChange:
    """One readable change; a constraint carries its check and, once checked, the records it breaks."""
    subject: str
    sentence: str
    check: Check | None = None
    affected: AffectedRows | None = None

    def describe(self) -> str:
        if self.affected is None:
            return self.sentence
        return f"{self.sentence} — {self.affected.describe()}"


def with_affected_rows(changes: Sequence[MetadataChange], query: QueryService) -> tuple[MetadataChange, ...]:
    """Returns `changes` with the existing records each constraint breaks (entities installed now only)."""
    return tuple(dataclasses.replace(c, affected=_affected(c.check, query))
                 if c.check is not None and c.check.entity in query.registry.entities else c
                 for c in changes)


def _affected(check: Check, query: QueryService) -> AffectedRows:
    try:
        return check.affected(query)
    except ValidationError as exc:
        # The installed metadata cannot express the check (a renamed field, a rule reading a
        # field this upgrade adds): say so rather than claim nothing breaks.
        return AffectedRows(0, unchecked="; ".join(str(e) for e in exc.errors))


def metadata_changes(old: AppDef | None, new: AppDef) -> tuple[MetadataChange, ...]:
    """Returns every change from `old` to `new` that is not a schema step (labels, constraints,
    rules, layouts, list views, navigation, flows, roles). A first install has none."""
    if old is None:
        return ()
    return tuple(_app_changes(old, new))


def _app_changes(old: AppDef, new: AppDef) -> Iterator[MetadataChange]:
    yield from _label_change(f"app {new.name}", "label", old.label, new.label)
    for entity in new.entities.values():
        before = old.entities.get(entity.name) or old.entities.get(entity.renamed_from or "")
        if before is not None:
            yield from _entity_changes(before, entity)
    yield from _navigation_changes(old.navigation, new.navigation)
    for kind, before, after in (("flow", old.flows, new.flows), ("report", old.reports, new.reports),
                                ("dashboard", old.dashboards, new.dashboards),
                                ("email template", old.email_templates, new.email_templates)):
        yield from _document_changes(kind, before, after)
    yield from _role_changes(old, new)


def _text(label: Label | None) -> str:
    return label_text(label) if label else ""


def _label_change(subject: str, what: str, old: Label | None, new: Label | None) -> Iterator[MetadataChange]:
    if (old or None) == (new or None):
        return
    if _text(old) == _text(new):
        yield MetadataChange(subject, f"{subject}: {what} translations changed")
    elif not old:
        yield MetadataChange(subject, f"{subject}: {what} '{_text(new)}' added")
    elif not new:
        yield MetadataChange(subject, f"{subject}: {what} removed")
    else:
        yield MetadataChange(subject, f"{subject}: {what} '{_text(old)}' -> '{_text(new)}'")


def _entity_changes(old: EntityDef, new: EntityDef) -> Iterator[MetadataChange]:
    subject = f"entity {new.name}"
    yield from _label_change(subject, "label", old.label, new.label)
    yield from _label_change(subject, "plural label", old.plural_label, new.plural_label)
    for what in ("icon", "title_field"):
        if getattr(old, what) != getattr(new, what):
            yield MetadataChange(subject, f"{subject}: {what} {getattr(old, what)} -> {getattr(new, what)}")
    for f in new.fields:
        source = f.name if old.has_field(f.name) else f.renamed_from
        if source and old.has_field(source):
            yield from _field_changes(new.name, old.field(source), f)
    yield from _rule_changes(old, new)
    yield from _layout_changes(new.name, old.layouts, new.layouts)
    yield from _list_view_changes(new.name, old.list_views, new.list_views)


def _field_changes(entity: str, old: FieldDef, new: FieldDef) -> Iterator[MetadataChange]:
    subject = f"field {entity}.{new.name}"
    yield from _label_change(subject, "label", old.label, new.label)
    yield from _label_change(subject, "help text", old.help, new.help)
    same_type = old.type == new.type   # a new type is a schema step that checks every row itself
    if new.required != old.required:
        yield MetadataChange(subject, f"{subject} becomes required" if new.required
                             else f"{subject} is no longer required",
                             RequiredCheck(entity, new.name) if new.required else None)
    if new.unique != old.unique:
        yield MetadataChange(subject, f"{subject} becomes unique" if new.unique
                             else f"{subject} is no longer unique",
                             UniqueCheck(entity, new.name) if new.unique else None)
    if same_type:
        yield from _value_option_changes(entity, subject, old, new)
    for what in ("default", "default_formula", "read_only", "indexed"):
        if getattr(old, what) != getattr(new, what):
            yield MetadataChange(subject, f"{subject}: {what} {getattr(old, what)!r} -> {getattr(new, what)!r}")
    others = sorted(k for k in {*old.options, *new.options}
                    if k not in VALUE_OPTIONS and old.option(k) != new.option(k))
    for key in others:
        yield MetadataChange(subject, f"{subject}: {key} {old.option(key)!r} -> {new.option(key)!r}")


def _value_option_changes(entity: str, subject: str, old: FieldDef, new: FieldDef) -> Iterator[MetadataChange]:
    check = ValueCheck(entity, new)
    for key in ("max_length", "min", "max", "pattern"):
        before, after = old.option(key), new.option(key)
        if before == after:
            continue
        narrower = after is not None and (before is None or key == "pattern"
                                          or (after < before if key != "min" else after > before))
        yield MetadataChange(subject, f"{subject}: {key.replace('_', ' ')} {shown_option(before)} -> "
                             f"{shown_option(after)}", check if narrower else None)
    if old.option("values") != new.option("values"):
        yield from _picklist_changes(subject, old, new, check)


def shown_option(value: Any) -> str:
    return "none" if value is None else repr(value) if isinstance(value, str) else str(value)


def _picklist_changes(subject: str, old: FieldDef, new: FieldDef, check: ValueCheck) -> Iterator[MetadataChange]:
    before = [v["value"] for v in old.option("values") or ()]
    after = [v["value"] for v in new.option("values") or ()]
    removed = [v for v in before if v not in after]
    added = [v for v in after if v not in before]
    if removed:
        yield MetadataChange(subject, f"{subject}: values lose {', '.join(removed)}", check)
    if added:
        yield MetadataChange(subject, f"{subject}: values gain {', '.join(added)}")
    if not removed and not added:
        yield MetadataChange(subject, f"{subject}: values relabelled or reordered")


def _rule_changes(old: EntityDef, new: EntityDef) -> Iterator[MetadataChange]:
    before = {r.name: r for r in old.validation_rules}
    after = {r.name: r for r in new.validation_rules}
    for name, rule in after.items():
        subject = f"rule {new.name}.{name}"
        prior = before.get(name)
        if prior is None:
            yield MetadataChange(subject, f"{subject} added: {rule.condition}", RuleCheck(new.name, rule.condition))
            continue
        if prior.condition != rule.condition:
            yield MetadataChange(subject, f"{subject}: condition {prior.condition} -> {rule.condition}",
                                 RuleCheck(new.name, rule.condition))
        yield from _label_change(subject, "message", prior.message, rule.message)
    for name in before.keys() - after.keys():
        yield MetadataChange(f"rule {new.name}.{name}", f"rule {new.name}.{name} removed")


def _gains_loses(before: Sequence[str], after: Sequence[str]) -> str:
    parts = []
    gained = [x for x in after if x not in before]
    lost = [x for x in before if x not in after]
    if gained:
        parts.append(f"gains {', '.join(gained)}")
    if lost:
        parts.append(f"loses {', '.join(lost)}")
    return ", ".join(parts) or "reordered"


def _layout_changes(entity: str, old: Sequence[Layout], new: Sequence[Layout]) -> Iterator[MetadataChange]:
    before = {layout.name: layout for layout in old}
    for layout in new:
        subject = f"layout of {entity}" if layout.name == "default" else f"layout {layout.name} of {entity}"
        prior = before.pop(layout.name, None)
        if prior is None:
            yield MetadataChange(subject, f"{subject} added")
            continue
        if prior == layout:
            continue
        sections = {s.name: s for s in prior.sections}
        for section in layout.sections:
            shown_name = _text(section.label) or section.name
            was = sections.pop(section.name, None)
            if was is None:
                yield MetadataChange(subject, f"{subject}: section '{shown_name}' added")
            elif was != section:
                fields = (tuple(f.field for f in was.fields), tuple(f.field for f in section.fields))
                change = _gains_loses(*fields) if fields[0] != fields[1] else "changed"
                yield MetadataChange(subject, f"{subject}: section '{shown_name}' {change}")
        for gone in sections.values():
            yield MetadataChange(subject, f"{subject}: section '{_text(gone.label) or gone.name}' removed")
    for gone in before:
        yield MetadataChange(f"layout {gone} of {entity}", f"layout {gone} of {entity} removed")


def _list_view_changes(entity: str, old: Sequence[ListView], new: Sequence[ListView]) -> Iterator[MetadataChange]:
    before = {view.name: view for view in old}
    for view in new:
        subject = f"list view {view.name} of {entity}"
        prior = before.pop(view.name, None)
        if prior is None:
            yield MetadataChange(subject, f"{subject} added")
            continue
        yield from _label_change(subject, "label", prior.label, view.label)
        if prior.columns != view.columns:
            yield MetadataChange(subject, f"{subject}: columns {_gains_loses(prior.columns, view.columns)}")
        for what in ("sort", "filters", "stage_field"):
            if getattr(prior, what) != getattr(view, what):
                yield MetadataChange(subject, f"{subject}: {what.replace('_', ' ')} changed")
    for gone in before:
        yield MetadataChange(f"list view {gone} of {entity}", f"list view {gone} of {entity} removed")


def _navigation_changes(old: Sequence[NavGroup], new: Sequence[NavGroup]) -> Iterator[MetadataChange]:
    before = {g.name: g for g in old}
    for group in new:
        subject = f"navigation group {group.name}"
        prior = before.pop(group.name, None)
        if prior is None:
            yield MetadataChange(subject, f"{subject} added")
            continue
        yield from _label_change(subject, "label", prior.label, group.label)
        items = ([i.view and f"{i.entity}/{i.view}" or i.entity for i in prior.items],
                 [i.view and f"{i.entity}/{i.view}" or i.entity for i in group.items])
        if items[0] != items[1]:
            yield MetadataChange(subject, f"{subject}: {_gains_loses(*items)}")
    for gone in before:
        yield MetadataChange(f"navigation group {gone}", f"navigation group {gone} removed")


def _document_changes(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[MetadataChange]:
    for name in sorted({*old, *new}):
        subject = f"{kind} {name}"
        if name not in old:
            yield MetadataChange(subject, f"{subject} added")
        elif name not in new:
            yield MetadataChange(subject, f"{subject} removed")
        elif old[name] != new[name]:
            yield MetadataChange(subject, f"{subject} changed")


def _role_changes(old: AppDef, new: AppDef) -> Iterator[MetadataChange]:
    before = {r.name: r for r in old.roles}
    for role in new.roles:
        prior = before.pop(role.name, None)
        if prior is None:
            yield MetadataChange(f"role {role.name}", f"role {role.name} added")
            continue
        yield from _label_change(f"role {role.name}", "label", prior.label, role.label)
        was, now = role_grants(prior), role_grants(role)
        for key in differing_keys(was, now):
            yield MetadataChange(f"role {role.name}: {key}",
                                 f"role {role.name}: {key} {shown(was.get(key))} -> {shown(now.get(key))}")
    for gone in before:
        yield MetadataChange(f"role {gone}", f"role {gone} removed from the template (kept in the database)")
