"""Record-triggered automations: they run in the save's transaction, their writes and outbox rows
commit or roll back with it, and every run is logged."""
from __future__ import annotations

import copy

import pytest
import sqlalchemy as sa
from engine_apps import ACCOUNT, QUOTE, app_documents, entity_doc, label

from engine.apps import install_app
from engine.errors import ValidationError
from engine.flows.events import MAX_DEPTH
from engine.flows.notifications import Notification
from engine.flows.outbox import pending_messages
from engine.flows.runlog import latest_runs
from engine.security.org import create_department
from engine.security.users import create_user
from engine.storage.db import fw_notification, fw_outbox, write_transaction
from metamodel import app_from_documents

LEAD = entity_doc("lead", [
    {"name": "name", "type": "text", "required": True},
    {"name": "status", "type": "text"},
    {"name": "score", "type": "integer"},
    {"name": "note", "type": "text", "max_length": 5},
    {"name": "region", "type": "picklist", "values": [{"value": "north", "label": label("North")},
                                                      {"value": "south", "label": label("South")}]},
    {"name": "account", "type": "lookup", "target": "account"},
])
APPROVAL = {"name": "review", "label": label("Review"), "kind": "approval", "entity": "lead", "version": 1,
            "steps": [{"name": "boss", "approvers": [{"role": "sales_rep"}]}]}
ROLES = [{"name": "sales_rep", "label": label("Sales rep"), "permissions": {"*": "all"}}]


def automation(name: str, trigger: dict, actions: list[dict], *, entity: str = "lead",
               condition: str | None = None, enabled: bool = True) -> dict:
    doc = {"name": name, "label": label(name), "kind": "automation", "entity": entity, "version": 1,
           "enabled": enabled, "trigger": trigger, "actions": actions}
    if condition:
        doc["condition"] = condition
    return doc


@pytest.fixture
def with_flows(runtime):
    """Installs lead, account and quote with the given automations; returns the registry."""
    def _install(*flows: dict):
        docs = app_documents(ACCOUNT, QUOTE, LEAD)
        docs["app.json"]["roles"] = copy.deepcopy(ROLES)
        docs["email_templates/welcome.json"] = {"name": "welcome", "subject": "Welcome", "body": "Hello {{ name }}"}
        for flow in flows:
            docs[f"flows/{flow['name']}.json"] = flow
        install_app(runtime, app_from_documents(docs))
        return runtime.registry()
    return _install


def users(runtime, *names: str, role: str | None = "sales_rep", department: str | None = None) -> list[int]:
    with write_transaction(runtime.engine) as conn:
        department_id = create_department(conn, department) if department else None
        return [create_user(conn, n, roles=[role] if role else [], department_id=department_id,
                            email=f"{n}@example.com").id for n in names]


def outbox(runtime) -> list[dict]:
    with runtime.engine.connect() as conn:
        return pending_messages(conn)


def notes(runtime) -> list[Notification]:
    """Every user's notifications, the oldest first."""
    with runtime.engine.connect() as conn:
        return [Notification(**row) for row in conn.execute(
            sa.select(fw_notification).order_by(fw_notification.c.id)).mappings()]


def runs(runtime) -> list:
    with runtime.engine.connect() as conn:
        return latest_runs(conn)


def test_created_trigger_runs_and_its_update_commits_with_the_save(runtime, with_flows):
    with_flows(automation("tag", {"on": "created"}, [{"type": "update_record", "set": {"status": '"new"'}}]))
    lead = runtime.records().create("lead", {"name": "Ann"})
    assert lead["status"] == "new"
    assert runtime.query().get("lead", lead["id"])["status"] == "new"
    [run] = runs(runtime)
    assert (run.flow, run.trigger, run.condition, run.record_id) == ("tag", "created", True, lead["id"])
    assert run.actions == ({"type": "update_record", "result": "done"},)


def test_a_false_condition_does_nothing_but_is_logged(runtime, with_flows):
    with_flows(automation("tag", {"on": "created"}, [{"type": "update_record", "set": {"status": '"hot"'}}],
                          condition="score > 50"))
    lead = runtime.records().create("lead", {"name": "Ann", "score": 10})
    assert lead["status"] is None
    [run] = runs(runtime)
    assert run.condition is False and run.actions == ()


def test_a_disabled_automation_does_not_run(runtime, with_flows):
    with_flows(automation("tag", {"on": "created"}, [{"type": "update_record", "set": {"status": '"x"'}}],
                          enabled=False))
    assert runtime.records().create("lead", {"name": "Ann"})["status"] is None
    assert runs(runtime) == []


def test_field_changed_with_ischanged_fires_only_when_the_field_changes(runtime, with_flows):
    with_flows(automation("rescore", {"on": "field_changed", "fields": ["score"]},
                          [{"type": "update_record", "set": {"status": '"rescored from " & PRIORVALUE(name)'}}],
                          condition="ISCHANGED(score)"))
    records = runtime.records()
    lead = records.create("lead", {"name": "Ann", "score": 1})
    assert lead["status"] == "rescored from"          # created: the score changed from blank
    assert records.update("lead", lead["id"], {"name": "Anna", "status": "kept"})["status"] == "kept"
    assert records.update("lead", lead["id"], {"score": 7})["status"] == "rescored from Anna"
    assert [r.trigger for r in runs(runtime)] == ["field_changed", "field_changed"]


def test_updated_trigger_sees_the_prior_record(runtime, with_flows):
    with_flows(automation("cooled", {"on": "updated"}, [{"type": "update_record", "set": {"status": '"cooled"'}}],
                          condition="PRIORVALUE(score) > score"))
    records = runtime.records()
    lead = records.create("lead", {"name": "Ann", "score": 9})
    assert records.update("lead", lead["id"], {"score": 10})["status"] is None
    assert records.update("lead", lead["id"], {"score": 2})["status"] == "cooled"


def test_a_failing_action_rolls_back_the_save_and_names_the_flow_and_action(runtime, with_flows):
    with_flows(automation("lead_intake", {"on": "created"}, [
        {"type": "update_record", "set": {"status": '"new"'}},
        {"type": "update_record", "set": {"score": "1/0"}}]))
    with pytest.raises(ValidationError) as caught:
        runtime.records().create("lead", {"name": "Ann"})
    assert caught.value.by_field() == {
        None: ["automation lead_intake, action 2 (update_record): Division by zero."]}
    assert runtime.query().count("lead") == 0
    assert runs(runtime) == []


def test_an_assignment_to_an_empty_pool_keeps_the_owner_and_says_so_in_the_run(runtime, with_flows):
    with_flows(automation("lead_intake", {"on": "created"}, [
        {"type": "assign", "to": {"round_robin": {"role": "sales_rep"}}}]))
    lead = runtime.records().create("lead", {"name": "Ann", "owner_id": None})
    assert runtime.query().get("lead", lead["id"])["owner_id"] is None
    assert runs(runtime)[0].actions == (
        {"type": "assign", "result": "skipped: no active user has role sales_rep; the owner stays"},)


def test_a_write_refused_by_validation_rolls_back_the_save(runtime, with_flows):
    with_flows(automation("noted", {"on": "created"}, [{"type": "update_record", "set": {"note": '"too long"'}}]))
    with pytest.raises(ValidationError, match=r"automation noted, action 1 \(update_record\): .*note"):
        runtime.records().create("lead", {"name": "Ann"})
    assert runtime.query().count("lead") == 0


def test_a_rolled_back_save_leaves_no_outbox_row_and_no_run(runtime, with_flows):
    with_flows(automation("welcome", {"on": "created"}, [
        {"type": "notify", "to": [{"user": "rep"}], "message": label("Hello")},
        {"type": "update_record", "set": {"note": '"too long"'}}]))
    users(runtime, "rep")
    with pytest.raises(ValidationError):
        runtime.records().create("lead", {"name": "Ann"})
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fw_outbox)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(fw_notification)).scalar_one() == 0
    assert runs(runtime) == []


def test_notify_writes_notifications_and_email_and_webhook_are_queued_in_the_outbox(runtime, with_flows):
    with_flows(automation("tell", {"on": "created"}, [
        {"type": "notify", "to": [{"person": "owner"}], "title": label("New"), "message": label("A lead")},
        {"type": "email", "template": "welcome", "to": [{"person": "owner"}, {"address": "ops@example.com"}]},
        {"type": "webhook", "url": "https://erp.example.com/hook", "secret": "erp", "fields": ["name"]},
        {"type": "start_approval", "flow": "review"}]), APPROVAL)
    rep = users(runtime, "rep")[0]
    lead = runtime.records().create("lead", {"name": "Ann", "owner_id": rep})
    [note] = [n for n in notes(runtime) if n.flow == "tell"]
    assert (note.user_id, note.title, note.message, note.entity, note.record_id, note.flow, note.read_at) == (
        rep, "New", "A lead", "lead", lead["id"], "tell", None)
    email, webhook = [m for m in outbox(runtime) if m["flow"] == "tell"]
    assert email["kind"] == "email" and email["status"] == "pending"
    assert email["payload"]["to"] == ["rep@example.com", "ops@example.com"]
    assert email["payload"]["template"] == "welcome"
    assert webhook["payload"]["url"] == "https://erp.example.com/hook"
    assert webhook["payload"]["body"]["record"] == {"id": lead["id"], "name": "Ann"}
    [run] = runs(runtime)
    assert email["run_id"] == run.id and email["flow"] == "tell"
    assert run.actions[0] == {"type": "notify", "result": "notified 1"}
    assert run.actions[-1]["type"] == "start_approval"
    assert run.actions[-1]["result"].startswith("submitted approval ")


def test_round_robin_assigns_users_in_turn(runtime, with_flows):
    with_flows(automation("spread", {"on": "created"},
                          [{"type": "assign", "to": {"round_robin": {"role": "sales_rep"}}}]))
    first, second, third = users(runtime, "a", "b", "c")
    records = runtime.records()
    owners = [records.create("lead", {"name": f"L{n}"})["owner_id"] for n in range(4)]
    assert owners == [first, second, third, first]


def test_mapping_assigns_by_the_picklist_value_and_otherwise(runtime, with_flows):
    with_flows(automation("by_region", {"on": "created"}, [{
        "type": "assign", "by": "region", "map": {"north": {"round_robin": {"department": "sales_north"}}},
        "otherwise": {"user": "rep"}}]))
    [north] = users(runtime, "north_rep", role=None, department="sales_north")
    [anyone] = users(runtime, "rep")
    records = runtime.records()
    assert records.create("lead", {"name": "A", "region": "north"})["owner_id"] == north
    assert records.create("lead", {"name": "B", "region": "south"})["owner_id"] == anyone


def test_create_record_action_sets_fields_by_formula_and_the_owner(runtime, with_flows):
    with_flows(automation("quote_it", {"on": "created"}, [{
        "type": "create_record", "entity": "quote", "set": {"title": '"Quote for " & name', "account": "account.id"}}]))
    [rep] = users(runtime, "rep")
    account = runtime.records().create("account", {"name": "Acme"})
    runtime.records().create("lead", {"name": "Ann", "account": account["id"], "owner_id": rep})
    [quote] = runtime.query().list("quote").rows
    assert (quote["title"], quote["account"], quote["owner_id"]) == ("Quote for Ann", account["id"], rep)


def test_update_on_the_parent_through_a_lookup(runtime, with_flows):
    with_flows(automation("warm_account", {"on": "created"}, [{
        "type": "update_record", "on": "account", "set": {"grade": '"vip"', "employees": "score * 2"}}]))
    account = runtime.records().create("account", {"name": "Acme"})
    runtime.records().create("lead", {"name": "Ann", "account": account["id"], "score": 21})
    parent = runtime.query().get("account", account["id"])
    assert (parent["grade"], parent["employees"]) == ("vip", 42)


def test_loop_guard_stops_at_the_depth_limit_and_logs_it(runtime, with_flows):
    with_flows(automation("bump", {"on": "updated"}, [{"type": "update_record", "set": {"score": "score + 1"}}]))
    records = runtime.records()
    lead = records.create("lead", {"name": "Ann", "score": 0})
    updated = records.update("lead", lead["id"], {"score": 1})
    assert updated["score"] == 1 + MAX_DEPTH
    logged = runs(runtime)
    assert [r.error for r in logged if r.error] == [
        f"not run: automations triggered one another {MAX_DEPTH} levels deep (the limit)"]
    assert sum(1 for r in logged if r.condition) == MAX_DEPTH


def test_deleted_trigger_sees_the_deleted_record(runtime, with_flows):
    with_flows(automation("gone", {"on": "deleted"},
                          [{"type": "notify", "to": [{"user": "rep"}], "message": label("Lead deleted")}],
                          condition='name = "Ann"'))
    [rep] = users(runtime, "rep")
    records = runtime.records()
    records.delete("lead", records.create("lead", {"name": "Bob"})["id"])
    records.delete("lead", records.create("lead", {"name": "Ann"})["id"])
    [note] = notes(runtime)
    assert (note.user_id, note.message, note.entity) == (rep, "Lead deleted", "lead")
