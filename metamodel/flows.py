"""Flow documents as frozen dataclasses: pipelines, approvals and automations, built once at load.

The flow interpreter reads these; `Document.body` keeps the same flow as written, for export.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from metamodel.assembly import label_from
from metamodel.model import Document, Label, frozen_mapping

Formula = str
PERSONS = ("owner", "created_by", "updated_by")   # people every record has; approvals add SUBMITTER
SUBMITTER = "submitter"
END = "end"   # the branch target that finishes an approval; no step may be called so


@dataclass(frozen=True)
class Duration:
    days: int = 0
    hours: int = 0
    minutes: int = 0
    business: bool = False   # count working time only

    @property
    def total_minutes(self) -> int:
        return (self.days * 24 + self.hours) * 60 + self.minutes


@dataclass(frozen=True)
class Party:
    """Who is told or who decides. `kind` is person, manager_of, role, user, department_head_of,
    department_head, chosen_by_submitter, email_field or address; `value` is what it names."""
    kind: str
    value: str | None = None
    levels: int = 1                          # manager_of: how many levels up
    candidates: tuple[Party, ...] = ()       # chosen_by_submitter: whom the submitter picks from


@dataclass(frozen=True)
class Assignee:
    """A named user (`kind` user) or round robin among a role's or a department's users."""
    kind: str    # user, role, department
    value: str


# -- actions -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UpdateRecord:
    set: Mapping[str, Formula]
    on: str | None = None         # a lookup field: update that parent record instead


@dataclass(frozen=True)
class CreateRecord:
    entity: str
    set: Mapping[str, Formula]


@dataclass(frozen=True)
class Assign:
    field: str = "owner"
    to: Assignee | None = None
    by: str | None = None                                       # a picklist field picking from `map`
    map: Mapping[str, Assignee] = dc_field(default_factory=frozen_mapping)
    otherwise: Assignee | None = None


@dataclass(frozen=True)
class Notify:
    to: tuple[Party, ...]
    message: Label
    title: Label | None = None


@dataclass(frozen=True)
class SendEmail:
    template: str
    to: tuple[Party, ...]
    cc: tuple[Party, ...] = ()


@dataclass(frozen=True)
class CallWebhook:
    url: str
    secret: str | None = None     # the name of a secret in the server's settings
    fields: tuple[str, ...] = ()  # empty: every field


@dataclass(frozen=True)
class StartApproval:
    flow: str


Action = UpdateRecord | CreateRecord | Assign | Notify | SendEmail | CallWebhook | StartApproval


# -- pipeline ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Gate:
    condition: Formula
    message: Label


@dataclass(frozen=True)
class StallAlert:
    after: Duration
    notify: tuple[Party, ...]
    message: Label | None = None
    repeat: bool = False


@dataclass(frozen=True)
class Stage:
    value: str
    probability: float | int
    gate: Gate | None = None
    required_fields: tuple[str, ...] = ()
    allow_backward: bool | None = None   # None: the pipeline's setting
    stall: StallAlert | None = None
    outcome: str | None = None           # won, lost


@dataclass(frozen=True)
class PipelineDef:
    name: str
    entity: str
    label: Label | None
    version: int | str | None
    stage_field: str
    stages: tuple[Stage, ...]
    applies_if: Formula | None = None
    priority: int = 0
    allow_backward: bool = True

    def stage(self, value: str) -> Stage:
        """Returns the stage of `value`; raises KeyError naming the pipeline when there is none."""
        for stage in self.stages:
            if stage.value == value:
                return stage
        raise KeyError(f"pipeline {self.name!r} has no stage {value!r}")

    def may_leave_backward(self, value: str) -> bool:
        """Whether a record in stage `value` may move to an earlier stage."""
        own = self.stage(value).allow_backward
        return self.allow_backward if own is None else own


# -- approval ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AutoApprove:
    if_already_approved: bool = False
    if_submitter: bool = False


@dataclass(frozen=True)
class NoApprover:
    action: str                   # skip, route_to_admin, refuse
    message: Label | None = None  # refuse: shown to the submitter


@dataclass(frozen=True)
class Timeout:
    after: Duration
    action: str                   # remind, approve, reject, escalate
    escalate_to: tuple[Party, ...] = ()
    repeat: bool = False


@dataclass(frozen=True)
class Branch:
    go_to: str                    # a step's name or END
    when: Formula | None = None   # None: always


@dataclass(frozen=True)
class RejectTo:
    target: str                   # end, submitter, previous, chosen, step
    step: str | None = None       # target step: the step gone back to


@dataclass(frozen=True)
class Step:
    name: str
    approvers: tuple[Party, ...]
    label: Label | None = None
    mode: str = "any"             # any, all, n_of_m, sequence
    required_approvals: int | None = None
    skip_if: Formula | None = None
    auto_approve: AutoApprove = AutoApprove()
    when_no_approver: NoApprover | None = None
    timeout: Timeout | None = None
    next: tuple[Branch, ...] = ()  # empty: the following step
    reject_to: RejectTo = RejectTo("end")
    editable_fields: tuple[str, ...] = ()
    on_approve: tuple[Action, ...] = ()
    on_reject: tuple[Action, ...] = ()


@dataclass(frozen=True)
class CarbonCopy:
    on_submit: tuple[Party, ...] = ()
    on_finish: tuple[Party, ...] = ()


@dataclass(frozen=True)
class ApprovalDef:
    name: str
    entity: str
    label: Label | None
    version: int | str | None
    steps: tuple[Step, ...]
    entry_condition: Formula | None = None
    priority: int = 0
    lock_record: bool = True
    comment_required_on_reject: bool = True
    allow_recall: bool = True
    carbon_copy: CarbonCopy = CarbonCopy()
    on_submit: tuple[Action, ...] = ()
    on_approved: tuple[Action, ...] = ()
    on_rejected: tuple[Action, ...] = ()

    def step_index(self, name: str) -> int:
        """Returns the position of the step called `name`; raises KeyError when there is none."""
        for i, step in enumerate(self.steps):
            if step.name == name:
                return i
        raise KeyError(f"approval {self.name!r} has no step {name!r}")


# -- automation ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trigger:
    on: str                               # created, updated, field_changed, deleted, schedule, date
    fields: tuple[str, ...] = ()          # field_changed
    cron: str | None = None               # schedule
    timezone: str | None = None           # schedule
    field: str | None = None              # date: the date or datetime field
    before: Duration | None = None        # date: fire this long before the field's value
    after: Duration | None = None         # date: fire this long after it


@dataclass(frozen=True)
class AutomationDef:
    name: str
    entity: str
    label: Label | None
    version: int | str | None
    trigger: Trigger
    actions: tuple[Action, ...]
    condition: Formula | None = None
    enabled: bool = True


FlowDef = PipelineDef | ApprovalDef | AutomationDef


# -- documents -> flows --------------------------------------------------------------------------
def flow_from_document(document: Document) -> FlowDef:
    """Returns the flow of a schema-valid flow document (its body read, its envelope kept)."""
    return _FLOW_BUILDERS[document.kind](document, document.body)


def duration_from(doc: Mapping[str, Any] | None) -> Duration | None:
    if doc is None:
        return None
    return Duration(doc.get("days", 0), doc.get("hours", 0), doc.get("minutes", 0), doc.get("business", False))


_PARTY_KINDS = ("person", "manager_of", "role", "user", "department_head_of", "department_head",
                "chosen_by_submitter", "email_field", "address")


def party_from(doc: Mapping[str, Any]) -> Party:
    kind = next(k for k in _PARTY_KINDS if k in doc)
    if kind == "chosen_by_submitter":
        return Party(kind, candidates=_parties(doc[kind]))
    return Party(kind, doc[kind], doc.get("levels", 1))


def _parties(docs: Any) -> tuple[Party, ...]:
    return tuple(party_from(d) for d in docs or ())


def _assignee(doc: Mapping[str, Any] | None) -> Assignee | None:
    if doc is None:
        return None
    if "user" in doc:
        return Assignee("user", doc["user"])
    pool = doc["round_robin"]
    kind = "role" if "role" in pool else "department"
    return Assignee(kind, pool[kind])


_ACTION_BUILDERS: dict[str, Callable[[Mapping[str, Any]], Action]] = {
    "update_record": lambda d: UpdateRecord(frozen_mapping(d["set"]), d.get("on")),
    "create_record": lambda d: CreateRecord(d["entity"], frozen_mapping(d["set"])),
    "assign": lambda d: Assign(
        d.get("field", "owner"), _assignee(d.get("to")), d.get("by"),
        frozen_mapping({value: _assignee(a) for value, a in d.get("map", {}).items()}),
        _assignee(d.get("otherwise"))),
    "notify": lambda d: Notify(_parties(d["to"]), label_from(d["message"]), label_from(d.get("title"))),
    "email": lambda d: SendEmail(d["template"], _parties(d["to"]), _parties(d.get("cc"))),
    "webhook": lambda d: CallWebhook(d["url"], d.get("secret"), tuple(d.get("fields", ()))),
    "start_approval": lambda d: StartApproval(d["flow"]),
}


def actions_from(docs: Any) -> tuple[Action, ...]:
    return tuple(_ACTION_BUILDERS[d["type"]](d) for d in docs or ())


def _stage(d: Mapping[str, Any]) -> Stage:
    gate, stall = d.get("gate"), d.get("stall")
    return Stage(
        value=d["value"], probability=d["probability"],
        gate=Gate(gate["condition"], label_from(gate["message"])) if gate else None,
        required_fields=tuple(d.get("required_fields", ())), allow_backward=d.get("allow_backward"),
        stall=StallAlert(duration_from(stall["after"]), _parties(stall["notify"]),
                         label_from(stall.get("message")), stall.get("repeat", False)) if stall else None,
        outcome=d.get("outcome"))


def _pipeline(document: Document, body: Mapping[str, Any]) -> PipelineDef:
    return PipelineDef(
        name=document.name, entity=document.entity, label=document.label, version=document.version,
        stage_field=body["stage_field"], stages=tuple(_stage(s) for s in body["stages"]),
        applies_if=body.get("applies_if"), priority=body.get("priority", 0),
        allow_backward=body.get("allow_backward", True))


def _reject_to(value: Any) -> RejectTo:
    if value is None:
        return RejectTo("end")
    return RejectTo("step", value["step"]) if isinstance(value, Mapping) else RejectTo(value)


def _step(d: Mapping[str, Any]) -> Step:
    auto, none, timeout = d.get("auto_approve", {}), d.get("when_no_approver"), d.get("timeout")
    return Step(
        name=d["name"], approvers=_parties(d["approvers"]), label=label_from(d.get("label")),
        mode=d.get("mode", "any"), required_approvals=d.get("required_approvals"),
        skip_if=d.get("skip_if"),
        auto_approve=AutoApprove(auto.get("if_already_approved", False), auto.get("if_submitter", False)),
        when_no_approver=NoApprover(none["action"], label_from(none.get("message"))) if none else None,
        timeout=Timeout(duration_from(timeout["after"]), timeout["action"],
                        _parties(timeout.get("escalate_to")), timeout.get("repeat", False)) if timeout else None,
        next=tuple(Branch(b["go_to"], b.get("when")) for b in d.get("next", ())),
        reject_to=_reject_to(d.get("reject_to")), editable_fields=tuple(d.get("editable_fields", ())),
        on_approve=actions_from(d.get("on_approve")), on_reject=actions_from(d.get("on_reject")))


def _approval(document: Document, body: Mapping[str, Any]) -> ApprovalDef:
    cc = body.get("carbon_copy", {})
    return ApprovalDef(
        name=document.name, entity=document.entity, label=document.label, version=document.version,
        steps=tuple(_step(s) for s in body["steps"]), entry_condition=body.get("entry_condition"),
        priority=body.get("priority", 0), lock_record=body.get("lock_record", True),
        comment_required_on_reject=body.get("comment_required_on_reject", True),
        allow_recall=body.get("allow_recall", True),
        carbon_copy=CarbonCopy(_parties(cc.get("on_submit")), _parties(cc.get("on_finish"))),
        on_submit=actions_from(body.get("on_submit")), on_approved=actions_from(body.get("on_approved")),
        on_rejected=actions_from(body.get("on_rejected")))


def _automation(document: Document, body: Mapping[str, Any]) -> AutomationDef:
    t = body["trigger"]
    trigger = Trigger(on=t["on"], fields=tuple(t.get("fields", ())), cron=t.get("cron"),
                      timezone=t.get("timezone"), field=t.get("field"),
                      before=duration_from(t.get("before")), after=duration_from(t.get("after")))
    return AutomationDef(
        name=document.name, entity=document.entity, label=document.label, version=document.version,
        trigger=trigger, actions=actions_from(body["actions"]), condition=body.get("condition"),
        enabled=body.get("enabled", True))


_FLOW_BUILDERS: dict[str, Callable[[Document, Mapping[str, Any]], FlowDef]] = {
    "pipeline": _pipeline, "approval": _approval, "automation": _automation,
}
