"""Approvals (审批): the public API — submitting a record and every decision on its approval.
(approval_steps moves an instance through its steps; approval_instances holds the stored rows.)

Each call is one transaction that first locks the instance row (SELECT ... FOR UPDATE on
PostgreSQL; SQLite's BEGIN IMMEDIATE takes one writer at a time) and then checks the task is still
open, so two approvers deciding at once yield one outcome and a decision on a step that has moved
on is refused with a message. An instance runs on the flow document it started with.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.errors import FormworkError
from engine.flows import approvers, timers
from engine.flows.approval_instances import (
    OPEN,
    TIMEOUT,
    ApprovalError,
    Instance,
    NoFlowApplies,
    Session,
    Task,
    add_task,
    document_of,
    flow_label,
    load,
    log_event,
    open_instance,
    save,
    set_task,
    step_label,
    system_writer,
    tasks_of,
)
from engine.flows.approval_steps import (
    approvers_or_fallback,
    close_open_tasks,
    copy_to,
    enter_step,
    finish,
    following_step,
    outcome,
    pass_step,
    tell_waiting,
    timer_key,
)
from engine.flows.events import RecordWriter
from engine.security.actors import SYSTEM, Actor
from engine.security.scopes import check_write
from engine.storage.db import (
    fw_approval,
    fw_approval_task,
    write_transaction,
)
from metamodel.flows import ApprovalDef, Step
from metamodel.model import entity_label


# -- submitting ------------------------------------------------------------------------------------
def flows_for(registry: Any, entity: str) -> tuple[ApprovalDef, ...]:
    """Returns the approval flows of `entity`, tried in ascending priority (then name)."""
    return registry.approval_rules.flows.get(entity, ())


def _instance_of_flow(registry: Any, flow: ApprovalDef) -> dict[str, Any]:
    return document_of(registry.app_of(flow.entity).flows[flow.name])


def applicable_flow(s: Session, entity: str, record_id: int, wanted: str | None = None) -> ApprovalDef:
    """Returns the flow a submission of the record uses: `wanted`, or the first by priority whose
    entry condition holds. Raises ApprovalError when none applies."""
    flows = flows_for(s.registry, entity)
    if wanted is not None:
        flows = tuple(f for f in flows if f.name == wanted)
        if not flows:
            raise NoFlowApplies(f"there is no approval flow {wanted!r} for {entity}")
    probe = _probe(entity, record_id)
    for flow in flows:
        if flow.entry_condition is None or s.holds(replace(probe, flow=flow), flow.entry_condition,
                                                   "the entry condition"):
            return flow
    label = entity_label(s.registry.entity(entity))
    if wanted is not None:
        raise NoFlowApplies(f"this {label} does not meet the entry condition of {wanted}")
    raise NoFlowApplies(f"no approval flow applies to this {label}" if flows
                        else f"{label} records have no approval flow")


def _probe(entity: str, record_id: int) -> Instance:
    """An instance not yet written, to evaluate a flow's formulas on a record before submitting."""
    empty = ApprovalDef("", entity, None, None, ())
    return Instance(0, empty, None, entity, record_id, "new", None, None, 0, [], {}, datetime.min, None)


def submit(runtime: Any, actor: Actor, entity: str, record_id: int, *, flow: str | None = None,
           chosen: Mapping[str, Sequence[int]] | None = None, comment: str | None = None) -> Instance:
    """Submits the record for approval as `actor`; returns the instance, pending at its first step
    (or already finished, when every step was skipped or auto-approved).

    The flow is `flow`, or the first of the entity's by priority whose entry condition holds.
    `chosen` gives, per step that lets the submitter choose (发起人自选), the user ids chosen from
    its candidates. A record back with its submitter (rejected to them) resumes the same instance
    from its first step. Raises ApprovalError when the record already waits for an approval, no
    flow applies, a choice does not fit, or a step finds no approver and refuses; PermissionDenied
    when the actor may not edit the record.
    """
    with write_transaction(runtime.engine) as conn:
        registry = runtime.registry(conn)
        s = Session(conn, registry, runtime.clock(), system_writer(runtime, registry, conn))
        record = runtime.query(actor, registry=registry, conn=conn).get(entity, record_id)
        check_write(actor, registry.entity(entity), "update", record, conn=conn, registry=registry)
        instance = submit_in(s, entity, record_id, actor.id, flow=flow, chosen=chosen, comment=comment)
        s.flush()
        return instance


def submit_in(s: Session, entity: str, record_id: int, submitter_id: int | None, *, flow: str | None = None,
              chosen: Mapping[str, Sequence[int]] | None = None, comment: str | None = None) -> Instance:
    """Submits inside the session's transaction (submit, and the start_approval action); see submit."""
    _lock_record(s, entity, record_id)
    existing = open_instance(s.conn, entity, record_id)
    if existing is not None and existing.state == "pending":
        raise ApprovalError(f"this record already waits for approval ({flow_label(existing, 'en')}, "
                            f"step {existing.current_step}); recall it before submitting again")
    if existing is not None:
        return _resubmit(s, existing, submitter_id, chosen, comment)
    definition = applicable_flow(s, entity, record_id, flow)
    stored = _instance_of_flow(s.registry, definition)
    version = None if definition.version is None else str(definition.version)
    approval_id = s.conn.execute(sa.insert(fw_approval).values(
        flow=definition.name, flow_version=version, definition=stored, entity=entity, record_id=record_id,
        state="pending", submitter_id=submitter_id, round=0, path=[], chosen={}, started_at=s.now)
        .returning(fw_approval.c.id)).scalar_one()
    instance = load(s.conn, approval_id)
    log_event(s, instance, "submit", submitter_id, comment=comment)
    return _start(s, instance, chosen)


def _lock_record(s: Session, entity: str, record_id: int) -> None:
    """Holds the record's row, so two submissions of one record at once cannot both find it free
    (SQLite's BEGIN IMMEDIATE already takes one writer at a time)."""
    if s.conn.dialect.name == "postgresql":
        table = s.registry.table(entity)
        s.conn.execute(sa.select(table.c.id).where(table.c.id == record_id).with_for_update())


def _resubmit(s: Session, instance: Instance, submitter_id: int | None, chosen: Mapping[str, Sequence[int]] | None,
              comment: str | None) -> Instance:
    if submitter_id != instance.submitter_id:
        raise ApprovalError("only the submitter can resubmit a record sent back to them")
    instance.state, instance.path = "pending", []
    log_event(s, instance, "resubmit", submitter_id, comment=comment)
    return _start(s, instance, chosen if chosen is not None else instance.chosen)


def _start(s: Session, instance: Instance, chosen: Mapping[str, Sequence[int]] | None) -> Instance:
    instance.chosen = _checked_choices(s, instance, chosen or {})
    save(s.conn, instance)
    s.perform(instance, instance.flow.on_submit)
    _refuse_unstaffed(s, instance)
    copy_to(s, instance, instance.flow.carbon_copy.on_submit, "submit")
    enter_step(s, instance, 0)
    return load(s.conn, instance.id)


def _checked_choices(s: Session, instance: Instance, chosen: Mapping[str, Sequence[int]]) -> dict[str, list[int]]:
    record = s.record(instance)
    unknown = [name for name in chosen if name not in {step.name for step in instance.flow.steps}]
    if unknown:
        raise ApprovalError(f"approval {instance.flow.name} has no step {unknown[0]!r} to choose approvers for")
    checked: dict[str, list[int]] = {}
    for step in instance.flow.steps:
        if not approvers.chooses(step):
            continue
        try:
            checked[step.name] = approvers.check_chosen(s.conn, step, record, instance.submitter_id,
                                                        [int(u) for u in chosen.get(step.name, ())])
        except approvers.ApproverError as exc:
            raise ApprovalError(exc.message) from None
    return checked


def _refuse_unstaffed(s: Session, instance: Instance) -> None:
    """Refuses the submission when a step the record would reach now finds nobody and says refuse,
    rather than stopping half-way through the approval."""
    index: int | None = 0
    seen: set[int] = set()
    while index is not None and index not in seen:
        seen.add(index)
        step = instance.flow.steps[index]
        if not (step.skip_if and s.holds(instance, step.skip_if, f"the skip_if of step {step.name}")):
            approvers_or_fallback(s, instance, step)
        index = following_step(s, instance, step)


def start_from_automation(conn: Connection, registry: Any, flow: str, entity: str, record: Mapping[str, Any],
                          writer: Callable[[], RecordWriter], now: datetime) -> str:
    """The start_approval action: submits the record to `flow` as the user who saved it; returns
    what happened for the automation's log. A record already under approval, or outside the
    flow's entry condition, is skipped; a step that refuses refuses the save."""
    s = Session(conn, registry, now, writer)
    if open_instance(conn, entity, record["id"]) is not None:
        return "skipped: the record already has an approval under way"
    try:
        instance = submit_in(s, entity, record["id"], record.get("updated_by") or record.get("owner_id"), flow=flow)
    except NoFlowApplies as exc:
        return f"skipped: {exc.message}"
    s.flush()
    return f"submitted approval {instance.id}"


# -- deciding --------------------------------------------------------------------------------------
@contextmanager
def _deciding(runtime: Any, approval_id: int) -> Iterator[tuple[Session, Instance]]:
    with write_transaction(runtime.engine) as conn:
        registry = runtime.registry(conn)
        s = Session(conn, registry, runtime.clock(), system_writer(runtime, registry, conn))
        instance = load(conn, approval_id, lock=True)
        yield s, instance
        s.flush()


def _refuse_unless_pending(instance: Instance, seen_step: str | None) -> Step:
    if instance.state != "pending" or instance.step is None:
        where = "is back with its submitter" if instance.state == "returned" else f"is {instance.state}"
        raise ApprovalError(f"this approval {where}; there is nothing to decide")
    if seen_step is not None and seen_step != instance.current_step:
        raise ApprovalError(f"this approval has moved on from step {seen_step} to step {instance.current_step}")
    return instance.step


def _task_for(s: Session, instance: Instance, actor: Actor, seen_step: str | None) -> tuple[Step, Task]:
    """Returns the open task `actor` decides (theirs, or one they decide as a substitute)."""
    step = _refuse_unless_pending(instance, seen_step)
    tasks = tasks_of(s.conn, instance, round_=instance.round)
    mine = [t for t in tasks if t.user_id == actor.id and t.state == "pending"]
    if not mine and actor.id is not None:
        delegators = set(approvers.delegators_of(s.conn, actor.id, s.now))
        mine = [t for t in tasks if t.user_id in delegators and t.state == "pending"]
    if mine:
        return step, mine[0]
    if any(t.user_id == actor.id and t.state == "waiting" for t in tasks):
        raise ApprovalError(f"step {step.name}: it is not your turn yet")
    if any(t.user_id == actor.id for t in tasks):
        raise ApprovalError(f"step {step.name}: you have already decided")
    raise ApprovalError(f"you are not an approver of step {step.name}")


def _decided(s: Session, task: Task, actor: Actor, state: str, comment: str | None) -> dict[str, Any]:
    behalf = task.user_id if task.user_id != actor.id else None
    set_task(s, task.id, state=state, decided_by=actor.id, on_behalf_of=behalf, decided_at=s.now,
              comment=comment or None)
    return {"on_behalf_of": behalf}


def _activate_after(s: Session, instance: Instance, step: Step, task_id: int) -> None:
    waiting = [t for t in tasks_of(s.conn, instance, round_=instance.round)
               if t.after_task_id == task_id and t.state == "waiting"]
    for task in waiting:
        set_task(s, task.id, state="pending")
    tell_waiting(s, instance, step, [t.user_id for t in waiting])


def _settle(s: Session, instance: Instance, step: Step, reject_to: str | None = None,
            actor: Actor = SYSTEM) -> Instance:
    """Moves the approval on after a task changed: the step passed, rejected, or still open."""
    result = outcome(step, tasks_of(s.conn, instance, round_=instance.round))
    if result == "passed":
        enter_step(s, instance, pass_step(s, instance, step))
    elif result == "rejected":
        _rejected(s, instance, step, reject_to, actor)
    else:
        save(s.conn, instance)
    return instance


def approve(runtime: Any, actor: Actor, approval_id: int, *, comment: str | None = None,
            step: str | None = None) -> Instance:
    """Approves the actor's open task on the current step (or, as a substitute, the task of a user
    who delegated to them; the log says on whose behalf); returns the instance afterwards.

    `step` is the step the actor saw: a decision on a step that has moved on is refused. Raises
    ApprovalError when the approval is not pending or the actor has no open task on it.
    """
    with _deciding(runtime, approval_id) as (s, instance):
        current, task = _task_for(s, instance, actor, step)
        return _approve_task(s, instance, current, task, actor, comment)


def _approve_task(s: Session, instance: Instance, step: Step, task: Task, actor: Actor,
                  comment: str | None) -> Instance:
    detail = _decided(s, task, actor, "approved", comment)
    log_event(s, instance, "approve", actor.id, step=step.name, comment=comment, **detail)
    _activate_after(s, instance, step, task.id)
    return _settle(s, instance, step, actor=actor)


def reject(runtime: Any, actor: Actor, approval_id: int, *, comment: str | None = None, step: str | None = None,
           to_step: str | None = None) -> Instance:
    """Rejects the actor's open task; returns the instance afterwards.

    What a rejected step does is the step's reject_to: end the approval (rejected), send it back
    to the submitter (it waits for resubmission), to the previous step, to a named step, or, with
    "chosen", to `to_step`: a step already passed, or "submitter". A comment is required when the
    flow says so.
    """
    with _deciding(runtime, approval_id) as (s, instance):
        current, task = _task_for(s, instance, actor, step)
        if instance.flow.comment_required_on_reject and not (comment or "").strip():
            raise ApprovalError("a rejection needs a comment saying why")
        target = _reject_target(instance, current, to_step)
        detail = _decided(s, task, actor, "rejected", comment)
        log_event(s, instance, "reject", actor.id, step=current.name, comment=comment, **detail, to=target)
        return _settle(s, instance, current, target, actor)


def _reject_target(instance: Instance, step: Step, chosen: str | None) -> str:
    """Returns where a rejection of `step` sends the approval: "end", "submitter" or a step name."""
    kind = step.reject_to.target
    if kind == "chosen":
        choices = ["submitter", *instance.path]
        if chosen not in choices:
            raise ApprovalError(f"choose where to send it back: {', '.join(choices)}")
        return chosen
    if chosen is not None:
        raise ApprovalError(f"step {step.name} does not let you choose where a rejection goes")
    if kind == "previous":
        return instance.path[-1] if instance.path else "submitter"
    if kind == "step":
        return step.reject_to.step or "end"
    return kind


def _rejected(s: Session, instance: Instance, step: Step, target: str | None, actor: Actor) -> None:
    target = target or _reject_target(instance, step, None)
    if target == "chosen":
        target = "end"
    close_open_tasks(s, instance)
    log_event(s, instance, "step_rejected", None, step=step.name, to=target)
    s.perform(instance, step.on_reject)
    if target == "end":
        finish(s, instance, "rejected")
    elif target == "submitter":
        timers.cancel_prefix(s.conn, TIMEOUT, timer_key(instance))
        instance.state, instance.current_step = "returned", None
        save(s.conn, instance)
        if instance.submitter_id is not None:
            s.tell([instance.submitter_id], instance, "returned")
    else:
        if target in instance.path:
            instance.path = instance.path[:instance.path.index(target)]
        enter_step(s, instance, instance.flow.step_index(target))


def recall(runtime: Any, actor: Actor, approval_id: int, *, comment: str | None = None) -> Instance:
    """撤回: the submitter withdraws a pending (or sent-back) approval, if the flow allows recall."""
    with _deciding(runtime, approval_id) as (s, instance):
        if instance.state not in OPEN:
            raise ApprovalError(f"this approval is {instance.state}; only one under way can be recalled")
        if actor.id != instance.submitter_id:
            raise ApprovalError("only the submitter can recall an approval")
        if not instance.flow.allow_recall:
            raise ApprovalError(f"approval {flow_label(instance, actor.locale)} cannot be recalled")
        timers.cancel_prefix(s.conn, TIMEOUT, timer_key(instance))
        close_open_tasks(s, instance)
        log_event(s, instance, "recall", actor.id, step=instance.current_step, comment=comment)
        instance.state, instance.current_step, instance.finished_at = "recalled", None, s.now
        save(s.conn, instance)
        return load(s.conn, instance.id)


def transfer(runtime: Any, actor: Actor, approval_id: int, to_user: int, *, comment: str | None = None,
             step: str | None = None) -> Instance:
    """转交: hands the actor's open task to `to_user`, who decides instead."""
    with _deciding(runtime, approval_id) as (s, instance):
        current, task = _task_for(s, instance, actor, step)
        _refuse_unfit_user(s, instance, to_user, task.user_id)
        set_task(s, task.id, state="transferred", decided_by=actor.id, decided_at=s.now, comment=comment or None)
        new = add_task(s, instance, current.name, task.position, to_user, state="pending", required=task.required,
                        after=task.after_task_id)
        _repoint_waiting(s, instance, task.id, new)
        log_event(s, instance, "transfer", actor.id, step=current.name, comment=comment,
             on_behalf_of=task.user_id if task.user_id != actor.id else None, to_user=to_user)
        tell_waiting(s, instance, current, [to_user])
        return load(s.conn, instance.id)


def add_approver(runtime: Any, actor: Actor, approval_id: int, user_id: int, *, position: str,
                 comment: str | None = None, step: str | None = None) -> Instance:
    """加签: asks `user_id` to approve too, "before" the actor (who decides after them) or "after"
    (the actor approves now, and the step waits for the added approver as well)."""
    if position not in ("before", "after"):
        raise ApprovalError(f"an approver is added before or after you, not {position!r}")
    with _deciding(runtime, approval_id) as (s, instance):
        current, task = _task_for(s, instance, actor, step)
        _refuse_unfit_user(s, instance, user_id, task.user_id)
        if position == "before":
            new = add_task(s, instance, current.name, task.position - 1, user_id, state="pending", required=True,
                            after=task.after_task_id)
            set_task(s, task.id, state="waiting", after_task_id=new)
            log_event(s, instance, "add_approver", actor.id, step=current.name, comment=comment, user=user_id,
                 position=position)
            tell_waiting(s, instance, current, [user_id])
            return load(s.conn, instance.id)
        detail = _decided(s, task, actor, "approved", comment)
        log_event(s, instance, "approve", actor.id, step=current.name, comment=comment, **detail)
        new = add_task(s, instance, current.name, task.position + 1, user_id, state="pending", required=True)
        _repoint_waiting(s, instance, task.id, new)
        log_event(s, instance, "add_approver", actor.id, step=current.name, user=user_id, position=position)
        tell_waiting(s, instance, current, [user_id])
        return _settle(s, instance, current, actor=actor)


def _refuse_unfit_user(s: Session, instance: Instance, user_id: int, holder: int) -> None:
    if user_id == holder:
        raise ApprovalError("choose someone other than the approver themselves")
    if not approvers.user_exists(s.conn, user_id):
        raise ApprovalError(f"there is no active user {user_id}")
    open_ = [t for t in tasks_of(s.conn, instance, round_=instance.round) if t.state in ("pending", "waiting")]
    if any(t.user_id == user_id for t in open_):
        raise ApprovalError(f"user {user_id} already approves this step")


def _repoint_waiting(s: Session, instance: Instance, old: int, new: int) -> None:
    s.conn.execute(sa.update(fw_approval_task).where(
        fw_approval_task.c.approval_id == instance.id, fw_approval_task.c.round == instance.round,
        fw_approval_task.c.after_task_id == old, fw_approval_task.c.id != new).values(after_task_id=new))


def remind(runtime: Any, actor: Actor, approval_id: int) -> int:
    """催办: tells the approvers the current step waits for (and their substitutes) again; returns
    how many approvers were reminded. Only the submitter or an administrator may."""
    with _deciding(runtime, approval_id) as (s, instance):
        step = _refuse_unless_pending(instance, None)
        if actor.id != instance.submitter_id and not actor.is_admin:
            raise ApprovalError("only the submitter or an administrator can send a reminder")
        return remind_in(s, instance, step, actor.id)


def remind_in(s: Session, instance: Instance, step: Step, actor_id: int | None) -> int:
    """Reminds the pending approvers of the current step inside the session's transaction."""
    users = [t.user_id for t in tasks_of(s.conn, instance, round_=instance.round) if t.state == "pending"]
    substitutes = approvers.substitutes_of(s.conn, users, s.now)
    s.tell([*users, *(sub for u in users for sub in substitutes.get(u, ()))], instance, "remind",
           step=step_label(step))
    log_event(s, instance, "remind", actor_id, step=step.name, users=users)
    return len(users)


@dataclass(frozen=True)
class BatchResult:
    """What a batch approval did: the approvals approved, and why each other one was refused."""
    approved: list[int]
    refused: dict[int, str]


def batch_approve(runtime: Any, actor: Actor, approval_ids: Sequence[int], *,
                  comment: str | None = None) -> BatchResult:
    """Approves each of `approval_ids` as `actor`, each in its own transaction; one refused does not
    stop the others."""
    approved: list[int] = []
    refused: dict[int, str] = {}
    for approval_id in approval_ids:
        try:
            approve(runtime, actor, approval_id, comment=comment)
            approved.append(approval_id)
        except FormworkError as exc:
            refused[approval_id] = getattr(exc, "message", None) or str(exc)
    return BatchResult(approved, refused)


# -- used by timeouts ------------------------------------------------------------------------------
def decide_as_system(s: Session, instance: Instance, step: Step, state: str, comment: str) -> None:
    """Approves or rejects every open task of the current step for the system (a timeout)."""
    for task in tasks_of(s.conn, instance, round_=instance.round):
        if task.state in ("pending", "waiting"):
            set_task(s, task.id, state=state, decided_at=s.now, comment=comment)
    log_event(s, instance, "approve" if state == "approved" else "reject", None, step=step.name, comment=comment)
    reject_to = None if state == "approved" or step.reject_to.target != "chosen" else "end"
    _settle(s, instance, step, reject_to)


def escalate_in(s: Session, instance: Instance, step: Step, to: list[int]) -> None:
    """Hands each open task of the current step to the users in `to` (a timeout's escalation)."""
    tasks = [t for t in tasks_of(s.conn, instance, round_=instance.round) if t.state in ("pending", "waiting")]
    required = any(t.required for t in tasks)
    for task in tasks:
        set_task(s, task.id, state="escalated", decided_at=s.now)
    taken = {t.user_id for t in tasks_of(s.conn, instance, round_=instance.round) if t.state in ("pending", "waiting")}
    fresh = [u for u in dict.fromkeys(to) if u not in taken]
    top = max((t.position for t in tasks_of(s.conn, instance, round_=instance.round)), default=0)
    for number, user in enumerate(fresh, 1):
        add_task(s, instance, step.name, top + number, user, state="pending", required=required)
    log_event(s, instance, "escalate", None, step=step.name, to=fresh)
    tell_waiting(s, instance, step, fresh)
    save(s.conn, instance)


# -- what the submit form asks ---------------------------------------------------------------------
@dataclass(frozen=True)
class SubmitChoices:
    """What submitting the record would use: the flow, and per step that lets the submitter choose
    its approvers (发起人自选), the users to choose from."""
    flow: ApprovalDef
    candidates: Mapping[str, list[approvers.Recipient]]


def submit_choices(runtime: Any, actor: Actor, entity: str, record_id: int, *,
                   flow: str | None = None) -> SubmitChoices:
    """Returns the flow a submission of the record by `actor` would use and whom they may choose
    per step; raises ApprovalError when no flow applies (the submit button can say why)."""
    with runtime.engine.connect() as conn:
        registry = runtime.registry(conn)
        runtime.query(actor, registry=registry, conn=conn).get(entity, record_id)
        s = Session(conn, registry, runtime.clock(), lambda: None)   # type: ignore[arg-type, return-value]
        definition = applicable_flow(s, entity, record_id, flow)
        record = s.record(replace(_probe(entity, record_id), flow=definition))
        return SubmitChoices(definition, {step.name: approvers.candidates(conn, step, record, actor.id)
                                          for step in definition.steps if approvers.chooses(step)})

