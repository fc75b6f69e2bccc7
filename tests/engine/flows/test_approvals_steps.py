"""Approval steps: in order, with branches and skip_if, approvers from users, roles, managers and
the record, and the modes any, all, n_of_m and sequence; auto-approval (自动去重)."""
from __future__ import annotations

import pytest
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


def test_the_first_branch_whose_condition_holds_picks_the_next_step_and_end_finishes(runtime):
    org = prepare(runtime, approval([
        step("manager", [{"manager_of": "submitter"}],
             next=[{"when": "amount > 1000", "go_to": "chief"}, {"go_to": "finance"}]),
        step("finance", [{"role": "finance"}], next=[{"go_to": "end"}]),
        step("chief", [{"user": "chief"}])]))
    small = submit(runtime, org.rep, deal(runtime, org.rep, amount=10))
    small = approvals.approve(runtime, actor(runtime, org.boss), small.id)
    assert approvals.approve(runtime, actor(runtime, org.fin), small.id).state == "approved"
    large = submit(runtime, org.rep, deal(runtime, org.rep, amount=5000))
    assert approvals.approve(runtime, actor(runtime, org.boss), large.id).current_step == "chief"


def test_a_step_whose_skip_if_holds_is_skipped(runtime):
    org = prepare(runtime, approval([step("manager", [{"manager_of": "submitter"}], skip_if="amount < 50"),
                                     step("finance", [{"role": "finance"}])]))
    instance = submit(runtime, org.rep, deal(runtime, org.rep, amount=10))
    assert instance.current_step == "finance"


def test_the_chain_of_managers_decides_in_order_in_sequence_mode(runtime):
    org = prepare(runtime, approval([step("managers", [{"manager_of": "submitter", "levels": 2}], mode="sequence")]))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    assert pending(runtime, instance) == [org.boss]
    with pytest.raises(approvals.ApprovalError, match="not your turn"):
        approvals.approve(runtime, actor(runtime, org.chief), instance.id)
    instance = approvals.approve(runtime, actor(runtime, org.boss), instance.id)
    assert pending(runtime, instance) == [org.chief]
    assert approvals.approve(runtime, actor(runtime, org.chief), instance.id).state == "approved"


def test_all_mode_waits_for_every_approver(runtime):
    org = prepare(runtime, approval([step("finance", [{"role": "finance"}], mode="all")]))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    instance = approvals.approve(runtime, actor(runtime, org.fin), instance.id)
    assert (instance.state, pending(runtime, instance)) == ("pending", [org.fin2])
    assert approvals.approve(runtime, actor(runtime, org.fin2), instance.id).state == "approved"


def test_any_mode_passes_on_the_first_approval_and_closes_the_other_tasks(runtime):
    org = prepare(runtime, approval([step("finance", [{"role": "finance"}])]))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    assert approvals.approve(runtime, actor(runtime, org.fin), instance.id).state == "approved"
    with pytest.raises(approvals.ApprovalError, match="is approved; there is nothing to decide"):
        approvals.approve(runtime, actor(runtime, org.fin2), instance.id)


def test_n_of_m_passes_with_the_required_number_of_approvals(runtime):
    org = prepare(runtime, approval([step("panel", [{"role": "finance"}, {"role": "manager"}], mode="n_of_m",
                                          required_approvals=2)]))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    instance = approvals.approve(runtime, actor(runtime, org.fin), instance.id)
    assert instance.state == "pending"
    assert approvals.approve(runtime, actor(runtime, org.chief), instance.id).state == "approved"


def test_n_of_m_rejects_only_once_the_required_approvals_cannot_come(runtime):
    org = prepare(runtime, approval([step("pair", [{"role": "finance"}, {"user": "chief"}], mode="n_of_m",
                                          required_approvals=2)], comment_required_on_reject=False))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    assert approvals.reject(runtime, actor(runtime, org.fin), instance.id).state == "pending"   # fin2 and chief remain
    assert approvals.reject(runtime, actor(runtime, org.fin2), instance.id).state == "rejected"


def test_an_approver_who_is_the_submitter_is_auto_approved_when_the_step_says(runtime):
    org = prepare(runtime, approval([step("managers", [{"role": "manager"}], mode="all",
                                          auto_approve={"if_submitter": True})]))
    instance = submit(runtime, org.boss, deal(runtime, org.boss))
    assert pending(runtime, instance) == [org.chief]


def test_an_approver_who_approved_an_earlier_step_is_auto_approved_when_the_step_says(runtime):
    org = prepare(runtime, approval([step("manager", [{"manager_of": "submitter"}]),
                                     step("again", [{"user": "boss"}], auto_approve={"if_already_approved": True})]))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    instance = approvals.approve(runtime, actor(runtime, org.boss), instance.id)
    assert instance.state == "approved"


def test_the_user_in_a_user_field_of_the_record_approves(runtime):
    org = prepare(runtime, approval([step("review", [{"person": "reviewer"}])]))
    instance = submit(runtime, org.rep, deal(runtime, org.rep, reviewer=org.fin2))
    assert pending(runtime, instance) == [org.fin2]


def test_the_department_head_approves(runtime):
    from engine.security.org import create_department
    from engine.storage.db import write_transaction

    org = prepare(runtime, approval([step("head", [{"department_head": "finance"}])]))
    with write_transaction(runtime.engine) as conn:
        create_department(conn, "finance", head_id=org.fin2)
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    assert pending(runtime, instance) == [org.fin2]
