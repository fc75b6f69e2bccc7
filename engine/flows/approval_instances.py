"""Approval instances as stored: the instance, its approver tasks and log rows, and the Session
one submission or decision shares (its transaction, registry, clock and queued notifications)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

import formula
from engine.data.computed import RecordValues
from engine.data.rows import row_to_record
from engine.errors import FormworkError, NotFound
from engine.flows.automations import ActionsFor, compile_actions, perform_actions
from engine.flows.events import RecordWriter
from engine.flows.notifications import NewNotification, notify
from engine.security.actors import SYSTEM
from engine.storage.db import fw_approval, fw_approval_log, fw_approval_task, fw_user
from metamodel.flows import Action, ApprovalDef, Step, flow_from_document
from metamodel.formula_checks import formula_fields
from metamodel.model import Document, EntityDef, entity_label, label_text, thaw

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
    records: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    def record(self, instance: Instance) -> dict[str, Any]:
        """The record as it is now in this transaction (read once until actions write it again)."""
        key = (instance.entity, instance.record_id)
        if key not in self.records:
            table = self.registry.table(instance.entity)
            row = self.conn.execute(sa.select(table).where(table.c.id == instance.record_id)).mappings().first()
            if row is None:
                raise NotFound(instance.entity, instance.record_id)
            self.records[key] = row_to_record(self.registry.entity(instance.entity), row)
        return self.records[key]

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
        self.records.clear()   # the actions may have written it (or, through automations, others)

    def tell(self, users: Sequence[int], instance: Instance, key: str, **names: str) -> None:
        """Queues an in-app notification about `instance` to each of `users` (written at the end)."""
        if not users:
            return
        locales = _locales(self.conn, users)
        entity = self.registry.entity(instance.entity) if instance.entity in self.registry.entities else None
        title = self._title(instance, entity)
        for user in dict.fromkeys(users):
            locale = locales.get(user, "en")
            about = f"{entity_label(entity, locale) if entity else instance.entity} {title}"
            text = label_text(MESSAGES[key], locale).format(record=about, flow=flow_label(instance, locale), **names)
            self.notes.append(NewNotification(user, text, title=flow_label(instance, locale), entity=instance.entity,
                                              record_id=instance.record_id, flow=instance.flow.name))

    def _title(self, instance: Instance, entity: EntityDef | None) -> str:
        """The record's title ("Acme"), or its id when it has none."""
        if entity is None:
            return str(instance.record_id)
        value = self.record(instance).get(entity.title)
        return str(value) if value not in (None, "") else str(instance.record_id)

    def flush(self) -> None:
        """Writes the queued notifications in this transaction."""
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


def flow_label(instance: Instance, locale: str) -> str:
    return label_text(instance.flow.label, locale) or instance.flow.name


def step_label(step: Step, locale: str = "en") -> str:
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


def save(conn: Connection, instance: Instance) -> None:
    conn.execute(sa.update(fw_approval).where(fw_approval.c.id == instance.id).values(
        state=instance.state, current_step=instance.current_step, round=instance.round, path=list(instance.path),
        chosen=dict(instance.chosen), finished_at=instance.finished_at))


def log_event(s: Session, instance: Instance, action: str, actor_id: int | None, *, step: str | None = None,
         comment: str | None = None, on_behalf_of: int | None = None, **detail: Any) -> None:
    s.conn.execute(sa.insert(fw_approval_log).values(
        approval_id=instance.id, at=s.now, actor_id=actor_id, on_behalf_of=on_behalf_of, action=action,
        step=step, comment=comment or None, flow_version=instance.flow_version, detail=detail))


def set_task(s: Session, task_id: int, **values: Any) -> None:
    s.conn.execute(sa.update(fw_approval_task).where(fw_approval_task.c.id == task_id).values(**values))


def add_task(s: Session, instance: Instance, step: str, position: int, user_id: int, *, state: str,
              required: bool, after: int | None = None, decided: bool = False) -> int:
    return s.conn.execute(sa.insert(fw_approval_task).values(
        approval_id=instance.id, step=step, round=instance.round, position=position, user_id=user_id,
        required=required, after_task_id=after, state=state, created_at=s.now,
        decided_by=user_id if decided else None, decided_at=s.now if decided else None)
        .returning(fw_approval_task.c.id)).scalar_one()


