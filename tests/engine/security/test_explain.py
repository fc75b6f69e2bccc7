"""'Why can this user see this record?' answered in sentences, agreeing with the query path."""
from __future__ import annotations

from pathlib import Path

import pytest
from security_org import build_org, line_of, quote_of, task_for

from engine.apps import install_app
from engine.errors import NotFound
from engine.security.explain import explain_access
from engine.security.sharing import share_record
from engine.security.users import actor_by_name
from engine.storage.db import write_transaction
from metamodel import load_app

CRM = load_app(Path(__file__).resolve().parents[3] / "apps" / "crm_default")


@pytest.fixture
def org(runtime):
    install_app(runtime, CRM)
    with write_transaction(runtime.engine) as conn:
        return build_org(conn)


def explain(runtime, username, record_id):
    with runtime.engine.connect() as conn:
        user = actor_by_name(conn, username)
        return explain_access(conn, runtime.registry(conn), user, "account", record_id)


def account_of(runtime, org, owner):
    return runtime.records().create("account", {"name": "Acme", "owner_id": org.users[owner]})["id"]


def test_owner_reads_and_edits_through_their_role(runtime, org):
    answer = explain(runtime, "rep_n1", account_of(runtime, org, "rep_n1"))
    assert (answer.can_read, answer.can_edit) == (True, True)
    assert "The record is owned by rep_n1 in department north." in answer.reasons
    assert "Role sales_rep reads the records they own of account: this one is among them." in answer.reasons


def test_colleagues_record_is_explained_as_outside_the_scope(runtime, org):
    answer = explain(runtime, "rep_n1", account_of(runtime, org, "rep_n2"))
    assert (answer.can_read, answer.can_edit) == (False, False)
    assert "Role sales_rep reads the records they own of account: this one is not." in answer.reasons


def test_manager_reads_the_team_members_record(runtime, org):
    record = account_of(runtime, org, "rep_n2")
    answer = explain(runtime, "mgr_n", record)
    assert answer.can_read
    with runtime.engine.connect() as conn:
        manager = actor_by_name(conn, "mgr_n")
    assert runtime.query(manager).get("account", record)["id"] == record


def test_share_is_named_as_the_reason(runtime, org):
    record = account_of(runtime, org, "rep_n2")
    with write_transaction(runtime.engine) as conn:
        share_record(conn, runtime.registry(conn), actor_by_name(conn, "rep_n2"), "account", record,
                     org.users["rep_e1"], "read")
    answer = explain(runtime, "rep_e1", record)
    assert (answer.can_read, answer.can_edit) == (True, False)
    assert "The record is shared with rep_e1 for read." in answer.reasons


def test_explaining_a_missing_record_is_not_found(runtime, org):
    with pytest.raises(NotFound):
        explain(runtime, "rep_n1", 999)


def _explain(runtime, username, entity, record_id):
    with runtime.engine.connect() as conn:
        return explain_access(conn, runtime.registry(conn), actor_by_name(conn, username), entity, record_id)


def _number(runtime, quote_id):
    return runtime.query().get("quote", quote_id)["number"]


def test_a_colleagues_line_on_an_own_quote_is_explained_through_the_quote(runtime, org):
    quote = quote_of(runtime.records(), org.users["rep_n1"])
    line = line_of(runtime.records(), quote, org.users["rep_n2"])
    answer = _explain(runtime, "rep_n1", "quote_line", line)
    number = _number(runtime, quote)
    assert (answer.can_read, answer.can_edit) == (True, True)
    assert f"Visible because they can read quote {number}: own record." in answer.reasons
    assert f"Editable because they can edit quote {number}." in answer.reasons


def test_an_own_line_on_a_colleagues_quote_is_explained_as_not_visible(runtime, org):
    quote = quote_of(runtime.records(), org.users["rep_n2"])
    line = line_of(runtime.records(), quote, org.users["rep_n1"])
    answer = _explain(runtime, "rep_n1", "quote_line", line)
    number = _number(runtime, quote)
    assert (answer.can_read, answer.can_edit) == (False, False)
    assert f"Not visible: they cannot read quote {number}." in answer.reasons
    assert (f"quote {number}: Role sales_rep reads the records they own of quote: this one is not."
            in answer.reasons)


def test_a_line_of_a_quote_shared_for_reading_is_visible_but_not_editable(runtime, org):
    quote = quote_of(runtime.records(), org.users["rep_n2"])
    line = line_of(runtime.records(), quote, org.users["rep_n2"])
    with write_transaction(runtime.engine) as conn:
        share_record(conn, runtime.registry(conn), actor_by_name(conn, "rep_n2"), "quote", quote,
                     org.users["rep_n1"], "read")
    answer = _explain(runtime, "rep_n1", "quote_line", line)
    number = _number(runtime, quote)
    assert (answer.can_read, answer.can_edit) == (True, False)
    assert f"Visible because they can read quote {number}: shared with them for read." in answer.reasons
    assert f"Not editable: they cannot edit quote {number}." in answer.reasons


def test_the_assignee_of_a_task_is_named_as_the_reason(runtime, org):
    task = task_for(runtime.records(), org.users["mgr_n"], org.users["rep_n1"])
    answer = _explain(runtime, "rep_n1", "task", task)
    assert (answer.can_read, answer.can_edit) == (True, True)
    assert "rep_n1 is the record's Assignee, which lets them read and edit it." in answer.reasons
    assert "Role sales_rep reads the records they own of task: this one is not." in answer.reasons
