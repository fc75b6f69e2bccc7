"""What the approval panel and "my approvals" show: a record's approval with its current approvers
and log, and a user's boxes — waiting for me, submitted by me, done by me, copied to me."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.flows import approvers
from engine.flows.approval_instances import Instance, Task, tasks_of
from engine.storage.db import fw_approval, fw_approval_copy, fw_approval_log, fw_approval_task, fw_user

BOXES = ("waiting", "submitted", "done", "copied")


@dataclass(frozen=True)
class LogEntry:
    """One line of an approval's log: `actor` decided `action` (on behalf of `on_behalf_of`)."""
    id: int
    at: datetime
    action: str
    actor_id: int | None          # None: the system (a timeout, a skipped step, the outcome)
    actor: str | None             # the actor's display name
    on_behalf_of: int | None
    on_behalf_of_name: str | None
    step: str | None
    comment: str | None
    flow_version: str | None
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class ApprovalView:
    """A record's approval as its panel shows it: the instance, the current round's tasks and the log."""
    instance: Instance
    tasks: list[Task]
    log: list[LogEntry]

    @property
    def pending_approvers(self) -> list[int]:
        return [t.user_id for t in self.tasks if t.state == "pending"]


@dataclass(frozen=True)
class ApprovalSummary:
    """One line of a "my approvals" box."""
    id: int
    flow: str
    flow_version: str | None
    entity: str
    record_id: int
    state: str
    current_step: str | None
    submitter_id: int | None
    started_at: datetime
    finished_at: datetime | None


def approval_log(conn: Connection, approval_id: int) -> list[LogEntry]:
    """Returns the approval's log, oldest first."""
    actor, behalf = fw_user.alias("actor"), fw_user.alias("behalf")
    query = (sa.select(fw_approval_log, actor.c.display_name.label("actor_name"),
                       behalf.c.display_name.label("behalf_name"))
             .select_from(fw_approval_log.outerjoin(actor, actor.c.id == fw_approval_log.c.actor_id)
                          .outerjoin(behalf, behalf.c.id == fw_approval_log.c.on_behalf_of))
             .where(fw_approval_log.c.approval_id == approval_id).order_by(fw_approval_log.c.id))
    return [LogEntry(r.id, r.at, r.action, r.actor_id, r.actor_name, r.on_behalf_of, r.behalf_name, r.step,
                     r.comment, r.flow_version, dict(r.detail)) for r in conn.execute(query)]


def approval_for_record(conn: Connection, entity: str, record_id: int) -> ApprovalView | None:
    """Returns the record's latest approval (in any state) with its current tasks and log; None
    when it was never submitted."""
    row = conn.execute(sa.select(fw_approval).where(fw_approval.c.entity == entity, fw_approval.c.record_id == record_id)
                       .order_by(fw_approval.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    instance = Instance.from_row(row)
    return ApprovalView(instance, tasks_of(conn, instance, round_=instance.round), approval_log(conn, instance.id))


def _waiting_for(conn: Connection, user_id: int, now: datetime) -> sa.ColumnElement[bool]:
    deciders = [user_id, *approvers.delegators_of(conn, user_id, now)]
    return sa.exists().where(
        fw_approval_task.c.approval_id == fw_approval.c.id, fw_approval_task.c.round == fw_approval.c.round,
        fw_approval_task.c.state == "pending", fw_approval_task.c.user_id.in_(deciders),
        fw_approval.c.state == "pending")


def _box(conn: Connection, user_id: int, box: str, now: datetime) -> sa.ColumnElement[bool]:
    if box == "waiting":
        return _waiting_for(conn, user_id, now)
    if box == "submitted":
        return fw_approval.c.submitter_id == user_id
    if box == "done":
        return sa.exists().where(fw_approval_log.c.approval_id == fw_approval.c.id,
                                 fw_approval_log.c.actor_id == user_id,
                                 fw_approval_log.c.action.in_(("approve", "reject", "transfer", "add_approver")))
    if box == "copied":
        return sa.exists().where(fw_approval_copy.c.approval_id == fw_approval.c.id,
                                 fw_approval_copy.c.user_id == user_id)
    raise ValueError(f"there is no approvals box {box!r} (boxes: {', '.join(BOXES)})")


def my_approvals(conn: Connection, user_id: int, box: str, *, now: datetime, limit: int = 50,
                 before_id: int | None = None) -> list[ApprovalSummary]:
    """Returns the approvals in the user's `box` (waiting, submitted, done, copied), the newest
    first; "waiting" includes those the user decides as a substitute (委托). Page with `before_id`."""
    query = sa.select(fw_approval).where(_box(conn, user_id, box, now)).order_by(fw_approval.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(fw_approval.c.id < before_id)
    return [ApprovalSummary(r.id, r.flow, r.flow_version, r.entity, r.record_id, r.state, r.current_step,
                            r.submitter_id, r.started_at, r.finished_at) for r in conn.execute(query)]


def my_approval_counts(conn: Connection, user_id: int, *, now: datetime) -> dict[str, int]:
    """Returns box -> how many approvals it holds; "submitted" counts only those still under way
    (the navigation shows "waiting")."""
    counts = {}
    for box in BOXES:
        where = _box(conn, user_id, box, now)
        if box == "submitted":
            where = sa.and_(where, fw_approval.c.state.in_(("pending", "returned")))
        counts[box] = conn.execute(sa.select(sa.func.count()).select_from(fw_approval).where(where)).scalar_one()
    return counts
