"""Semantic checks of flows: the fields, roles, steps and flows they name exist and fit, formulas type-check.

Each check is a generator over a CheckContext yielding every issue with its JSON path, as in checks.py.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from metamodel.checks import Check, name_problem
from metamodel.context import CheckContext
from metamodel.fieldtypes import FIELD_TYPES
from metamodel.flows import (
    END,
    PERSONS,
    SUBMITTER,
    Action,
    ApprovalDef,
    Assign,
    Assignee,
    AutomationDef,
    CallWebhook,
    CreateRecord,
    FlowDef,
    Party,
    PipelineDef,
    StartApproval,
    UpdateRecord,
    flow_from_document,
)
from metamodel.formula_checks import NUMERIC, FormulaSite, site_issues
from metamodel.issues import MetadataIssue, did_you_mean
from metamodel.model import EntityDef, FieldDef

_PERSON_PARTIES = ("person", "manager_of", "department_head_of")
_DATE_COLUMNS = {"created_at": "datetime", "updated_at": "datetime"}


@dataclass(frozen=True)
class _Flow:
    """A flow being checked: its file, its entity, and the people its parties may name."""
    file: str
    entity: EntityDef
    flow: FlowDef

    @property
    def persons(self) -> tuple[str, ...]:
        return (*PERSONS, SUBMITTER) if isinstance(self.flow, ApprovalDef) else PERSONS

    def issue(self, path: str, message: str, suggestion: str | None = None) -> MetadataIssue:
        return MetadataIssue(self.file, path, message, suggestion)


def _flows(ctx: CheckContext) -> Iterator[_Flow]:
    """Yields each schema-valid flow whose entity exists (an unknown one is check_documents')."""
    for source in ctx.documents:
        if source.kind == "flow" and source.document.entity in ctx.app.entities:
            yield _Flow(source.file, ctx.app.entities[source.document.entity],
                        flow_from_document(source.document))


def writable(f: FieldDef) -> bool:
    """True when a flow may set the field: stored and not generated (formula, rollup, autonumber)."""
    ftype = FIELD_TYPES[f.type]
    return ftype.stored and not ftype.generated


def accepted_types(f: FieldDef) -> frozenset[str]:
    """Returns the formula result types a flow may assign to the field."""
    ftype = FIELD_TYPES[f.type]
    if ftype.target_entity(f) is not None or ftype.foreign_key(f) is not None:
        return frozenset({"number"})   # a lookup or user field takes the id of its record or user
    kind = ftype.formula_type_of(f)
    if kind in NUMERIC:
        return NUMERIC
    if kind in ("picklist", "multipicklist"):
        return frozenset({kind, "text"})
    return frozenset({kind}) if kind else frozenset()


# -- fields and parties ---------------------------------------------------------------------------
def _field_issue(ctx: CheckContext, site: _Flow, path: str, entity: EntityDef, name: str,
                 *, settable: bool = False) -> Iterator[MetadataIssue]:
    problem = ctx.unknown_field(entity, name)
    if problem:
        yield site.issue(path, *problem)
    elif settable and entity.has_field(name) and not writable(entity.field(name)):
        yield site.issue(path, f"{entity.name}.{name} is {entity.field(name).type}, so a flow cannot set it",
                         "set a stored field instead")


def _person_issues(ctx: CheckContext, site: _Flow, path: str, name: str) -> Iterator[MetadataIssue]:
    if name in site.persons:
        return
    entity = site.entity
    if not entity.has_field(name):
        if name not in ctx.broken_fields.get(entity.name, ()):
            users = [f.name for f in entity.fields if f.type == "user"]
            yield site.issue(path, f"{name!r} is not {' or '.join(site.persons)} or a user field of "
                             f"{entity.name!r}", did_you_mean(name, [*site.persons, *users]))
    elif entity.field(name).type != "user":
        yield site.issue(path, f"{entity.name}.{name} is {entity.field(name).type}, not a user field")


def _role_issues(ctx: CheckContext, site: _Flow, path: str, role: str) -> Iterator[MetadataIssue]:
    names = [r.name for r in ctx.app.roles]
    if ctx.app_ok and role not in names:
        yield site.issue(path, f"there is no role {role!r} in app.json",
                         did_you_mean(role, names) or f"use one of: {', '.join(names)}")


def _party_issues(ctx: CheckContext, site: _Flow, path: str, party: Party) -> Iterator[MetadataIssue]:
    where = f"{path}/{party.kind}"
    if party.kind in _PERSON_PARTIES:
        yield from _person_issues(ctx, site, where, party.value)
    elif party.kind == "role":
        yield from _role_issues(ctx, site, where, party.value)
    elif party.kind == "email_field":
        found, problem = ctx.resolve_path(site.entity, party.value)
        if problem:
            yield site.issue(where, *problem)
        elif found is not None and found.type != "email":
            yield site.issue(where, f"{party.value!r} is {found.type}, not an email field")
    elif party.kind == "chosen_by_submitter":
        yield from _parties_issues(ctx, site, where, party.candidates)


def _parties_issues(ctx: CheckContext, site: _Flow, path: str, parties: Iterable[Party],
                    ) -> Iterator[MetadataIssue]:
    for i, party in enumerate(parties):
        yield from _party_issues(ctx, site, f"{path}/{i}", party)


# -- actions ------------------------------------------------------------------------------------
def _action_lists(flow: FlowDef) -> Iterator[tuple[str, tuple[Action, ...]]]:
    """Yields (JSON pointer, actions) for every list of actions of a flow."""
    if isinstance(flow, AutomationDef):
        yield "/actions", flow.actions
    if isinstance(flow, ApprovalDef):
        yield "/on_submit", flow.on_submit
        yield "/on_approved", flow.on_approved
        yield "/on_rejected", flow.on_rejected
        for i, step in enumerate(flow.steps):
            yield f"/steps/{i}/on_approve", step.on_approve
            yield f"/steps/{i}/on_reject", step.on_reject


def _actions(flow: FlowDef) -> Iterator[tuple[str, Action]]:
    for path, actions in _action_lists(flow):
        for i, action in enumerate(actions):
            yield f"{path}/{i}", action


def flow_actions(ctx: CheckContext) -> Iterator[tuple[str, EntityDef, str, Action]]:
    """Yields (file, entity, JSON pointer, action) for every action of every checkable flow."""
    for site in _flows(ctx):
        for path, action in _actions(site.flow):
            yield site.file, site.entity, path, action


def _updated_entity(ctx: CheckContext, site: _Flow, action: UpdateRecord) -> EntityDef | None:
    if action.on is None:
        return site.entity
    if not site.entity.has_field(action.on):
        return None
    f = site.entity.field(action.on)
    return ctx.app.entities.get(FIELD_TYPES[f.type].target_entity(f) or "")


def _target_entity(ctx: CheckContext, action: Action, site: _Flow) -> EntityDef | None:
    """Returns the entity whose fields an update or create action sets (None: not known)."""
    if isinstance(action, UpdateRecord):
        return _updated_entity(ctx, site, action)
    return ctx.app.entities.get(action.entity)


def _update_issues(ctx: CheckContext, site: _Flow, path: str, action: UpdateRecord,
                   ) -> Iterator[MetadataIssue]:
    if action.on is not None:
        problem = ctx.unknown_field(site.entity, action.on)
        if problem:
            yield site.issue(f"{path}/on", *problem)
        elif site.entity.has_field(action.on) and _updated_entity(ctx, site, action) is None:
            yield site.issue(f"{path}/on", f"{site.entity.name}.{action.on} is not a lookup",
                             "name a lookup or master_detail field: its record is updated")
    target = _updated_entity(ctx, site, action)
    for name in action.set if target is not None else ():
        yield from _field_issue(ctx, site, f"{path}/set/{name}", target, name, settable=True)


def _create_issues(ctx: CheckContext, site: _Flow, path: str, action: CreateRecord,
                   ) -> Iterator[MetadataIssue]:
    problem = ctx.unknown_entity(action.entity)
    if problem:
        yield site.issue(f"{path}/entity", *problem)
    target = ctx.app.entities.get(action.entity)
    if target is None:
        return
    for name in action.set:
        yield from _field_issue(ctx, site, f"{path}/set/{name}", target, name, settable=True)
    for f in target.fields:
        if f.required and f.default is None and not f.default_formula and f.name not in action.set \
                and writable(f):
            yield site.issue(f"{path}/set", f"{target.name}.{f.name} is required, so the new record needs it",
                             f"add \"{f.name}\" to set")


def _assignee_issues(ctx: CheckContext, site: _Flow, path: str, assignee: Assignee | None,
                     ) -> Iterator[MetadataIssue]:
    if assignee is not None and assignee.kind == "role":
        yield from _role_issues(ctx, site, f"{path}/round_robin/role", assignee.value)


def _assign_issues(ctx: CheckContext, site: _Flow, path: str, action: Assign) -> Iterator[MetadataIssue]:
    if action.field != "owner":
        yield from _person_issues(ctx, site, f"{path}/field", action.field)
    yield from _assignee_issues(ctx, site, f"{path}/to", action.to)
    yield from _assignee_issues(ctx, site, f"{path}/otherwise", action.otherwise)
    for value, assignee in action.map.items():
        yield from _assignee_issues(ctx, site, f"{path}/map/{value}", assignee)
    if action.by is None:
        return
    problem = ctx.unknown_field(site.entity, action.by)
    if problem:
        yield site.issue(f"{path}/by", *problem)
        return
    if not site.entity.has_field(action.by):
        return
    by = site.entity.field(action.by)
    if by.type != "picklist":
        yield site.issue(f"{path}/by", f"{site.entity.name}.{action.by} is {by.type}, not a picklist")
        return
    yield from _values_issues(site, f"{path}/map", by, action.map)


def _values_issues(site: _Flow, path: str, picklist: FieldDef, values: Iterable[str],
                   ) -> Iterator[MetadataIssue]:
    known = [v["value"] for v in picklist.option("values", ())]
    for value in values:
        if value not in known:
            yield site.issue(f"{path}/{value}", f"{value!r} is not a value of {site.entity.name}.{picklist.name}",
                             did_you_mean(value, known))


def _start_issues(ctx: CheckContext, site: _Flow, path: str, action: StartApproval) -> Iterator[MetadataIssue]:
    approvals = {n: f for n, f in ctx.app.flow_definitions.items() if isinstance(f, ApprovalDef)}
    if action.flow not in approvals:
        yield site.issue(f"{path}/flow", f"there is no approval flow {action.flow!r}",
                         did_you_mean(action.flow, approvals))
    elif approvals[action.flow].entity != site.entity.name:
        yield site.issue(f"{path}/flow", f"approval {action.flow!r} is for {approvals[action.flow].entity!r}, "
                         f"not {site.entity.name!r}")


def _action_issues(ctx: CheckContext, site: _Flow, path: str, action: Action) -> Iterator[MetadataIssue]:
    if isinstance(action, UpdateRecord):
        yield from _update_issues(ctx, site, path, action)
    elif isinstance(action, CreateRecord):
        yield from _create_issues(ctx, site, path, action)
    elif isinstance(action, Assign):
        yield from _assign_issues(ctx, site, path, action)
    elif isinstance(action, StartApproval):
        yield from _start_issues(ctx, site, path, action)
    elif isinstance(action, CallWebhook):
        for i, name in enumerate(action.fields):
            yield from _field_issue(ctx, site, f"{path}/fields/{i}", site.entity, name)
    else:   # notify, email
        yield from _parties_issues(ctx, site, f"{path}/to", action.to)
        yield from _parties_issues(ctx, site, f"{path}/cc", getattr(action, "cc", ()))


def check_flow_actions(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Actions set writable fields of existing entities, name roles, users and flows that exist."""
    for site in _flows(ctx):
        for path, action in _actions(site.flow):
            yield from _action_issues(ctx, site, path, action)


# -- pipelines ------------------------------------------------------------------------------------
def _pipeline_issues(ctx: CheckContext, site: _Flow, flow: PipelineDef) -> Iterator[MetadataIssue]:
    entity = site.entity
    problem = ctx.unknown_field(entity, flow.stage_field)
    stage_field = entity.field(flow.stage_field) if entity.has_field(flow.stage_field) else None
    if problem:
        yield site.issue("/stage_field", *problem)
    elif stage_field is not None and stage_field.type != "picklist":
        yield site.issue("/stage_field", f"the stage field {flow.stage_field!r} must be a picklist",
                         "a pipeline has one stage per picklist value")
        stage_field = None
    known = [v["value"] for v in stage_field.option("values", ())] if stage_field else None
    counts = Counter(s.value for s in flow.stages)
    for i, stage in enumerate(flow.stages):
        base = f"/stages/{i}"
        if known is not None and stage.value not in known:
            yield site.issue(f"{base}/value", f"{stage.value!r} is not a value of {entity.name}.{flow.stage_field}",
                             did_you_mean(stage.value, known))
        elif counts[stage.value] > 1:
            yield site.issue(f"{base}/value", f"the stage {stage.value!r} is listed twice")
            counts[stage.value] = 0
        for j, name in enumerate(stage.required_fields):
            yield from _field_issue(ctx, site, f"{base}/required_fields/{j}", entity, name, settable=True)
        if stage.stall is not None:
            yield from _parties_issues(ctx, site, f"{base}/stall/notify", stage.stall.notify)


def check_pipelines(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """A pipeline's stage field is a picklist, its stages are its values, the fields it names exist."""
    for site in _flows(ctx):
        if isinstance(site.flow, PipelineDef):
            yield from _pipeline_issues(ctx, site, site.flow)


def check_flow_priorities(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Pipelines (and approvals) of one entity are tried in a definite order: no two share a priority."""
    seen: dict[tuple[type, str, int], str] = {}
    for site in _flows(ctx):
        flow = site.flow
        if not isinstance(flow, (PipelineDef, ApprovalDef)):
            continue
        key = (type(flow), flow.entity, flow.priority)
        if key in seen:
            yield site.issue("/priority", f"{seen[key]} has the same priority ({flow.priority}) for "
                             f"{flow.entity!r}, so which one applies is not defined",
                             "give each a different priority")
        seen.setdefault(key, site.file)


# -- approvals ----------------------------------------------------------------------------------
def _step_name_issues(site: _Flow, flow: ApprovalDef) -> Iterator[MetadataIssue]:
    seen: set[str] = set()
    for i, step in enumerate(flow.steps):
        path = f"/steps/{i}/name"
        problem = name_problem(step.name)
        if problem:
            yield site.issue(path, *problem)
        elif step.name == END:
            yield site.issue(path, "'end' is reserved: a branch to it finishes the approval", "rename the step")
        elif step.name in seen:
            yield site.issue(path, f"{step.name!r} is used twice", "step names must be unique")
        seen.add(step.name)


def _branch_issues(site: _Flow, flow: ApprovalDef) -> Iterator[MetadataIssue]:
    names = [s.name for s in flow.steps]
    for i, step in enumerate(flow.steps):
        for j, branch in enumerate(step.next):
            path = f"/steps/{i}/next/{j}"
            if branch.when is None and j < len(step.next) - 1:
                yield site.issue(f"{path}/go_to", "this branch has no condition, so the branches after it "
                                 "are never taken", "put the branch without 'when' last")
            if branch.go_to == END:
                continue
            if branch.go_to not in names:
                yield site.issue(f"{path}/go_to", f"there is no step {branch.go_to!r}",
                                 did_you_mean(branch.go_to, [*names, END]))
            elif names.index(branch.go_to) <= i:
                yield site.issue(f"{path}/go_to", f"a branch goes forward, but {branch.go_to!r} is not "
                                 f"after {step.name!r}", "to send a record back, reject it to that step")


def _reject_issues(site: _Flow, flow: ApprovalDef) -> Iterator[MetadataIssue]:
    names = [s.name for s in flow.steps]
    for i, step in enumerate(flow.steps):
        path, target = f"/steps/{i}/reject_to", step.reject_to
        if target.target == "previous" and i == 0:
            yield site.issue(path, "the first step has no previous step", "reject to end or submitter")
        if target.target != "step":
            continue
        if target.step not in names:
            yield site.issue(f"{path}/step", f"there is no step {target.step!r}", did_you_mean(target.step, names))
        elif names.index(target.step) >= i:
            yield site.issue(f"{path}/step", f"a rejection goes back, but {target.step!r} is not before "
                             f"{step.name!r}", "name an earlier step")


def _reachable(flow: ApprovalDef) -> set[int]:
    """Returns the positions of the steps a submission can reach from the first step."""
    index = {s.name: i for i, s in enumerate(flow.steps)}
    reached, todo = set(), [0]
    while todo:
        i = todo.pop()
        if i in reached or i >= len(flow.steps):
            continue
        reached.add(i)
        step = flow.steps[i]
        todo.extend(index[b.go_to] for b in step.next if b.go_to in index)
        if not any(b.when is None for b in step.next):
            todo.append(i + 1)   # no unconditional branch: when none holds, the following step
    return reached


def _approval_issues(ctx: CheckContext, site: _Flow, flow: ApprovalDef) -> Iterator[MetadataIssue]:
    yield from _step_name_issues(site, flow)
    yield from _branch_issues(site, flow)
    yield from _reject_issues(site, flow)
    names = {s.name for s in flow.steps} | {END}
    # A misspelt branch target is reported once, not again as the steps it leaves unreached.
    targets_known = all(b.go_to in names for s in flow.steps for b in s.next)
    reached = _reachable(flow)
    for i, step in enumerate(flow.steps):
        base = f"/steps/{i}"
        if i not in reached and targets_known:
            yield site.issue(base, f"step {step.name!r} is never reached",
                             "branch to it from an earlier step, or remove it")
        yield from _parties_issues(ctx, site, f"{base}/approvers", step.approvers)
        if step.timeout is not None:
            yield from _parties_issues(ctx, site, f"{base}/timeout/escalate_to", step.timeout.escalate_to)
        for j, name in enumerate(step.editable_fields):
            yield from _field_issue(ctx, site, f"{base}/editable_fields/{j}", site.entity, name, settable=True)
    yield from _parties_issues(ctx, site, "/carbon_copy/on_submit", flow.carbon_copy.on_submit)
    yield from _parties_issues(ctx, site, "/carbon_copy/on_finish", flow.carbon_copy.on_finish)


def check_approvals(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Steps are named once, branch forward and reject backward to steps that exist, are all reached;
    approvers name roles and user fields that exist."""
    for site in _flows(ctx):
        if isinstance(site.flow, ApprovalDef):
            yield from _approval_issues(ctx, site, site.flow)


# -- automations --------------------------------------------------------------------------------
def _trigger_issues(ctx: CheckContext, site: _Flow, flow: AutomationDef) -> Iterator[MetadataIssue]:
    trigger, entity = flow.trigger, site.entity
    for i, name in enumerate(trigger.fields):
        problem = ctx.unknown_field(entity, name, system=True)
        if problem:
            yield site.issue(f"/trigger/fields/{i}", *problem)
    if trigger.field is None:
        return
    problem = ctx.unknown_field(entity, trigger.field, system=True)
    if problem:
        yield site.issue("/trigger/field", *problem)
        return
    kind = (FIELD_TYPES[entity.field(trigger.field).type].formula_type_of(entity.field(trigger.field))
            if entity.has_field(trigger.field) else _DATE_COLUMNS.get(trigger.field, "date"))
    if kind not in ("date", "datetime"):
        dates = [f.name for f in entity.fields if FIELD_TYPES[f.type].formula_type_of(f) in ("date", "datetime")]
        yield site.issue("/trigger/field", f"{entity.name}.{trigger.field} is not a date or datetime field",
                         f"use one of: {', '.join(dates)}" if dates else None)


def check_automations(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Triggers name fields of the entity; a date-relative trigger names a date or datetime field."""
    for site in _flows(ctx):
        if isinstance(site.flow, AutomationDef):
            yield from _trigger_issues(ctx, site, site.flow)


# -- formulas -----------------------------------------------------------------------------------
def _condition_sites(site: _Flow) -> Iterator[tuple[str, str]]:
    """Yields (JSON pointer, source) of every boolean formula of a flow."""
    flow = site.flow
    if isinstance(flow, PipelineDef):
        if flow.applies_if:
            yield "/applies_if", flow.applies_if
        for i, stage in enumerate(flow.stages):
            if stage.gate is not None:
                yield f"/stages/{i}/gate/condition", stage.gate.condition
    elif isinstance(flow, ApprovalDef):
        if flow.entry_condition:
            yield "/entry_condition", flow.entry_condition
        for i, step in enumerate(flow.steps):
            if step.skip_if:
                yield f"/steps/{i}/skip_if", step.skip_if
            for j, branch in enumerate(step.next):
                if branch.when:
                    yield f"/steps/{i}/next/{j}/when", branch.when
    elif flow.condition:
        yield "/condition", flow.condition


def flow_formula_sites(ctx: CheckContext) -> Iterator[FormulaSite]:
    """Yields every formula of every flow: conditions (boolean) and field values (the field's type).

    A field value is a formula over the flow's record, whichever record the action writes.
    """
    for site in _flows(ctx):
        name = site.entity.name
        for path, source in _condition_sites(site):
            yield FormulaSite(site.file, path, name, source, "boolean")
        for path, action in _actions(site.flow):
            if not isinstance(action, (UpdateRecord, CreateRecord)):
                continue
            target = _target_entity(ctx, action, site)
            for field_name, source in action.set.items():
                f = target.field(field_name) if target is not None and target.has_field(field_name) else None
                yield FormulaSite(site.file, f"{path}/set/{field_name}", name, source, None,
                                  accepts=accepted_types(f) if f is not None else frozenset())


def check_flow_formulas(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Every formula of a flow compiles against its entity and gives the type its place needs."""
    for site in flow_formula_sites(ctx):
        yield from site_issues(ctx, site)


FLOW_CHECKS: tuple[Check, ...] = (
    check_pipelines, check_flow_priorities, check_approvals, check_automations, check_flow_actions,
    check_flow_formulas,
)
