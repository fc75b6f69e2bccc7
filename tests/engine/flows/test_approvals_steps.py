"""Approval steps: in order, with branches and skip_if, approvers from users, roles, managers and
the record, and the modes any, all, n_of_m and sequence; auto-approval (自动去重)."""
from __future__ import annotations

from approval_apps import actor, approval, deal, prepare, step

from engine.flows import approvals
from engine.flows.approval_queries import approval_for_record


def pending(runtime, instance) -> list[int]:
    with runtime.engine.connect() as conn:
        return approval_for_record(conn, "deal", instance.record_id).pending_approvers


def submit(runtime, user: int, record: int, **options):
    return approvals.submit(runtime, actor(runtime, user), "deal", record, **options)


def test_steps_run_in_order_and_the_last_approval_approves(runtime):
    org = prepare(runtime, approval([step("manager", [{"manager_of": "submitter"}]), step("finance", [{"role": "finance"}])],
                              on_approved=[{"type": "update_record", "set": {"status": '"approved"'}}]))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    assert (instance.state, instance.current_step, pending(runtime, instance)) == ("pending", "manager", [org.boss])
    instance = approvals.approve(runtime, actor(runtime, org.boss), instance.id)
    assert (instance.current_step, pending(runtime, instance)) == ("finance", [org.fin, org.fin2])
    instance = approvals.approve(runtime, actor(runtime, org.fin2), instance.id, comment="fine")
    assert (instance.state, instance.current_step) == ("approved", None)
    assert runtime.query().get("deal", instance.record_id)["status"] == "approved"
