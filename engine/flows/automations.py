"""Record-triggered automations: compiled once per registry, run in the save's transaction.

Field writes go back through the write path as the system (so validation applies); what leaves
the database goes to the outbox; every run is logged. A failing action refuses the whole save.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

import formula
from engine.data.computed import SYSTEM_USER_FIELDS, RecordValues
from engine.data.rows import json_value
from engine.errors import FieldError, FormworkError, ValidationError
from engine.flows.notifications import Note, write_notifications
from engine.flows.outbox import OutboxMessage, queue_messages
from engine.flows.parties import PartyError, assigned_user, can_assign, resolve_users
from engine.flows.runlog import FlowRun, log_runs
from engine.storage.tables import stored_fields
from metamodel.flows import (
    Action,
    Assign,
    Assignee,
    AutomationDef,
    CallWebhook,
    CreateRecord,
    Notify,
    SendEmail,
    StartApproval,
    Trigger,
    UpdateRecord,
)
from metamodel.formula_checks import formula_fields
from metamodel.model import AppDef, EntityDef

if TYPE_CHECKING:
    from engine.flows.events import RecordEvent, RecordWriter

RECORD_TRIGGERS = {"created": ("created",), "updated": ("updated",), "deleted": ("deleted",),
                   "field_changed": ("created", "updated")}
ACTION_TYPES = {UpdateRecord: "update_record", CreateRecord: "create_record", Assign: "assign",
                Notify: "notify", SendEmail: "email", CallWebhook: "webhook", StartApproval: "start_approval"}


class ActionFailed(FormworkError):
    """An action could not do what it says; the message is the reason a user reads."""


# -- compiled once per registry ------------------------------------------------------------------
@dataclass(frozen=True)
class CompiledAction:
    action: Action
    values: Mapping[str, formula.CompiledFormula]   # update_record / create_record: field -> formula

    @property
    def type(self) -> str:
        return ACTION_TYPES[type(self.action)]


@dataclass(frozen=True)
class CompiledAutomation:
    flow: AutomationDef
    condition: formula.CompiledFormula | None
    actions: tuple[CompiledAction, ...]
    watched: tuple[str, ...]   # field_changed: the record keys compared (owner -> owner_id)

    def fires_on(self, event: RecordEvent) -> bool:
        """Whether the event is this automation's trigger; field_changed needs a watched field to
        differ from before (on creation: from blank)."""
        if event.kind not in RECORD_TRIGGERS[self.flow.trigger.on]:
            return False
        if self.flow.trigger.on != "field_changed":
            return True
        old = event.old or {}
        return any(event.record.get(key) != old.get(key) for key in self.watched)


def compile_actions(app: AppDef, entity: str, actions: tuple[Action, ...]) -> tuple[CompiledAction, ...]:
    """Returns the actions with their field formulas compiled against `entity` of `app`."""
    def compiled(source: str) -> formula.CompiledFormula:
        return formula.compile(source, formula_fields(app, entity, source))
    return tuple(CompiledAction(a, {f: compiled(s) for f, s in getattr(a, "set", {}).items()}) for a in actions)


def compile_automations(app: AppDef) -> dict[str, tuple[CompiledAutomation, ...]]:
    """Returns entity -> its enabled record-triggered automations, in name order, compiled."""
    found: dict[str, list[CompiledAutomation]] = {}
    for name in sorted(app.flow_definitions):
        flow = app.flow_definitions[name]
        if not isinstance(flow, AutomationDef) or not flow.enabled or flow.trigger.on not in RECORD_TRIGGERS:
            continue
        def compiled(source: str, entity: str = flow.entity) -> formula.CompiledFormula:
            return formula.compile(source, formula_fields(app, entity, source))
        actions = compile_actions(app, flow.entity, flow.actions)
        watched = tuple(SYSTEM_USER_FIELDS.get(f, f) for f in flow.trigger.fields)
        condition = compiled(flow.condition) if flow.condition else None
        found.setdefault(flow.entity, []).append(CompiledAutomation(flow, condition, actions, watched))
    return {entity: tuple(automations) for entity, automations in found.items()}


# -- running -------------------------------------------------------------------------------------
def run_automations(conn: Connection, registry: Any, event: RecordEvent,
                    automations: list[CompiledAutomation], writer: Callable[[], RecordWriter],
                    now: datetime) -> bool:
    """Runs the triggered automations in order; returns whether any condition held.

    The runs are logged together once all have run, and their outbox rows after them (a few
    statements per save however many automations it triggers).
    """
    logged: list[tuple[FlowRun, list[OutboxMessage]]] = []
    ran = False
    for automation in automations:
        run = _Run(conn, registry, event, automation, writer, now)
        if run.condition_holds():
            logged.append((run.perform(), run.messages))
            ran = True
        else:
            logged.append((run.logged(False, [], None), []))
    run_ids = log_runs(conn, [entry for entry, _ in logged])
    for run_id, (entry, messages) in zip(run_ids, logged, strict=True):
        queue_messages(conn, messages, flow=entry.flow, run_id=run_id, now=now)
    return ran


def stop_automations(conn: Connection, registry: Any, event: RecordEvent,
                     automations: list[CompiledAutomation], now: datetime, depth: int) -> None:
    """Logs the automations not run because automations retriggered one another `depth` levels deep."""
    message = f"not run: automations triggered one another {depth} levels deep (the limit)"
    log_runs(conn, [_Run(conn, registry, event, a, lambda: None, now).logged(None, [], message)  # type: ignore[arg-type]
                    for a in automations])


@dataclass(frozen=True)
class ActionsFor:
    """Actions another kind of flow performs on one record (an approval's on_submit, a step's
    on_approve, ...): which flow, at which version, on what occasion ("approval"), and the
    record as it is now."""
    flow: str
    version: int | str | None
    occasion: str
    entity: str
    record: Mapping[str, Any]
    actions: tuple[CompiledAction, ...]


def perform_actions(conn: Connection, registry: Any, what: ActionsFor, writer: Callable[[], RecordWriter],
                    now: datetime) -> FlowRun:
    """Performs `what.actions` in order with the automation performers, in the caller's transaction;
    logs the run and queues its outbox rows like an automation's; returns the logged run. Raises
    ValidationError naming the flow and the action when one fails."""
    from engine.flows.events import RecordEvent

    flow = AutomationDef(what.flow, what.entity, None, what.version, Trigger(what.occasion), ())
    event = RecordEvent("updated", what.entity, what.record["id"], what.record, what.record)
    run = _Run(conn, registry, event, CompiledAutomation(flow, None, what.actions, ()), writer, now, noun="approval")
    entry = run.perform()
    [run_id] = log_runs(conn, [entry])
    queue_messages(conn, run.messages, flow=what.flow, run_id=run_id, now=now)
    return entry


class _Run:
    """One automation run for one event: its condition, its actions in order, its log row."""

    def __init__(self, conn: Connection, registry: Any, event: RecordEvent, automation: CompiledAutomation,
                 writer: Callable[[], RecordWriter], now: datetime, noun: str = "automation"):
        self.noun = noun   # how refusals name the flow: "automation lead_intake, action 2 ..."
        self.conn = conn
        self.registry = registry
        self.event = event
        self.automation = automation
        self.flow = automation.flow
        self.entity: EntityDef = registry.entity(event.entity)
        self.record: Mapping[str, Any] = event.record
        self.writer = writer
        self.now = now
        self.started = time.perf_counter()
        self.messages: list[OutboxMessage] = []

    # -- formulas --------------------------------------------------------------------------------
    def _evaluate(self, compiled: formula.CompiledFormula) -> Any:
        values = RecordValues(self.conn, self.registry).values(self.entity, self.record, compiled.paths,
                                                               stored_record=True)
        return compiled.evaluate(values, prior=self.event.old, is_new=self.event.kind == "created", now=self.now)

    def condition_holds(self) -> bool:
        if self.automation.condition is None:
            return True
        try:
            return bool(self._evaluate(self.automation.condition))
        except formula.FormulaError as exc:
            raise self._refusal(f"automation {self.flow.name}: the condition could not be evaluated: "
                                f"{exc.message}") from None

    # -- actions ---------------------------------------------------------------------------------
    def perform(self) -> FlowRun:
        """Performs the actions in order; returns the run to log. Raises ValidationError naming the
        automation and the action when one fails, which refuses the save."""
        done: list[dict[str, Any]] = []
        for number, action in enumerate(self.automation.actions, 1):
            try:
                result = _PERFORMERS[type(action.action)](self, action)
            except (ActionFailed, PartyError, formula.FormulaError, FormworkError) as exc:
                reason = getattr(exc, "message", None) or str(exc)
                raise self._refusal(f"{self.noun} {self.flow.name}, action {number} ({action.type}): {reason}") from None
            done.append({"type": action.type, "result": result})
        return self.logged(True, done, None)

    def logged(self, condition: bool | None, actions: list[dict[str, Any]], error: str | None) -> FlowRun:
        return FlowRun(None, self.now, self.flow.name, None if self.flow.version is None else str(self.flow.version),
                       self.registry.revision, self.event.entity, self.event.record_id, self.flow.trigger.on,
                       condition, tuple(actions), error, (time.perf_counter() - self.started) * 1000)

    def _refusal(self, message: str) -> ValidationError:
        return ValidationError(self.event.entity, [FieldError(None, message)])

    def _values(self, action: CompiledAction) -> dict[str, Any]:
        return {name: self._evaluate(compiled) for name, compiled in action.values.items()}

    def _write_own(self, values: Mapping[str, Any]) -> None:
        if self.event.kind == "deleted":
            raise ActionFailed("the record was deleted")
        # Later actions read the record as this write left it (the system sees every field).
        self.record = self.writer().update(self.entity.name, self.event.record_id, values)

    def update_record(self, action: CompiledAction) -> str:
        update: UpdateRecord = action.action   # type: ignore[assignment]
        values = self._values(action)
        if update.on is None:
            self._write_own(values)
            return "done"
        parent_id = self.record.get(update.on)
        if parent_id is None:
            return f"skipped: {update.on} is blank"
        target = self.entity.field(update.on).option("target")
        self.writer().update(target, parent_id, values)
        return "done"

    def create_record(self, action: CompiledAction) -> str:
        create: CreateRecord = action.action   # type: ignore[assignment]
        values = {"owner_id": self.record.get("owner_id"), **self._values(action)}
        created = self.writer().create(create.entity, values)
        return f"created {create.entity} {created['id']}"

    def assign(self, action: CompiledAction) -> str:
        assign: Assign = action.action   # type: ignore[assignment]
        assignee = self._assignee(assign)
        if assignee is None:
            return "skipped: nobody to assign"
        try:
            user = assigned_user(self.conn, self.flow.name, assignee)
        except PartyError as exc:
            # Like an assignment rule that matches nobody: the record keeps its owner. Refusing the
            # save instead would stop every new lead on an install whose sales team is not set up.
            return f"skipped: {exc}; the owner stays"
        self._write_own({SYSTEM_USER_FIELDS.get(assign.field, assign.field): user})
        return f"assigned user {user}"

    def _assignee(self, assign: Assign) -> Assignee | None:
        if assign.to is not None:
            return assign.to
        mapped = assign.map.get(self.record.get(assign.by)) if assign.by else None
        # A mapped pool with nobody active in it falls to `otherwise`, like an unmapped value.
        if mapped is not None and (assign.otherwise is None or can_assign(self.conn, mapped)):
            return mapped
        return assign.otherwise

    def notify(self, action: CompiledAction) -> str:
        notify: Notify = action.action   # type: ignore[assignment]
        users = resolve_users(self.conn, notify.to, self.record)
        if not users:
            return "skipped: no recipient"
        # The notifications are written now; the email copies wait with the run's other messages.
        told = write_notifications(self.conn, [u.user_id for u in users],
                                   Note(notify.message, notify.title, **self._about()), now=self.now)
        self.messages.extend(told.emails)
        emailed = f", emailed {len(told.emailed)}" if told.emailed else ""
        return f"notified {len(told.users)}{emailed}"

    def email(self, action: CompiledAction) -> str:
        email: SendEmail = action.action   # type: ignore[assignment]
        to, cc = self._addresses(email.to), self._addresses(email.cc)
        if not to:
            return "skipped: no address"
        self.messages.append(OutboxMessage("email", {
            **self._about(), "template": email.template, "to": to, "cc": [a for a in cc if a not in to],
            "record": self._record_json(())}))
        return f"queued for {len(to)}"

    def _addresses(self, parties: tuple) -> list[str]:
        found: list[str] = []
        for party in parties:
            if party.kind == "address":
                found.append(party.value)
            elif party.kind == "email_field":
                found.append(self._path_value(party.value))
            else:
                found.extend(u.email for u in resolve_users(self.conn, (party,), self.record))
        return list(dict.fromkeys(a for a in found if a))

    def _path_value(self, path: str) -> Any:
        value: Any = RecordValues(self.conn, self.registry).values(self.entity, self.record, frozenset({path}),
                                                                  stored_record=True)
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    def webhook(self, action: CompiledAction) -> str:
        hook: CallWebhook = action.action   # type: ignore[assignment]
        self.messages.append(OutboxMessage("webhook", {
            "url": hook.url, "secret": hook.secret,
            "body": {**self._about(), "event": self.event.kind, "record": self._record_json(hook.fields)}}))
        return "queued"

    def start_approval(self, action: CompiledAction) -> str:
        from engine.flows.approvals import start_from_automation

        start: StartApproval = action.action   # type: ignore[assignment]
        if self.event.kind == "deleted":
            return "skipped: the record was deleted"
        return start_from_automation(self.conn, self.registry, start.flow, self.entity.name, self.record,
                                     self.writer, self.now)

    def _about(self) -> dict[str, Any]:
        return {"flow": self.flow.name, "entity": self.entity.name, "record_id": self.event.record_id}

    def _record_json(self, fields: tuple[str, ...]) -> dict[str, Any]:
        chosen = [f for f in stored_fields(self.entity) if not fields or f.name in fields]
        return {"id": self.event.record_id, **{f.name: json_value(f, self.record.get(f.name)) for f in chosen}}


_PERFORMERS: dict[type, Callable[[_Run, CompiledAction], str]] = {
    UpdateRecord: _Run.update_record, CreateRecord: _Run.create_record, Assign: _Run.assign,
    Notify: _Run.notify, SendEmail: _Run.email, CallWebhook: _Run.webhook, StartApproval: _Run.start_approval,
}
