"""How an approval moves through its steps: entering a step (skip_if, who decides, auto-approval,
its timeout), whether its tasks pass or reject it, the branch to the next, and finishing."""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.flows import approvers, timers
from engine.flows.approval_instances import (
    LIVE_TASK,
    TIMEOUT,
    ApprovalError,
    Instance,
    Session,
    Task,
    add_task,
    log_event,
    save,
    step_label,
    tasks_of,
)
from engine.flows.approval_time import deadline
from engine.storage.db import fw_approval_copy, fw_approval_task
from metamodel.flows import END, Step
from metamodel.model import label_text


# -- steps -----------------------------------------------------------------------------------------
def timer_key(instance: Instance) -> str:
    return f"approval:{instance.id}:"


def enter_step(s: Session, instance: Instance, index: int | None) -> None:
    """Starts the step at `index` (None: the approval is approved), skipping the steps whose
    skip_if holds or that find no approver and say skip."""
    timers.cancel_prefix(s.conn, TIMEOUT, timer_key(instance))
    while index is not None:
        step = instance.flow.steps[index]
        instance.round += 1
        instance.current_step = step.name
        if step.skip_if and s.holds(instance, step.skip_if, f"the skip_if of step {step.name}"):
            log_event(s, instance, "skip", None, step=step.name, reason="skip_if")
            index = following_step(s, instance, step)
            continue
        users = approvers_or_fallback(s, instance, step)
        if users is None:
            log_event(s, instance, "skip", None, step=step.name, reason="no approver")
            index = following_step(s, instance, step)
            continue
        _open_step(s, instance, step, users)
        result = outcome(step, tasks_of(s.conn, instance, round_=instance.round))
        if result != "passed":
            save(s.conn, instance)
            _schedule_timeout(s, instance, step)
            return
        index = pass_step(s, instance, step)
    finish(s, instance, "approved")


def approvers_or_fallback(s: Session, instance: Instance, step: Step) -> list[int] | None:
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
    return f"step {step_label(step)} has nobody to approve it; ask an administrator to set up its approvers"


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
        task = add_task(s, instance, step.name, position * 10, user, state=state, required=required,
                         after=previous if sequence else None, decided=auto)
        if auto:
            log_event(s, instance, "auto_approve", user, step=step.name,
                 reason="submitter" if user == instance.submitter_id else "already approved")
        elif state == "pending":
            waiting.append(user)
        previous = task
    log_event(s, instance, "step", None, step=step.name, approvers=users)
    tell_waiting(s, instance, step, waiting)


def tell_waiting(s: Session, instance: Instance, step: Step, users: Sequence[int]) -> None:
    substitutes = approvers.substitutes_of(s.conn, users, s.now)
    everyone = [*users, *(sub for user in users for sub in substitutes.get(user, ()))]
    s.tell(everyone, instance, "waiting", step=step_label(step))


def _approved_earlier(conn: Connection, instance: Instance, step: Step) -> set[int]:
    return set(conn.execute(sa.select(fw_approval_task.c.user_id).where(
        fw_approval_task.c.approval_id == instance.id, fw_approval_task.c.state == "approved",
        fw_approval_task.c.step != step.name)).scalars())


def outcome(step: Step, tasks: Sequence[Task]) -> str:
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


def close_open_tasks(s: Session, instance: Instance) -> None:
    s.conn.execute(sa.update(fw_approval_task).where(
        fw_approval_task.c.approval_id == instance.id, fw_approval_task.c.round == instance.round,
        fw_approval_task.c.state.in_(("pending", "waiting"))).values(state="cancelled"))


def pass_step(s: Session, instance: Instance, step: Step) -> int | None:
    """Closes a step that passed, runs its on_approve; returns the index of the next step (None: end)."""
    close_open_tasks(s, instance)
    log_event(s, instance, "step_approved", None, step=step.name)
    instance.path.append(step.name)
    s.perform(instance, step.on_approve)
    return following_step(s, instance, step)


def following_step(s: Session, instance: Instance, step: Step) -> int | None:
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
    timers.schedule(s.conn, TIMEOUT, f"{timer_key(instance)}{instance.round}",
                    deadline(s.now, step.timeout.after),
                    {"approval_id": instance.id, "step": step.name, "round": instance.round}, now=s.now)


def finish(s: Session, instance: Instance, state: str) -> None:
    """Ends the approval approved or rejected: its end actions, the carbon copy, the submitter told."""
    timers.cancel_prefix(s.conn, TIMEOUT, timer_key(instance))
    instance.state, instance.current_step, instance.finished_at = state, None, s.now
    save(s.conn, instance)
    log_event(s, instance, state, None)
    s.perform(instance, instance.flow.on_approved if state == "approved" else instance.flow.on_rejected)
    if instance.submitter_id is not None:
        s.tell([instance.submitter_id], instance, state)
    copy_to(s, instance, instance.flow.carbon_copy.on_finish, "finish", state=state)


def copy_to(s: Session, instance: Instance, parties: tuple, occasion: str, **names: str) -> None:
    """抄送: records and tells the carbon copies of `occasion` (submit, finish)."""
    if not parties:
        return
    users = approvers.parties_users(s.conn, parties, s.record(instance), instance.submitter_id)
    if not users:
        return
    s.conn.execute(sa.insert(fw_approval_copy), [
        {"approval_id": instance.id, "user_id": u, "at": s.now, "occasion": occasion} for u in users])
    s.tell(users, instance, "copied" if occasion == "submit" else "copied_finish", **names)


