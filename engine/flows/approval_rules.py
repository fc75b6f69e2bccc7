"""What approvals impose on the write path: a record under a pending approval with lock_record is
refused edits and deletion (its current approvers may still edit the step's editable fields), and
a field an approval's actions set is written by the approval only.

Both are derived once per registry; an entity no approval flow runs on costs the write path nothing.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.data.computed import SYSTEM_USER_FIELDS
from engine.errors import FieldError, ValidationError
from engine.security.actors import Actor
from engine.storage.db import fw_approval, fw_approval_task
from metamodel.flows import ApprovalDef, UpdateRecord
from metamodel.model import AppDef, label_text


@dataclass(frozen=True)
class OwnedField:
    """A field an approval's update actions set: `values` are the constants they set it to (a user
    may not set those: "approved" is the approval's to give), None when one sets it by a formula
    (then only flows write it at all)."""
    flow: str
    values: frozenset[str] | None


@dataclass(frozen=True)
class ApprovalRules:
    """Per registry: entity -> its approval flows by priority, and entity -> field -> what the
    approval flows own of it."""
    flows: Mapping[str, tuple[ApprovalDef, ...]]
    owned_fields: Mapping[str, Mapping[str, OwnedField]]


_TEXT_CONSTANT = re.compile(r'^\s*"([^"\\]*)"\s*$')


def compile_approval_rules(apps: Iterable[AppDef]) -> ApprovalRules:
    """Returns the approval flows of every entity and the fields (and values) their update actions set."""
    flows: dict[str, list[ApprovalDef]] = {}
    owned: dict[str, dict[str, OwnedField]] = {}
    for app in apps:
        for flow in app.flow_definitions.values():
            if not isinstance(flow, ApprovalDef):
                continue
            flows.setdefault(flow.entity, []).append(flow)
            for entity, name, source in _set_fields(app, flow):
                fields = owned.setdefault(entity, {})
                key = SYSTEM_USER_FIELDS.get(name, name)
                fields[key] = _owning(fields.get(key), flow.name, source)
    return ApprovalRules({e: tuple(sorted(found, key=lambda f: (f.priority, f.name))) for e, found in flows.items()},
                         owned)


def _owning(known: OwnedField | None, flow: str, source: str) -> OwnedField:
    constant = _TEXT_CONSTANT.match(source)
    mine = frozenset({constant.group(1)}) if constant else None
    if known is None:
        return OwnedField(flow, mine)
    if known.values is None or mine is None:
        return OwnedField(known.flow, None)
    return OwnedField(known.flow, known.values | mine)


def _set_fields(app: AppDef, flow: ApprovalDef) -> Iterable[tuple[str, str, str]]:
    actions = [*flow.on_submit, *flow.on_approved, *flow.on_rejected,
               *(a for step in flow.steps for a in (*step.on_approve, *step.on_reject))]
    for action in actions:
        if not isinstance(action, UpdateRecord):
            continue
        entity = flow.entity
        if action.on is not None:
            entity = app.entities[flow.entity].field(action.on).option("target")
        for name, source in action.set.items():
            yield entity, name, source


# -- the write path asks -------------------------------------------------------------------------
def refuse_owned_fields(registry: Any, actor: Actor, entity: str, values: Mapping[str, Any],
                        locale: str = "en") -> None:
    """Raises ValidationError naming each field of `values` set to what only an approval sets: a
    value its actions give the field, or any value of a field they set by formula. The system
    (the approval itself, automations) writes regardless."""
    owned = registry.approval_rules.owned_fields.get(entity)
    if not owned or actor.id is None:
        return
    errors = []
    for name, value in values.items():
        rule = owned.get(name)
        if rule is None:
            continue
        if rule.values is None:
            errors.append(FieldError(name, _text("owned", locale, flow=rule.flow)))
        elif value in rule.values:
            errors.append(FieldError(name, _text("owned_value", locale, flow=rule.flow, value=value)))
    if errors:
        raise ValidationError(entity, errors)


def pending_lock(conn: Connection, registry: Any, entity: str, record_id: int) -> Any | None:
    """Returns the pending approval row locking the record (its flow has lock_record), if any."""
    if entity not in registry.approval_rules.flows:
        return None
    row = conn.execute(sa.select(fw_approval).where(
        fw_approval.c.entity == entity, fw_approval.c.record_id == record_id, fw_approval.c.state == "pending")
        .limit(1)).first()
    if row is None or not row.definition["body"].get("lock_record", True):
        return None
    return row


def editable_by(conn: Connection, approval: Any, actor: Actor) -> frozenset[str]:
    """Returns the fields `actor` may edit on the locked record: the current step's editable_fields
    when they hold an open task on it, else none."""
    if actor.id is None or approval.current_step is None:
        return frozenset()
    holds = conn.execute(sa.select(fw_approval_task.c.id).where(
        fw_approval_task.c.approval_id == approval.id, fw_approval_task.c.round == approval.round,
        fw_approval_task.c.user_id == actor.id, fw_approval_task.c.state == "pending").limit(1)).first()
    if holds is None:
        return frozenset()
    step = next(s for s in approval.definition["body"]["steps"] if s["name"] == approval.current_step)
    return frozenset(step.get("editable_fields", ()))


def refuse_locked(conn: Connection, registry: Any, actor: Actor, entity: str, record_id: int,
                  fields: Iterable[str] | None, locale: str = "en") -> None:
    """Raises ValidationError when the record is locked by a pending approval: for a deletion
    (`fields` None), and for an edit of any field beyond what the actor may edit while it waits.
    The system (the approval's own actions, automations) writes regardless."""
    if actor.id is None:
        return
    approval = pending_lock(conn, registry, entity, record_id)
    if approval is None:
        return
    name = label_text(approval.definition.get("label"), locale) or approval.flow
    if fields is None:
        raise ValidationError(entity, [FieldError(None, _text("locked_delete", locale, flow=name))])
    beyond = sorted(set(fields) - editable_by(conn, approval, actor))
    if beyond:
        raise ValidationError(entity, [FieldError(None, _text("locked", locale, flow=name,
                                                              fields=", ".join(beyond)))])


def opens_for_edit(conn: Connection, registry: Any, actor: Actor, entity: str, record_id: int,
                   fields: Iterable[str]) -> bool:
    """Whether a pending approval lets `actor` edit `fields` of the record although their role does
    not: they decide its current step and every field is one the step makes editable."""
    approval = pending_lock(conn, registry, entity, record_id)
    wanted = set(fields)
    return approval is not None and bool(wanted) and wanted <= editable_by(conn, approval, actor)


MESSAGES: Mapping[str, Mapping[str, str]] = {
    "owned": {"en": "is set by the approval {flow} and cannot be changed by hand",
              "zh": "由审批 {flow} 设置，不能手工修改"},
    "owned_value": {"en": "cannot be set to {value} by hand: only the approval {flow} does that",
                    "zh": "不能手工设为 {value}：只能由审批 {flow} 设置"},
    "locked": {"en": "this record is locked while it waits for the approval {flow}; you cannot change {fields}",
               "zh": "记录正在等待审批 {flow}，已锁定，不能修改 {fields}"},
    "locked_delete": {"en": "this record is locked while it waits for the approval {flow} and cannot be deleted",
                      "zh": "记录正在等待审批 {flow}，已锁定，不能删除"},
}


def _text(key: str, locale: str, **names: str) -> str:
    return MESSAGES[key].get(locale, MESSAGES[key]["en"]).format(**names)
