"""Approvals (审批): submitting a record, its steps in order, and every decision on them.

Each call is one transaction that first locks the instance row (SELECT ... FOR UPDATE on
PostgreSQL; SQLite's BEGIN IMMEDIATE takes one writer at a time) and then checks the task is still
open, so two approvers deciding at once yield one outcome and a decision on a step that has moved
on is refused with a message. An instance runs on the flow document it started with.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

import formula
from engine.data.computed import RecordValues
from engine.data.rows import row_to_record
from engine.errors import FormworkError, NotFound
from engine.flows import approvers, timers
from engine.flows.approval_time import deadline
from engine.flows.automations import ActionsFor, compile_actions, perform_actions
from engine.flows.events import RecordWriter
from engine.flows.notifications import NewNotification, notify
from engine.security.actors import SYSTEM, Actor
from engine.security.scopes import check_write
from engine.storage.db import (
    fw_approval,
    fw_approval_copy,
    fw_approval_log,
    fw_approval_task,
    fw_user,
    write_transaction,
)
from metamodel.flows import END, Action, ApprovalDef, Step, flow_from_document
from metamodel.formula_checks import formula_fields
from metamodel.model import Document, entity_label, label_text, thaw

TIMEOUT = "approval_timeout"   # the timer kind of a step's timeout
OPEN = ("pending", "returned")  # states in which a record has an approval under way
LIVE_TASK = ("pending", "waiting", "approved", "rejected")   # tasks that count towards the outcome


class ApprovalError(FormworkError):
    """A submission or decision refused: the message says why, for the person who tried."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class NoFlowApplies(ApprovalError):
    """No approval flow of the entity (or not the one asked for) applies to the record."""


# -- what an instance is ---------------------------------------------------------------------------
@dataclass
class Instance:
    """One approval of one record, as stored; `flow` is the definition it started with."""
    id: int
    flow: ApprovalDef
    flow_version: str | None
    entity: str
    record_id: int
    state: str
    submitter_id: int | None
    current_step: str | None
    round: int
    path: list[str]
    chosen: dict[str, list[int]]
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Instance:
        return cls(row.id, definition_of(row.definition), row.flow_version, row.entity, row.record_id, row.state,
                   row.submitter_id, row.current_step, row.round, list(row.path), dict(row.chosen),
                   row.started_at, row.finished_at)

    @property
    def step(self) -> Step | None:
        """The step deciding now (None when finished or back with the submitter)."""
        return None if self.current_step is None else self.flow.steps[self.flow.step_index(self.current_step)]


@dataclass(frozen=True)
class Task:
    id: int
    step: str
    round: int
    position: int
    user_id: int
    required: bool
    after_task_id: int | None
    state: str
    decided_by: int | None
    on_behalf_of: int | None
    decided_at: datetime | None
    comment: str | None

    @classmethod
    def from_row(cls, row: Any) -> Task:
        return cls(row.id, row.step, row.round, row.position, row.user_id, row.required, row.after_task_id,
                   row.state, row.decided_by, row.on_behalf_of, row.decided_at, row.comment)


def document_of(document: Document) -> dict[str, Any]:
    """The flow document as stored with an instance."""
    return thaw({"name": document.name, "kind": document.kind, "entity": document.entity, "label": document.label,
                 "version": document.version, "body": document.body})


def definition_of(stored: Mapping[str, Any]) -> ApprovalDef:
    """Returns the approval an instance stored when it started."""
    document = Document(stored["name"], stored["kind"], stored["entity"], stored["label"], stored["body"],
                        stored["version"])
    return flow_from_document(document)   # type: ignore[return-value]


# -- the session of one call: a transaction, its clock and the registry ----------------------------
@dataclass
class Session:
    """What every step of a submission or decision shares: the transaction, the registry (for
    records and formulas), the time, and how actions write (as the system, in this transaction)."""
    conn: Connection
    registry: Any
    now: datetime
    writer: Callable[[], RecordWriter]
    notes: list[NewNotification] = field(default_factory=list)

    def record(self, instance: Instance) -> dict[str, Any]:
        table = self.registry.table(instance.entity)
        row = self.conn.execute(sa.select(table).where(table.c.id == instance.record_id)).mappings().first()
        if row is None:
            raise NotFound(instance.entity, instance.record_id)
        return row_to_record(self.registry.entity(instance.entity), row)

    def holds(self, instance: Instance, source: str, what: str) -> bool:
        """Evaluates a boolean formula of the flow on the record as it is now."""
        app = self.registry.app_of(instance.entity)
        entity = self.registry.entity(instance.entity)
        try:
            compiled = formula.compile(source, formula_fields(app, instance.entity, source))
            values = RecordValues(self.conn, self.registry).values(entity, self.record(instance), compiled.paths,
                                                                   stored_record=True)
            return bool(compiled.evaluate(values, now=self.now))
        except formula.FormulaError as exc:
            raise ApprovalError(f"approval {instance.flow.name}: {what} could not be evaluated: {exc.message}") from None

    def perform(self, instance: Instance, actions: tuple[Action, ...]) -> None:
        if not actions:
            return
        app = self.registry.app_of(instance.entity)
        what = ActionsFor(instance.flow.name, instance.flow.version, "approval", instance.entity,
                          self.record(instance), compile_actions(app, instance.entity, actions))
        perform_actions(self.conn, self.registry, what, self.writer, self.now)

    def tell(self, users: Sequence[int], instance: Instance, key: str, **names: str) -> None:
        """Queues an in-app notification about `instance` to each of `users` (written at the end)."""
        locales = _locales(self.conn, users)
        entity = self.registry.entity(instance.entity) if instance.entity in self.registry.entities else None
        for user in dict.fromkeys(users):
            locale = locales.get(user, "en")
            about = f"{entity_label(entity, locale) if entity else instance.entity} {instance.record_id}"
            text = label_text(MESSAGES[key], locale).format(record=about, flow=_flow_label(instance, locale), **names)
            self.notes.append(NewNotification(user, text, title=_flow_label(instance, locale), entity=instance.entity,
                                              record_id=instance.record_id, flow=instance.flow.name))

    def flush(self) -> None:
        notify(self.conn, self.notes, now=self.now)
        self.notes.clear()


MESSAGES: Mapping[str, Mapping[str, str]] = {
    "waiting": {"en": "{record} waits for your approval ({step})", "zh": "{record} 等待您审批（{step}）"},
    "remind": {"en": "Reminder: {record} still waits for your approval ({step})",
               "zh": "催办：{record} 仍在等待您审批（{step}）"},
    "approved": {"en": "{record} was approved", "zh": "{record} 已审批通过"},
    "rejected": {"en": "{record} was rejected", "zh": "{record} 已被驳回"},
    "returned": {"en": "{record} was sent back to you for changes", "zh": "{record} 已退回给您修改"},
    "copied": {"en": "For your information: {record} was submitted for {flow}", "zh": "抄送：{record} 已提交{flow}"},
    "copied_finish": {"en": "For your information: {record} finished {flow}: {state}",
                      "zh": "抄送：{record} 的{flow}已结束：{state}"},
}


def _flow_label(instance: Instance, locale: str) -> str:
    return label_text(instance.flow.label, locale) or instance.flow.name


def _step_label(step: Step, locale: str = "en") -> str:
    return label_text(step.label, locale) or step.name


def _locales(conn: Connection, users: Sequence[int]) -> dict[int, str]:
    if not users:
        return {}
    return dict(conn.execute(sa.select(fw_user.c.id, fw_user.c.locale).where(fw_user.c.id.in_(list(users)))).all())


def system_writer(runtime: Any, registry: Any, conn: Connection) -> Callable[[], RecordWriter]:
    """How an approval's actions write: through the write path, as the system, in `conn`'s transaction."""
    from engine.data.records import RecordService

    return lambda: RecordService(runtime.engine, registry, SYSTEM, runtime.clock, conn=conn)


# -- reading and writing the rows ------------------------------------------------------------------
def load(conn: Connection, approval_id: int, *, lock: bool = False) -> Instance:
    """Returns the instance `approval_id`; with `lock`, holds its row until the transaction ends."""
    query = sa.select(fw_approval).where(fw_approval.c.id == approval_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise ApprovalError(f"there is no approval {approval_id}")
    return Instance.from_row(row)


def open_instance(conn: Connection, entity: str, record_id: int) -> Instance | None:
    """Returns the record's approval under way (pending, or back with the submitter), if any."""
    row = conn.execute(sa.select(fw_approval).where(
        fw_approval.c.entity == entity, fw_approval.c.record_id == record_id, fw_approval.c.state.in_(OPEN))
        .order_by(fw_approval.c.id.desc()).limit(1)).first()
    return Instance.from_row(row) if row is not None else None


def tasks_of(conn: Connection, instance: Instance, *, round_: int | None = None) -> list[Task]:
    """Returns the instance's tasks (of one round), in step order and position."""
    query = sa.select(fw_approval_task).where(fw_approval_task.c.approval_id == instance.id)
    if round_ is not None:
        query = query.where(fw_approval_task.c.round == round_)
    return [Task.from_row(r) for r in conn.execute(query.order_by(fw_approval_task.c.round,
                                                                  fw_approval_task.c.position,
                                                                  fw_approval_task.c.id))]


def _save(conn: Connection, instance: Instance) -> None:
    conn.execute(sa.update(fw_approval).where(fw_approval.c.id == instance.id).values(
        state=instance.state, current_step=instance.current_step, round=instance.round, path=list(instance.path),
        chosen=dict(instance.chosen), finished_at=instance.finished_at))


def _log(s: Session, instance: Instance, action: str, actor_id: int | None, *, step: str | None = None,
         comment: str | None = None, on_behalf_of: int | None = None, **detail: Any) -> None:
    s.conn.execute(sa.insert(fw_approval_log).values(
        approval_id=instance.id, at=s.now, actor_id=actor_id, on_behalf_of=on_behalf_of, action=action,
        step=step, comment=comment or None, flow_version=instance.flow_version, detail=detail))


def _set_task(s: Session, task_id: int, **values: Any) -> None:
    s.conn.execute(sa.update(fw_approval_task).where(fw_approval_task.c.id == task_id).values(**values))


def _add_task(s: Session, instance: Instance, step: str, position: int, user_id: int, *, state: str,
              required: bool, after: int | None = None, decided: bool = False) -> int:
    return s.conn.execute(sa.insert(fw_approval_task).values(
        approval_id=instance.id, step=step, round=instance.round, position=position, user_id=user_id,
        required=required, after_task_id=after, state=state, created_at=s.now,
        decided_by=user_id if decided else None, decided_at=s.now if decided else None)
        .returning(fw_approval_task.c.id)).scalar_one()


# -- steps -----------------------------------------------------------------------------------------
def _timer_key(instance: Instance) -> str:
    return f"approval:{instance.id}:"


def _enter(s: Session, instance: Instance, index: int | None) -> None:
    """Starts the step at `index` (None: the approval is approved), skipping the steps whose
    skip_if holds or that find no approver and say skip."""
    timers.cancel_prefix(s.conn, TIMEOUT, _timer_key(instance))
    while index is not None:
        step = instance.flow.steps[index]
        instance.round += 1
        instance.current_step = step.name
        if step.skip_if and s.holds(instance, step.skip_if, f"the skip_if of step {step.name}"):
            _log(s, instance, "skip", None, step=step.name, reason="skip_if")
            index = _following(s, instance, step)
            continue
        users = _approvers_or_fallback(s, instance, step)
        if users is None:
            _log(s, instance, "skip", None, step=step.name, reason="no approver")
            index = _following(s, instance, step)
            continue
        _open_step(s, instance, step, users)
        outcome = _outcome(step, tasks_of(s.conn, instance, round_=instance.round))
        if outcome != "passed":
            _save(s.conn, instance)
            _schedule_timeout(s, instance, step)
            return
        index = _passed(s, instance, step)
    _finish(s, instance, "approved")


def _approvers_or_fallback(s: Session, instance: Instance, step: Step) -> list[int] | None:
    """Returns who decides `step`; None to skip it. Raises ApprovalError when the step refuses."""
    record = s.record(instance)
    users = approvers.step_approvers(s.conn, step, record, instance.submitter_id, instance.chosen.get(step.name, ()))
    if users:
        return users
    action = step.when_no_approver.action if step.when_no_approver else "refuse"
    if action == "skip":
        return None
    if action == "route_to_admin":
        admins = approvers.administrators(s.conn)
        if admins:
            return admins
    raise ApprovalError(_no_approver_message(step))


def _no_approver_message(step: Step) -> str:
    if step.when_no_approver and step.when_no_approver.message:
        return label_text(step.when_no_approver.message)
    return f"step {_step_label(step)} has nobody to approve it; ask an administrator to set up its approvers"


def _open_step(s: Session, instance: Instance, step: Step, users: list[int]) -> None:
    """Writes the step's tasks: the auto-approved ones approved at once (自动去重), the others
    pending, or in a sequence each waiting for the one before."""
    approved_before = _approved_earlier(s.conn, instance, step)
    sequence, required = step.mode == "sequence", step.mode in ("all", "sequence")
    previous: int | None = None
    open_before = False
    waiting: list[int] = []
    for position, user in enumerate(users):
        auto = ((step.auto_approve.if_submitter and user == instance.submitter_id)
                or (step.auto_approve.if_already_approved and user in approved_before))
        if auto:
            state = "approved"
        else:
            state = "waiting" if sequence and open_before else "pending"
            open_before = open_before or sequence
        task = _add_task(s, instance, step.name, position * 10, user, state=state, required=required,
                         after=previous if sequence else None, decided=auto)
        if auto:
            _log(s, instance, "auto_approve", user, step=step.name,
                 reason="submitter" if user == instance.submitter_id else "already approved")
        elif state == "pending":
            waiting.append(user)
        previous = task
    _log(s, instance, "step", None, step=step.name, approvers=users)
    _tell_waiting(s, instance, step, waiting)


def _tell_waiting(s: Session, instance: Instance, step: Step, users: Sequence[int]) -> None:
    substitutes = approvers.substitutes_of(s.conn, users, s.now)
    everyone = [*users, *(sub for user in users for sub in substitutes.get(user, ()))]
    s.tell(everyone, instance, "waiting", step=_step_label(step))


def _approved_earlier(conn: Connection, instance: Instance, step: Step) -> set[int]:
    return set(conn.execute(sa.select(fw_approval_task.c.user_id).where(
        fw_approval_task.c.approval_id == instance.id, fw_approval_task.c.state == "approved",
        fw_approval_task.c.step != step.name)).scalars())


def _outcome(step: Step, tasks: Sequence[Task]) -> str:
    """Returns "passed", "rejected" or "open" for the tasks of one round of `step`.

    Added approvers (加签) and, in all and sequence modes, every approver must approve; in any
    and n_of_m modes the other approvers pass the step with one, or required_approvals, approvals.
    A rejection rejects the step, except in n_of_m while enough approvals can still come.
    """
    live = [t for t in tasks if t.state in LIVE_TASK]
    optional = [t for t in live if not t.required]
    threshold = min({"any": 1, "n_of_m": step.required_approvals or 1}.get(step.mode, 0), len(optional))
    approved = sum(t.state == "approved" for t in optional)
    undecided = sum(t.state in ("pending", "waiting") for t in optional)
    rejected = [t for t in live if t.state == "rejected"]
    if rejected and (step.mode != "n_of_m" or any(t.required for t in rejected)):
        return "rejected"
    if approved + undecided < threshold:
        return "rejected"
    if approved >= threshold and all(t.state == "approved" for t in live if t.required):
        return "passed"
    return "open"


def _close_open_tasks(s: Session, instance: Instance) -> None:
    s.conn.execute(sa.update(fw_approval_task).where(
        fw_approval_task.c.approval_id == instance.id, fw_approval_task.c.round == instance.round,
        fw_approval_task.c.state.in_(("pending", "waiting"))).values(state="cancelled"))


def _passed(s: Session, instance: Instance, step: Step) -> int | None:
    """Closes a step that passed, runs its on_approve; returns the index of the next step (None: end)."""
    _close_open_tasks(s, instance)
    _log(s, instance, "step_approved", None, step=step.name)
    instance.path.append(step.name)
    s.perform(instance, step.on_approve)
    return _following(s, instance, step)


def _following(s: Session, instance: Instance, step: Step) -> int | None:
    """Returns the index of the step after `step`: the first branch whose `when` holds, else the next one."""
    index = instance.flow.step_index(step.name)
    for branch in step.next:
        if branch.when is None or s.holds(instance, branch.when, f"a branch of step {step.name}"):
            return None if branch.go_to == END else instance.flow.step_index(branch.go_to)
    if step.next:
        return None   # no branch held: like Salesforce, the approval ends approved
    return index + 1 if index + 1 < len(instance.flow.steps) else None


def _schedule_timeout(s: Session, instance: Instance, step: Step) -> None:
    if step.timeout is None:
        return
    timers.schedule(s.conn, TIMEOUT, f"{_timer_key(instance)}{instance.round}",
                    deadline(s.now, step.timeout.after),
                    {"approval_id": instance.id, "step": step.name, "round": instance.round}, now=s.now)


def _finish(s: Session, instance: Instance, state: str) -> None:
    """Ends the approval approved or rejected: its end actions, the carbon copy, the submitter told."""
    timers.cancel_prefix(s.conn, TIMEOUT, _timer_key(instance))
    instance.state, instance.current_step, instance.finished_at = state, None, s.now
    _save(s.conn, instance)
    _log(s, instance, state, None)
    s.perform(instance, instance.flow.on_approved if state == "approved" else instance.flow.on_rejected)
    if instance.submitter_id is not None:
        s.tell([instance.submitter_id], instance, state)
    _copy(s, instance, instance.flow.carbon_copy.on_finish, "finish", state=state)


def _copy(s: Session, instance: Instance, parties: tuple, occasion: str, **names: str) -> None:
    """抄送: records and tells the carbon copies of `occasion` (submit, finish)."""
    if not parties:
        return
    users = approvers.parties_users(s.conn, parties, s.record(instance), instance.submitter_id)
    if not users:
        return
    s.conn.execute(sa.insert(fw_approval_copy), [
        {"approval_id": instance.id, "user_id": u, "at": s.now, "occasion": occasion} for u in users])
    s.tell(users, instance, "copied" if occasion == "submit" else "copied_finish", **names)


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
    existing = open_instance(s.conn, entity, record_id)
    if existing is not None and existing.state == "pending":
        raise ApprovalError(f"this record already waits for approval ({_flow_label(existing, 'en')}, "
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
    _log(s, instance, "submit", submitter_id, comment=comment)
    return _start(s, instance, chosen)


def _resubmit(s: Session, instance: Instance, submitter_id: int | None, chosen: Mapping[str, Sequence[int]] | None,
              comment: str | None) -> Instance:
    if submitter_id != instance.submitter_id:
        raise ApprovalError("only the submitter can resubmit a record sent back to them")
    instance.state, instance.path = "pending", []
    _log(s, instance, "resubmit", submitter_id, comment=comment)
    return _start(s, instance, chosen if chosen is not None else instance.chosen)


def _start(s: Session, instance: Instance, chosen: Mapping[str, Sequence[int]] | None) -> Instance:
    instance.chosen = _checked_choices(s, instance, chosen or {})
    _save(s.conn, instance)
    s.perform(instance, instance.flow.on_submit)
    _refuse_unstaffed(s, instance)
    _copy(s, instance, instance.flow.carbon_copy.on_submit, "submit")
    _enter(s, instance, 0)
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
            _approvers_or_fallback(s, instance, step)
        index = _following(s, instance, step)


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
    _set_task(s, task.id, state=state, decided_by=actor.id, on_behalf_of=behalf, decided_at=s.now,
              comment=comment or None)
    return {"on_behalf_of": behalf}


def _activate_after(s: Session, instance: Instance, step: Step, task_id: int) -> None:
    waiting = [t for t in tasks_of(s.conn, instance, round_=instance.round)
               if t.after_task_id == task_id and t.state == "waiting"]
    for task in waiting:
        _set_task(s, task.id, state="pending")
    _tell_waiting(s, instance, step, [t.user_id for t in waiting])


def _settle(s: Session, instance: Instance, step: Step, reject_to: str | None = None,
            actor: Actor = SYSTEM) -> Instance:
    """Moves the approval on after a task changed: the step passed, rejected, or still open."""
    outcome = _outcome(step, tasks_of(s.conn, instance, round_=instance.round))
    if outcome == "passed":
        _enter(s, instance, _passed(s, instance, step))
    elif outcome == "rejected":
        _rejected(s, instance, step, reject_to, actor)
    else:
        _save(s.conn, instance)
    return load(s.conn, instance.id)


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
    _log(s, instance, "approve", actor.id, step=step.name, comment=comment, **detail)
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
        _log(s, instance, "reject", actor.id, step=current.name, comment=comment, **detail, to=target)
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
    _close_open_tasks(s, instance)
    _log(s, instance, "step_rejected", None, step=step.name, to=target)
    s.perform(instance, step.on_reject)
    if target == "end":
        _finish(s, instance, "rejected")
    elif target == "submitter":
        timers.cancel_prefix(s.conn, TIMEOUT, _timer_key(instance))
        instance.state, instance.current_step = "returned", None
        _save(s.conn, instance)
        if instance.submitter_id is not None:
            s.tell([instance.submitter_id], instance, "returned")
    else:
        if target in instance.path:
            instance.path = instance.path[:instance.path.index(target)]
        _enter(s, instance, instance.flow.step_index(target))


def recall(runtime: Any, actor: Actor, approval_id: int, *, comment: str | None = None) -> Instance:
    """撤回: the submitter withdraws a pending (or sent-back) approval, if the flow allows recall."""
    with _deciding(runtime, approval_id) as (s, instance):
        if instance.state not in OPEN:
            raise ApprovalError(f"this approval is {instance.state}; only one under way can be recalled")
        if actor.id != instance.submitter_id:
            raise ApprovalError("only the submitter can recall an approval")
        if not instance.flow.allow_recall:
            raise ApprovalError(f"approval {_flow_label(instance, actor.locale)} cannot be recalled")
        timers.cancel_prefix(s.conn, TIMEOUT, _timer_key(instance))
        _close_open_tasks(s, instance)
        _log(s, instance, "recall", actor.id, step=instance.current_step, comment=comment)
        instance.state, instance.current_step, instance.finished_at = "recalled", None, s.now
        _save(s.conn, instance)
        return load(s.conn, instance.id)


def transfer(runtime: Any, actor: Actor, approval_id: int, to_user: int, *, comment: str | None = None,
             step: str | None = None) -> Instance:
    """转交: hands the actor's open task to `to_user`, who decides instead."""
    with _deciding(runtime, approval_id) as (s, instance):
        current, task = _task_for(s, instance, actor, step)
        _refuse_unfit_user(s, instance, to_user, task.user_id)
        _set_task(s, task.id, state="transferred", decided_by=actor.id, decided_at=s.now, comment=comment or None)
        new = _add_task(s, instance, current.name, task.position, to_user, state="pending", required=task.required,
                        after=task.after_task_id)
        _repoint_waiting(s, instance, task.id, new)
        _log(s, instance, "transfer", actor.id, step=current.name, comment=comment,
             on_behalf_of=task.user_id if task.user_id != actor.id else None, to_user=to_user)
        _tell_waiting(s, instance, current, [to_user])
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
            new = _add_task(s, instance, current.name, task.position - 1, user_id, state="pending", required=True,
                            after=task.after_task_id)
            _set_task(s, task.id, state="waiting", after_task_id=new)
            _log(s, instance, "add_approver", actor.id, step=current.name, comment=comment, user=user_id,
                 position=position)
            _tell_waiting(s, instance, current, [user_id])
            return load(s.conn, instance.id)
        detail = _decided(s, task, actor, "approved", comment)
        _log(s, instance, "approve", actor.id, step=current.name, comment=comment, **detail)
        new = _add_task(s, instance, current.name, task.position + 1, user_id, state="pending", required=True)
        _repoint_waiting(s, instance, task.id, new)
        _log(s, instance, "add_approver", actor.id, step=current.name, user=user_id, position=position)
        _tell_waiting(s, instance, current, [user_id])
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
           step=_step_label(step))
    _log(s, instance, "remind", actor_id, step=step.name, users=users)
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
            _set_task(s, task.id, state=state, decided_at=s.now, comment=comment)
    _log(s, instance, "approve" if state == "approved" else "reject", None, step=step.name, comment=comment)
    reject_to = None if state == "approved" or step.reject_to.target != "chosen" else "end"
    _settle(s, instance, step, reject_to)


def escalate_in(s: Session, instance: Instance, step: Step, to: list[int]) -> None:
    """Hands each open task of the current step to the users in `to` (a timeout's escalation)."""
    tasks = [t for t in tasks_of(s.conn, instance, round_=instance.round) if t.state in ("pending", "waiting")]
    required = any(t.required for t in tasks)
    for task in tasks:
        _set_task(s, task.id, state="escalated", decided_at=s.now)
    taken = {t.user_id for t in tasks_of(s.conn, instance, round_=instance.round) if t.state in ("pending", "waiting")}
    fresh = [u for u in dict.fromkeys(to) if u not in taken]
    top = max((t.position for t in tasks_of(s.conn, instance, round_=instance.round)), default=0)
    for number, user in enumerate(fresh, 1):
        _add_task(s, instance, step.name, top + number, user, state="pending", required=required)
    _log(s, instance, "escalate", None, step=step.name, to=fresh)
    _tell_waiting(s, instance, step, fresh)
    _save(s.conn, instance)


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
