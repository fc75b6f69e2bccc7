"""Telling users: each reads their notification in their own language, in the transaction of what
caused it; those who asked for email get a rendered copy in the outbox, nobody else does."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from engine_apps import ACCOUNT, QUOTE, app_documents, entity_doc
from sqlalchemy import event

from engine.apps import install_app
from engine.data.views import set_notify_by_email
from engine.errors import ValidationError
from engine.flows.notifications import Note, Notification, notify_users, unread_count
from engine.flows.outbox import pending_messages
from engine.flows.runlog import latest_runs
from engine.security.users import create_user, deactivate_user
from engine.storage.db import fw_notification, write_transaction
from metamodel import app_from_documents

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
HELLO = {"en": "Lead Wang is yours", "zh": "线索王先生已分配给您"}
TITLE = {"en": "New lead", "zh": "新线索"}
LEAD = entity_doc("lead", [{"name": "name", "type": "text", "required": True},
                           {"name": "note", "type": "text", "max_length": 5}])


def person(runtime, name: str, *, locale: str = "en", by_email: bool = False, email: str | None = "") -> int:
    with write_transaction(runtime.engine) as conn:
        user_id = create_user(conn, name, locale=locale,
                              email=f"{name}@example.com" if email == "" else email).id
        set_notify_by_email(conn, user_id, by_email)
    return user_id


def notes(runtime) -> list[Notification]:
    with runtime.engine.connect() as conn:
        return [Notification(**row) for row in conn.execute(
            sa.select(fw_notification).order_by(fw_notification.c.id)).mappings()]


def emails(runtime) -> list[dict]:
    with runtime.engine.connect() as conn:
        return [m for m in pending_messages(conn) if m["kind"] == "email"]


@pytest.fixture
def lead_app(runtime):
    """Installs a lead entity with one automation, `tell`, doing `actions` when a lead is created."""
    def install(*actions: dict):
        docs = app_documents(ACCOUNT, QUOTE, LEAD)
        docs["flows/tell.json"] = {"name": "tell", "label": {"en": "Tell"}, "kind": "automation", "entity": "lead",
                                   "version": 1, "trigger": {"on": "created"}, "actions": list(actions)}
        install_app(runtime, app_from_documents(docs))
    return install


def test_each_user_reads_the_notification_in_their_language(runtime):
    ann, li = person(runtime, "ann"), person(runtime, "li", locale="zh")
    with write_transaction(runtime.engine) as conn:
        told = notify_users(conn, [ann, li], Note(HELLO, TITLE, "lead", 7, "tell"), now=T0)
    assert told.users == (ann, li)
    assert [(n.user_id, n.title, n.message, n.entity, n.record_id, n.flow) for n in notes(runtime)] == [
        (ann, "New lead", "Lead Wang is yours", "lead", 7, "tell"),
        (li, "新线索", "线索王先生已分配给您", "lead", 7, "tell")]


def test_only_users_who_want_email_get_a_rendered_copy_in_their_language(runtime):
    ann = person(runtime, "ann")
    li = person(runtime, "li", locale="zh", by_email=True)
    with write_transaction(runtime.engine) as conn:
        told = notify_users(conn, [ann, li], Note(HELLO, TITLE, "lead", 7, "tell"), now=T0)
    assert told.emailed == (li,)
    [email] = emails(runtime)
    payload = email["payload"]
    assert (payload["to"], payload["subject"], payload["flow"], payload["entity"], payload["record_id"]) == (
        ["li@example.com"], "新线索", "tell", "lead", 7)
    assert payload["body"].startswith("线索王先生已分配给您\n") and "我的账户" in payload["body"]
    assert "template" not in payload and email["flow"] == "tell"


def test_a_user_who_wants_email_but_has_no_address_is_told_in_the_app_only(runtime):
    ann = person(runtime, "ann", by_email=True, email=None)
    with write_transaction(runtime.engine) as conn:
        told = notify_users(conn, [ann], Note(HELLO), now=T0)
    assert (told.users, told.emailed) == ((ann,), ())
    assert emails(runtime) == []


def test_without_a_title_the_subject_is_the_first_line_of_the_message(runtime):
    ann = person(runtime, "ann", by_email=True)
    with write_transaction(runtime.engine) as conn:
        notify_users(conn, [ann], Note({"en": "Quote Q-1 approved\nDiscount 25 %"}), now=T0)
    assert emails(runtime)[0]["payload"]["subject"] == "Quote Q-1 approved"


def test_deactivated_and_repeated_users_are_told_once_or_not_at_all(runtime):
    ann, bob = person(runtime, "ann"), person(runtime, "bob")
    with write_transaction(runtime.engine) as conn:
        deactivate_user(conn, "bob")
        told = notify_users(conn, [ann, bob, ann], Note(HELLO), now=T0)
    assert told.users == (ann,)
    assert [n.user_id for n in notes(runtime)] == [ann]


def test_the_notify_action_writes_a_notification_per_recipient_in_their_language(runtime, lead_app):
    lead_app({"type": "notify", "to": [{"user": "ann"}, {"user": "li"}], "title": TITLE, "message": HELLO})
    ann, li = person(runtime, "ann"), person(runtime, "li", locale="zh")
    lead = runtime.records().create("lead", {"name": "Wang"})
    assert [(n.user_id, n.message, n.entity, n.record_id, n.read_at) for n in notes(runtime)] == [
        (ann, "Lead Wang is yours", "lead", lead["id"], None), (li, "线索王先生已分配给您", "lead", lead["id"], None)]
    assert emails(runtime) == []


def test_the_notify_action_emails_only_recipients_who_want_it(runtime, lead_app):
    lead_app({"type": "notify", "to": [{"user": "ann"}, {"user": "li"}], "message": HELLO})
    person(runtime, "ann")
    person(runtime, "li", by_email=True)
    lead = runtime.records().create("lead", {"name": "Wang"})
    [email] = emails(runtime)
    assert (email["payload"]["to"], email["payload"]["record_id"]) == (["li@example.com"], lead["id"])
    assert len(notes(runtime)) == 2
    with runtime.engine.connect() as conn:
        [run] = latest_runs(conn)
    assert email["run_id"] == run.id and run.actions[0]["result"] == "notified 2, emailed 1"


def test_a_rolled_back_save_writes_no_notification_and_queues_no_email(runtime, lead_app):
    lead_app({"type": "notify", "to": [{"user": "ann"}, {"user": "li"}], "message": HELLO},
             {"type": "update_record", "set": {"note": '"too long"'}})
    person(runtime, "li", by_email=True)
    with pytest.raises(ValidationError):
        runtime.records().create("lead", {"name": "Wang"})
    assert notes(runtime) == [] and emails(runtime) == []


def test_the_unread_count_is_answered_from_the_user_and_read_at_index(runtime):
    ann = person(runtime, "ann")
    statements: list[tuple[str, object]] = []

    def seen(_conn, _cursor, statement, parameters, *_args):
        if "fw_notification" in statement:
            statements.append((statement, parameters))

    with runtime.engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", seen)
        assert unread_count(conn, ann) == 0
        event.remove(conn, "before_cursor_execute", seen)
        [(statement, parameters)] = statements
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")   # a near-empty table would be scanned
            plan = " ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters))
        else:
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                                                        parameters))
    assert "ix_fw_notification_user_id_read_at" in plan
