"""Decisions on an approval: approve, reject (to the end, the submitter, an earlier step), recall,
transfer, add an approver, remind, delegation; and the refusals a stale or stranger's decision gets."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from approval_apps import T0, actor, approval, deal, prepare, step

from engine.flows import approvals, approvers
from engine.flows.approval_queries import approval_for_record, approval_log, my_approval_counts, my_approvals
from engine.storage.db import fw_notification, write_transaction

TWO_STEPS = [step("manager", [{"manager_of": "submitter"}], reject_to="submitter"),
             step("finance", [{"role": "finance"}], reject_to="chosen"),
             step("chief", [{"user": "chief"}], reject_to="previous")]


def submit(runtime, user: int, record: int, **options):
    return approvals.submit(runtime, actor(runtime, user), "deal", record, **options)


def decide(runtime, user: int, what, instance, **options):
    return what(runtime, actor(runtime, user), instance.id, **options)


def pending(runtime, instance) -> list[int]:
    with runtime.engine.connect() as conn:
        return approval_for_record(conn, "deal", instance.record_id).pending_approvers


def log(runtime, instance) -> list[tuple]:
    with runtime.engine.connect() as conn:
        return [(e.action, e.actor_id, e.step) for e in approval_log(conn, instance.id)
                if e.action in ("submit", "resubmit", "approve", "reject", "recall", "transfer", "add_approver",
                                "remind", "approved", "rejected")]


def test_a_rejection_without_a_comment_is_refused_when_the_flow_requires_one(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    with pytest.raises(approvals.ApprovalError, match="needs a comment"):
        decide(runtime, org.boss, approvals.reject, instance)


def test_a_rejection_to_end_finishes_the_approval_rejected_and_runs_on_rejected(runtime):
    org = prepare(runtime, approval([step("finance", [{"role": "finance"}])],
                                    on_rejected=[{"type": "update_record", "set": {"status": '"rejected"'}}]))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    instance = decide(runtime, org.fin, approvals.reject, instance, comment="too cheap")
    assert instance.state == "rejected"
    assert runtime.query().get("deal", instance.record_id)["status"] == "rejected"


def test_a_rejection_to_the_submitter_waits_for_resubmission_of_the_same_instance(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    record = deal(runtime, org.rep)
    instance = submit(runtime, org.rep, record)
    instance = decide(runtime, org.boss, approvals.reject, instance, comment="fix the terms")
    assert (instance.state, instance.current_step) == ("returned", None)
    runtime.records(actor(runtime, org.rep)).update("deal", record, {"terms": "net 30"})   # not locked now
    again = submit(runtime, org.rep, record)
    assert (again.id, again.state, again.current_step) == (instance.id, "pending", "manager")


def test_a_chosen_rejection_goes_back_to_the_step_the_approver_picks(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    instance = decide(runtime, org.boss, approvals.approve, instance)
    with pytest.raises(approvals.ApprovalError, match="choose where to send it back: submitter, manager"):
        decide(runtime, org.fin, approvals.reject, instance, comment="no")
    instance = decide(runtime, org.fin, approvals.reject, instance, comment="ask again", to_step="manager")
    assert (instance.state, instance.current_step, pending(runtime, instance)) == ("pending", "manager", [org.boss])


def test_a_previous_rejection_goes_back_to_the_step_before(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    instance = decide(runtime, org.boss, approvals.approve, instance)
    instance = decide(runtime, org.fin, approvals.approve, instance)
    instance = decide(runtime, org.chief, approvals.reject, instance, comment="check again")
    assert instance.current_step == "finance"


def test_a_decision_on_a_step_that_has_moved_on_is_refused(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    decide(runtime, org.boss, approvals.approve, instance)
    with pytest.raises(approvals.ApprovalError, match="moved on from step manager to step finance"):
        decide(runtime, org.boss, approvals.approve, instance, step="manager")


def test_a_decision_by_someone_not_an_approver_is_refused(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    with pytest.raises(approvals.ApprovalError, match="you are not an approver of step manager"):
        decide(runtime, org.fin, approvals.approve, instance)


def test_the_submitter_recalls_a_pending_approval(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    with pytest.raises(approvals.ApprovalError, match="only the submitter"):
        decide(runtime, org.boss, approvals.recall, instance)
    assert decide(runtime, org.rep, approvals.recall, instance).state == "recalled"
    with pytest.raises(approvals.ApprovalError, match="is recalled"):
        decide(runtime, org.boss, approvals.approve, instance)


def test_recall_is_refused_when_the_flow_does_not_allow_it(runtime):
    org = prepare(runtime, approval(TWO_STEPS, allow_recall=False))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    with pytest.raises(approvals.ApprovalError, match="cannot be recalled"):
        decide(runtime, org.rep, approvals.recall, instance)


def test_a_transferred_task_is_decided_by_the_new_approver(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    instance = decide(runtime, org.boss, approvals.transfer, instance, to_user=org.chief, comment="away")
    assert pending(runtime, instance) == [org.chief]
    with pytest.raises(approvals.ApprovalError, match="already decided"):
        decide(runtime, org.boss, approvals.approve, instance)
    assert decide(runtime, org.chief, approvals.approve, instance).current_step == "finance"


def test_an_approver_added_before_decides_first_then_the_approver_who_added_them(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    instance = decide(runtime, org.boss, approvals.add_approver, instance, user_id=org.chief, position="before")
    assert pending(runtime, instance) == [org.chief]
    instance = decide(runtime, org.chief, approvals.approve, instance)
    assert (instance.current_step, pending(runtime, instance)) == ("manager", [org.boss])
    assert decide(runtime, org.boss, approvals.approve, instance).current_step == "finance"


def test_an_approver_added_after_must_approve_too_before_the_step_passes(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    instance = decide(runtime, org.boss, approvals.add_approver, instance, user_id=org.chief, position="after")
    assert (instance.current_step, pending(runtime, instance)) == ("manager", [org.chief])
    assert decide(runtime, org.chief, approvals.approve, instance).current_step == "finance"


def test_a_reminder_notifies_the_pending_approvers_again(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    assert decide(runtime, org.rep, approvals.remind, instance) == 1
    with runtime.engine.connect() as conn:
        told = conn.execute(sa.select(fw_notification.c.user_id).where(
            fw_notification.c.message.like("Reminder:%"))).scalars().all()
    assert told == [org.boss]


def test_a_substitute_decides_on_behalf_of_the_approver_and_the_log_says_so(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    with write_transaction(runtime.engine) as conn:
        approvers.delegate(conn, org.boss, org.chief, T0 - timedelta(days=1), T0 + timedelta(days=7), now=T0)
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    instance = decide(runtime, org.chief, approvals.approve, instance, comment="for boss")
    assert instance.current_step == "finance"
    with runtime.engine.connect() as conn:
        entry = next(e for e in approval_log(conn, instance.id) if e.action == "approve")
    assert (entry.actor, entry.on_behalf_of_name, entry.comment, entry.flow_version) == ("Chief", "Boss", "for boss", "1")


def test_a_delegation_that_has_ended_lets_the_substitute_decide_nothing(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    with write_transaction(runtime.engine) as conn:
        approvers.delegate(conn, org.boss, org.chief, T0 - timedelta(days=7), T0 - timedelta(days=1), now=T0)
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    with pytest.raises(approvals.ApprovalError, match="not an approver"):
        decide(runtime, org.chief, approvals.approve, instance)


def test_the_log_lists_every_decision_in_order(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    instance = decide(runtime, org.boss, approvals.approve, instance)
    instance = decide(runtime, org.fin, approvals.reject, instance, comment="redo", to_step="submitter")
    assert log(runtime, instance) == [("submit", org.rep, None), ("approve", org.boss, "manager"),
                                      ("reject", org.fin, "finance")]


def test_my_approvals_boxes_and_counts(runtime):
    org = prepare(runtime, approval(TWO_STEPS, carbon_copy={"on_finish": [{"user": "admin"}]}))
    first = submit(runtime, org.rep, deal(runtime, org.rep))
    second = submit(runtime, org.rep, deal(runtime, org.rep))
    decide(runtime, org.boss, approvals.approve, first)
    with runtime.engine.connect() as conn:
        assert [a.id for a in my_approvals(conn, org.boss, "waiting", now=T0)] == [second.id]
        assert [a.id for a in my_approvals(conn, org.boss, "done", now=T0)] == [first.id]
        assert [a.id for a in my_approvals(conn, org.rep, "submitted", now=T0)] == [second.id, first.id]
        assert my_approval_counts(conn, org.fin, now=T0) == {"waiting": 1, "submitted": 0, "done": 0, "copied": 0}
    decide(runtime, org.fin, approvals.reject, first, comment="no", to_step="submitter")
    decide(runtime, org.rep, approvals.recall, first)
    with runtime.engine.connect() as conn:
        assert my_approval_counts(conn, org.admin, now=T0)["copied"] == 0   # recalled: never finished


def test_batch_approve_approves_each_and_reports_the_refused(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    first = submit(runtime, org.rep, deal(runtime, org.rep))
    second = submit(runtime, org.rep, deal(runtime, org.rep))
    decide(runtime, org.boss, approvals.approve, second)
    result = approvals.batch_approve(runtime, actor(runtime, org.boss), [first.id, second.id])
    assert result.approved == [first.id]
    assert result.refused == {second.id: "you are not an approver of step finance"}


def test_a_rejection_to_a_named_step_goes_back_to_that_step(runtime):
    org = prepare(runtime, approval([step("manager", [{"manager_of": "submitter"}]),
                                     step("finance", [{"role": "finance"}]),
                                     step("chief", [{"user": "chief"}], reject_to={"step": "manager"})]))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    for user in (org.boss, org.fin):
        instance = decide(runtime, user, approvals.approve, instance)
    instance = decide(runtime, org.chief, approvals.reject, instance, comment="start over")
    assert (instance.current_step, instance.path) == ("manager", [])


def test_a_steps_on_approve_and_on_reject_actions_run_when_it_is_decided(runtime):
    org = prepare(runtime, approval([
        step("manager", [{"manager_of": "submitter"}],
             on_approve=[{"type": "update_record", "set": {"terms": '"manager ok"'}}]),
        step("finance", [{"role": "finance"}], reject_to="previous",
             on_reject=[{"type": "update_record", "set": {"terms": '"finance said no"'}}])]))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    instance = decide(runtime, org.boss, approvals.approve, instance)
    assert runtime.query().get("deal", instance.record_id)["terms"] == "manager ok"
    decide(runtime, org.fin, approvals.reject, instance, comment="no")
    assert runtime.query().get("deal", instance.record_id)["terms"] == "finance said no"


def test_carbon_copy_on_finish_puts_the_approval_in_the_copied_box(runtime):
    org = prepare(runtime, approval([step("finance", [{"role": "finance"}])],
                                    carbon_copy={"on_finish": [{"user": "admin"}]}))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    decide(runtime, org.fin, approvals.approve, instance)
    with runtime.engine.connect() as conn:
        assert [a.id for a in my_approvals(conn, org.admin, "copied", now=T0)] == [instance.id]


def test_submit_choices_lists_the_candidates_of_each_step_the_submitter_chooses_for(runtime):
    org = prepare(runtime, approval([step("pick", [{"chosen_by_submitter": [{"role": "finance"}]}]),
                                     step("chief", [{"user": "chief"}])]))
    choices = approvals.submit_choices(runtime, actor(runtime, org.rep), "deal", deal(runtime, org.rep))
    assert choices.flow.name == "deal_approval"
    assert {name: [r.user_id for r in users] for name, users in choices.candidates.items()} == {
        "pick": [org.fin, org.fin2]}


def test_a_user_lists_and_ends_their_delegations(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    with write_transaction(runtime.engine) as conn:
        made = approvers.delegate(conn, org.boss, org.chief, T0, T0 + timedelta(days=7), now=T0)
        assert [(d.id, d.substitute_id) for d in approvers.delegations_of(conn, org.boss, now=T0)] == [(made, org.chief)]
        assert approvers.end_delegation(conn, org.boss, made, now=T0 + timedelta(days=1)) is True
        assert approvers.delegations_of(conn, org.boss, now=T0 + timedelta(days=1)) == []


def test_a_user_cannot_be_their_own_substitute(runtime):
    org = prepare(runtime, approval(TWO_STEPS))
    with write_transaction(runtime.engine) as conn, pytest.raises(approvers.ApproverError, match="own substitute"):
        approvers.delegate(conn, org.boss, org.boss, T0, T0 + timedelta(days=1), now=T0)
