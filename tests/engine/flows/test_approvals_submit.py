"""Submitting a record for approval: which flow applies, what is refused, what submitting does."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from approval_apps import actor, approval, deal, prepare, step

from engine.flows import approvals
from engine.flows.approval_queries import approval_for_record
from engine.storage.db import fw_approval_copy, fw_notification

FINANCE = [step("finance", [{"role": "finance"}])]


def submit(runtime, user: int, record: int, **options):
    return approvals.submit(runtime, actor(runtime, user), "deal", record, **options)


def test_the_flow_with_the_lowest_priority_whose_entry_condition_holds_applies(runtime):
    org = prepare(runtime,
                  approval(FINANCE, name="big", entry_condition="amount > 1000", priority=1),
                  approval(FINANCE, name="huge", entry_condition="amount > 100000", priority=0),
                  approval(FINANCE, name="any_deal", priority=5))
    assert submit(runtime, org.rep, deal(runtime, org.rep, amount=5000)).flow.name == "big"
    assert submit(runtime, org.rep, deal(runtime, org.rep, amount=500000)).flow.name == "huge"
    assert submit(runtime, org.rep, deal(runtime, org.rep, amount=5)).flow.name == "any_deal"


def test_a_record_no_flow_applies_to_is_refused_with_a_message(runtime):
    org = prepare(runtime, approval(FINANCE, entry_condition="amount > 1000"))
    with pytest.raises(approvals.ApprovalError, match="no approval flow applies to this Deal"):
        submit(runtime, org.rep, deal(runtime, org.rep, amount=5))


def test_a_record_already_pending_cannot_be_submitted_again(runtime):
    org = prepare(runtime, approval(FINANCE))
    record = deal(runtime, org.rep)
    submit(runtime, org.rep, record)
    with pytest.raises(approvals.ApprovalError, match="already waits for approval"):
        submit(runtime, org.rep, record)


def test_on_submit_actions_write_the_record_through_the_write_path(runtime):
    org = prepare(runtime, approval(FINANCE, on_submit=[{"type": "update_record", "set": {"status": '"pending"'}}]))
    record = deal(runtime, org.rep)
    submit(runtime, org.rep, record)
    assert runtime.query().get("deal", record)["status"] == "pending"


def test_carbon_copy_on_submit_records_and_tells_the_copied_users(runtime):
    org = prepare(runtime, approval(FINANCE, carbon_copy={"on_submit": [{"manager_of": "submitter"}]}))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(fw_approval_copy.c.user_id, fw_approval_copy.c.occasion)).all() == [
            (org.boss, "submit")]
        told = conn.execute(sa.select(fw_notification.c.user_id).where(
            fw_notification.c.message.like("For your information%"))).scalars().all()
    assert told == [org.boss]
    assert instance.state == "pending"


def test_submitter_chosen_approvers_must_be_among_the_candidates(runtime):
    org = prepare(runtime, approval([step("pick", [{"chosen_by_submitter": [{"role": "finance"}]}])]))
    record = deal(runtime, org.rep)
    with pytest.raises(approvals.ApprovalError, match="step pick: user .* is not one of the approvers you may choose"):
        submit(runtime, org.rep, record, chosen={"pick": [org.chief]})
    with pytest.raises(approvals.ApprovalError, match="step pick: choose who approves"):
        submit(runtime, org.rep, record)
    instance = submit(runtime, org.rep, record, chosen={"pick": [org.fin2]})
    with runtime.engine.connect() as conn:
        assert approval_for_record(conn, "deal", instance.record_id).pending_approvers == [org.fin2]


def test_a_step_without_approver_that_says_refuse_refuses_the_submission_with_its_message(runtime):
    org = prepare(runtime, approval([
        step("finance", [{"role": "finance"}]),
        step("nobody", [{"user": "ghost"}], when_no_approver={"action": "refuse", "message": {"en": "No ghost yet"}})]))
    record = deal(runtime, org.rep)
    with pytest.raises(approvals.ApprovalError, match="No ghost yet"):
        submit(runtime, org.rep, record)
    with runtime.engine.connect() as conn:
        assert approval_for_record(conn, "deal", record) is None


def test_a_step_without_approver_that_says_skip_is_skipped(runtime):
    org = prepare(runtime, approval([step("nobody", [{"user": "ghost"}], when_no_approver={"action": "skip"}),
                                     step("finance", [{"role": "finance"}])]))
    assert submit(runtime, org.rep, deal(runtime, org.rep)).current_step == "finance"


def test_a_step_without_approver_that_routes_to_admin_waits_for_the_administrators(runtime):
    org = prepare(runtime, approval([step("nobody", [{"user": "ghost"}],
                                          when_no_approver={"action": "route_to_admin"})]))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    with runtime.engine.connect() as conn:
        assert approval_for_record(conn, "deal", instance.record_id).pending_approvers == [org.admin]


def test_a_user_who_may_not_edit_the_record_cannot_submit_it(runtime):
    from engine.errors import NotFound

    org = prepare(runtime, approval(FINANCE))
    with pytest.raises(NotFound):
        submit(runtime, org.fin, deal(runtime, org.rep))


def test_the_start_approval_action_of_an_automation_submits_the_record(runtime):
    org = prepare(runtime, approval(FINANCE),
                  {"name": "auto_submit", "label": {"en": "Auto"}, "kind": "automation", "entity": "deal",
                   "version": 1, "trigger": {"on": "created"}, "condition": "amount > 50",
                   "actions": [{"type": "start_approval", "flow": "deal_approval"}]})
    record = deal(runtime, org.rep, amount=60)
    with runtime.engine.connect() as conn:
        view = approval_for_record(conn, "deal", record)
    assert (view.instance.state, view.instance.submitter_id, view.pending_approvers) == (
        "pending", org.rep, [org.fin, org.fin2])


def test_the_approvers_are_told_which_record_waits_for_them(runtime):
    org = prepare(runtime, approval([step("manager", [{"manager_of": "submitter"}], label={"en": "Manager"})]))
    submit(runtime, org.rep, deal(runtime, org.rep))
    with runtime.engine.connect() as conn:
        [note] = conn.execute(sa.select(fw_notification).where(fw_notification.c.user_id == org.boss)).all()
    assert (note.message, note.title, note.entity, note.flow) == (
        "Deal Acme waits for your approval (Manager)", "deal_approval", "deal", "deal_approval")
