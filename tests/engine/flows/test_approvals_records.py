"""What a pending approval does to its record: locked for edits and deletion (the current
approvers may edit the step's editable fields), fields set by an approval written by it only, the
record readable by its pending approvers, and an instance finishing on the version it began with."""
from __future__ import annotations

import pytest
from approval_apps import actor, approval, deal, install, prepare, step

from engine.errors import NotFound, PermissionDenied, ValidationError
from engine.flows import approvals

STEPS = [step("finance", [{"role": "finance"}], editable_fields=["terms"]), step("chief", [{"user": "chief"}])]
SETS_STATUS = {"on_approved": [{"type": "update_record", "set": {"status": '"approved"'}}]}


def submit(runtime, user: int, record: int):
    return approvals.submit(runtime, actor(runtime, user), "deal", record)


def records(runtime, user: int):
    return runtime.records(actor(runtime, user))


def test_a_pending_record_refuses_edits_naming_the_approval(runtime):
    org = prepare(runtime, approval(STEPS))
    record = deal(runtime, org.rep)
    submit(runtime, org.rep, record)
    with pytest.raises(ValidationError) as caught:
        records(runtime, org.rep).update("deal", record, {"amount": 5})
    assert caught.value.by_field() == {None: [
        "this record is locked while it waits for the approval deal_approval; you cannot change amount"]}


def test_a_pending_record_cannot_be_deleted(runtime):
    org = prepare(runtime, approval(STEPS))
    record = deal(runtime, org.rep)
    submit(runtime, org.rep, record)
    with pytest.raises(ValidationError, match="locked while it waits for the approval deal_approval"):
        records(runtime, org.rep).delete("deal", record)


def test_a_flow_without_lock_record_leaves_the_record_editable(runtime):
    org = prepare(runtime, approval(STEPS, lock_record=False))
    record = deal(runtime, org.rep)
    submit(runtime, org.rep, record)
    assert records(runtime, org.rep).update("deal", record, {"amount": 5})["amount"] == 5


def test_the_current_approvers_may_edit_the_steps_editable_fields_only(runtime):
    org = prepare(runtime, approval(STEPS))
    record = deal(runtime, org.rep)
    submit(runtime, org.rep, record)
    assert records(runtime, org.fin).update("deal", record, {"terms": "net 60"})["terms"] == "net 60"
    with pytest.raises(PermissionDenied, match="you may not update"):
        records(runtime, org.fin).update("deal", record, {"amount": 1})


def test_a_value_an_approval_sets_cannot_be_set_by_hand(runtime):
    org = prepare(runtime, approval(STEPS, **SETS_STATUS))
    record = deal(runtime, org.rep)
    with pytest.raises(ValidationError) as caught:
        records(runtime, org.rep).update("deal", record, {"status": "approved"})
    assert caught.value.by_field() == {
        "status": ["cannot be set to approved by hand: only the approval deal_approval does that"]}
    with pytest.raises(ValidationError, match="cannot be set to approved by hand"):
        records(runtime, org.rep).create("deal", {"name": "Beta", "status": "approved"})


def test_a_value_no_approval_sets_stays_the_users_to_set(runtime):
    org = prepare(runtime, approval(STEPS, **SETS_STATUS))
    record = deal(runtime, org.rep)
    assert records(runtime, org.rep).update("deal", record, {"status": "pending"})["status"] == "pending"


def test_a_field_an_approval_sets_by_formula_is_written_by_flows_only(runtime):
    org = prepare(runtime, approval(STEPS, on_approved=[{"type": "update_record", "set": {"terms": 'name & " ok"'}}]))
    with pytest.raises(ValidationError) as caught:
        records(runtime, org.rep).update("deal", deal(runtime, org.rep), {"terms": "mine"})
    assert caught.value.by_field() == {"terms": ["is set by the approval deal_approval and cannot be changed by hand"]}


def test_the_approval_itself_writes_the_field_it_owns(runtime):
    org = prepare(runtime, approval(STEPS, **SETS_STATUS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    approvals.approve(runtime, actor(runtime, org.fin), instance.id)
    approvals.approve(runtime, actor(runtime, org.chief), instance.id)
    assert runtime.query().get("deal", instance.record_id)["status"] == "approved"


def test_a_pending_approver_reads_the_record_only_while_it_waits_for_them(runtime):
    org = prepare(runtime, approval(STEPS))
    record = deal(runtime, org.rep)
    finance = runtime.query(actor(runtime, org.fin))
    with pytest.raises(NotFound):
        finance.get("deal", record)
    instance = submit(runtime, org.rep, record)
    assert finance.get("deal", record)["id"] == record
    assert [r["id"] for r in finance.list("deal").rows] == [record]
    approvals.approve(runtime, actor(runtime, org.fin), instance.id)
    assert finance.count("deal") == 0


def test_an_instance_finishes_on_the_flow_version_it_started_with(runtime):
    org = prepare(runtime, approval(STEPS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    changed = approval([step("finance", [{"role": "finance"}])], version=2)
    install(runtime, changed, version="1.1.0")
    instance = approvals.approve(runtime, actor(runtime, org.fin), instance.id)
    assert (instance.flow_version, instance.current_step) == ("1", "chief")   # version 1 still has chief
    assert submit(runtime, org.rep, deal(runtime, org.rep)).flow_version == "2"


def test_an_instance_of_a_removed_flow_still_finishes(runtime):
    org = prepare(runtime, approval(STEPS, **SETS_STATUS))
    instance = submit(runtime, org.rep, deal(runtime, org.rep))
    install(runtime, version="1.1.0")
    approvals.approve(runtime, actor(runtime, org.fin), instance.id)
    assert approvals.approve(runtime, actor(runtime, org.chief), instance.id).state == "approved"
    assert runtime.query().get("deal", instance.record_id)["status"] == "approved"
