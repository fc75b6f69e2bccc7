"""An approval step that is not decided in time: the worker's sweep fires its timer and the step's
timeout says what happens — remind the approvers (again each period when it repeats), approve or
reject for them, or escalate to the step's escalate_to (else each approver's manager)."""
from __future__ import annotations

from engine.flows import approvals, approvers, timers
from engine.flows.approval_instances import Instance, Session, load, system_writer, tasks_of
from engine.flows.approval_time import deadline
from engine.flows.timers import Firing, Timer
from metamodel.flows import Step

KIND = approvals.TIMEOUT   # "approval_timeout"


def fire_approval_timeout(firing: Firing, timer: Timer) -> None:
    """The handler of "approval_timeout" timers, for timers.sweep. A timer of a step that has moved
    on (decided, sent back, recalled) does nothing."""
    registry = firing.runtime.registry(firing.conn)
    s = Session(firing.conn, registry, firing.now, system_writer(firing.runtime, registry, firing.conn))
    instance = load(firing.conn, timer.payload["approval_id"], lock=True)
    if (instance.state != "pending" or instance.round != timer.payload["round"]
            or instance.current_step != timer.payload["step"]):
        return
    step = instance.step
    timeout = step.timeout if step is not None else None
    if step is None or timeout is None:
        return
    if timeout.action == "remind":
        approvals.remind_in(s, instance, step, None)
        if timeout.repeat:
            timers.schedule(firing.conn, KIND, timer.key, deadline(firing.now, timeout.after), timer.payload,
                            now=firing.now)
    elif timeout.action in ("approve", "reject"):
        state = "approved" if timeout.action == "approve" else "rejected"
        approvals.decide_as_system(s, instance, step, state, f"not decided in time: {state} by the system")
    else:
        approvals.escalate_in(s, instance, step, _escalation_targets(s, instance, step))
    s.flush()


def _escalation_targets(s: Session, instance: Instance, step: Step) -> list[int]:
    if step.timeout.escalate_to:
        found = approvers.parties_users(s.conn, step.timeout.escalate_to, s.record(instance), instance.submitter_id)
        if found:
            return found
    pending = [t.user_id for t in tasks_of(s.conn, instance, round_=instance.round)
               if t.state in ("pending", "waiting")]
    managers = [approvers.manager_of(s.conn, user) for user in pending]
    return [m for m in managers if m is not None] or approvers.administrators(s.conn)


HANDLERS = {KIND: fire_approval_timeout}
