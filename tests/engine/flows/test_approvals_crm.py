"""The default CRM's quote discount approval, end to end: a rep's 25 % discount goes to their
manager, then finance, who sends it back to the manager once; the log keeps all of it in order."""
from __future__ import annotations

import pytest
from approval_apps import Clock
from engine_apps import CRM_FOLDER

from engine.apps import install_app
from engine.errors import ValidationError
from engine.flows import approvals
from engine.flows.approval_queries import approval_for_record
from engine.security.users import actor_for, create_user
from engine.storage.db import write_transaction


def test_a_discounted_quote_goes_through_manager_and_finance_with_one_send_back(runtime):
    runtime.clock = Clock()
    install_app(runtime, CRM_FOLDER)
    with write_transaction(runtime.engine) as conn:
        manager = create_user(conn, "manager", display_name="Manager", roles=["sales_manager"]).id
        rep = create_user(conn, "rep", display_name="Rep", roles=["sales_rep"], manager_id=manager).id
        finance = create_user(conn, "finance", display_name="Finance", roles=["finance"]).id
        as_rep, as_manager, as_finance = (actor_for(conn, u) for u in (rep, manager, finance))
    records = runtime.records(as_rep)
    account = records.create("account", {"name": "Acme"})
    deal = records.create("opportunity", {"name": "Acme rollout", "account": account["id"], "stage": "initial_contact",
                                          "close_date": "2027-03-01"})
    quote = records.create("quote", {"name": "Q1", "opportunity": deal["id"], "discount": 25})
    with pytest.raises(ValidationError, match="only the approval quote_discount_approval does that"):
        records.update("quote", quote["id"], {"status": "approved"})

    instance = approvals.submit(runtime, as_rep, "quote", quote["id"])
    assert runtime.query().get("quote", quote["id"])["status"] == "pending_approval"
    instance = approvals.approve(runtime, as_manager, instance.id, step="manager", comment="ok by me")
    instance = approvals.reject(runtime, as_finance, instance.id, step="finance", to_step="manager",
                                comment="justify the discount")
    assert (instance.state, instance.current_step) == ("pending", "manager")
    instance = approvals.approve(runtime, as_manager, instance.id, step="manager", comment="strategic account")
    instance = approvals.approve(runtime, as_finance, instance.id, step="finance")

    assert instance.state == "approved"
    assert runtime.query().get("quote", quote["id"])["status"] == "approved"
    with runtime.engine.connect() as conn:
        log = approval_for_record(conn, "quote", quote["id"]).log
    decisions = [(e.action, e.actor, e.step, e.comment) for e in log
                 if e.action in ("submit", "approve", "reject", "approved")]
    assert decisions == [("submit", "Rep", None, None),
                         ("approve", "Manager", "manager", "ok by me"),
                         ("reject", "Finance", "finance", "justify the discount"),
                         ("approve", "Manager", "manager", "strategic account"),
                         ("approve", "Finance", "finance", None),
                         ("approved", None, None, None)]
    assert {e.flow_version for e in log} == {"1"}


def test_a_contract_goes_up_the_chain_of_managers_then_finance_and_its_approval_is_emailed(runtime):
    from engine.flows.outbox import pending_messages

    runtime.clock = Clock()
    install_app(runtime, CRM_FOLDER)
    with write_transaction(runtime.engine) as conn:
        director = create_user(conn, "director", roles=["sales_manager"], email="director@example.com").id
        manager = create_user(conn, "manager", roles=["sales_manager"], manager_id=director,
                              email="manager@example.com").id
        rep = create_user(conn, "rep", roles=["sales_rep"], manager_id=manager, email="rep@example.com").id
        finance = create_user(conn, "finance", roles=["finance"]).id
        as_rep, as_manager, as_director, as_finance = (actor_for(conn, u) for u in (rep, manager, director, finance))
    records = runtime.records(as_rep)
    account = records.create("account", {"name": "Acme"})
    contract = records.create("contract", {"name": "Acme 2027", "account": account["id"], "amount": 500,
                                           "start_date": "2027-01-01", "end_date": "2027-12-31"})
    instance = approvals.submit(runtime, as_rep, "contract", contract["id"])
    with pytest.raises(approvals.ApprovalError, match="not your turn"):
        approvals.approve(runtime, as_director, instance.id)
    for who in (as_manager, as_director, as_finance):
        instance = approvals.approve(runtime, who, instance.id)
    assert instance.state == "approved"   # the executive step is skipped below a million
    assert runtime.query().get("contract", contract["id"])["status"] == "active"
    with runtime.engine.connect() as conn:
        [email] = [m for m in pending_messages(conn) if m["kind"] == "email" and m["flow"] == "contract_approval"]
    assert (email["payload"]["template"], email["payload"]["to"], email["payload"]["cc"]) == (
        "contract_approved", ["rep@example.com"], ["manager@example.com"])
