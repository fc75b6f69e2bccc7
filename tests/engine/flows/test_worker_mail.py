"""Mail from the outbox: rendered from the app's template, sent once through SMTP after the save
commits, never for one that rolled back, once after a worker crash, retried and then failed,
held when no SMTP server is configured."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from worker_fixtures import EMAIL_LEAD, T0, install_with, make_user

from engine.flows import outbox
from engine.flows.delivery import DeliverySettings, deliver_due, preview_mail
from engine.flows.mail import MailNotSendable, render_template
from engine.flows.outbox import OutboxMessage, queue_messages
from engine.storage.db import write_transaction
from metamodel.email_templates import EmailTemplate


def rows(runtime) -> list[outbox.OutboxRow]:
    with runtime.engine.connect() as conn:
        return sorted(outbox.outbox_rows(conn), key=lambda r: r.id)


def test_a_committed_saves_mail_arrives_once(runtime, clock, smtp):
    inbox, settings = smtp
    install_with(runtime, EMAIL_LEAD)
    runtime.records().create("lead", {"name": "Ann", "email": "ann@example.org", "region": "north"})
    assert deliver_due(runtime, settings=settings).sent == 1
    assert deliver_due(runtime, now=T0 + timedelta(days=1), settings=settings).sent == 0
    [message] = inbox.messages
    assert (message["To"], message["Subject"], message["From"]) == ("ann@example.org", "Welcome, Ann",
                                                                     "crm@example.com")
    assert "Region: North" in message.get_payload()
    [row] = rows(runtime)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, T0)


def test_a_rolled_back_saves_mail_is_never_sent(runtime, clock, smtp):
    inbox, settings = smtp
    install_with(runtime, EMAIL_LEAD)
    try:
        with write_transaction(runtime.engine) as conn:
            runtime.records(conn=conn).create("lead", {"name": "Ann", "email": "ann@example.org"})
            raise RuntimeError("the rest of the import failed")
    except RuntimeError:
        pass
    assert deliver_due(runtime, settings=settings).sent == 0
    assert inbox.messages == [] and rows(runtime) == []


def test_a_worker_that_died_after_claiming_is_replaced_after_the_lease_and_the_mail_arrives_once(
        runtime, clock, smtp):
    inbox, settings = smtp
    install_with(runtime, EMAIL_LEAD)
    runtime.records().create("lead", {"name": "Ann", "email": "ann@example.org"})
    [row] = rows(runtime)
    with write_transaction(runtime.engine) as conn:   # the dead worker's claim, never marked
        assert outbox.claim(conn, row.id, "dead-worker", now=T0) is not None
    assert deliver_due(runtime, now=T0 + timedelta(minutes=5), settings=settings).taken == 0
    assert inbox.messages == []
    assert deliver_due(runtime, now=T0 + outbox.LEASE, settings=settings).sent == 1
    assert deliver_due(runtime, now=T0 + 3 * outbox.LEASE, settings=settings).sent == 0
    assert len(inbox.messages) == 1
    assert rows(runtime)[0].status == "sent"


def test_the_dead_workers_late_mark_does_not_overwrite_the_delivery_that_replaced_it(runtime, clock, smtp):
    inbox, settings = smtp
    install_with(runtime, EMAIL_LEAD)
    runtime.records().create("lead", {"name": "Ann", "email": "ann@example.org"})
    [row] = rows(runtime)
    with write_transaction(runtime.engine) as conn:
        stale = outbox.claim(conn, row.id, "slow-worker", now=T0)
    deliver_due(runtime, now=T0 + outbox.LEASE, settings=settings)
    with write_transaction(runtime.engine) as conn:
        assert outbox.mark_failed(conn, stale, "slow-worker", "timed out", now=T0 + outbox.LEASE) == "pending"
    assert (rows(runtime)[0].status, rows(runtime)[0].last_error) == ("sent", None)


def test_two_workers_at_once_send_each_mail_once(runtime, clock, smtp):
    inbox, settings = smtp
    install_with(runtime, EMAIL_LEAD)
    for n in range(6):
        runtime.records().create("lead", {"name": f"Lead {n}", "email": f"lead{n}@example.org"})
    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        deliver_due(runtime, settings=settings)
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(m["To"] for m in inbox.messages) == [f"lead{n}@example.org" for n in range(6)]
    assert {r.status for r in rows(runtime)} == {"sent"}


def test_a_refusing_smtp_server_is_retried_with_backoff_then_the_row_fails_with_its_error(
        runtime, clock, smtp):
    inbox, settings = smtp
    inbox.refuse_with = "550 5.1.1 mailbox unavailable"
    install_with(runtime, EMAIL_LEAD)
    runtime.records().create("lead", {"name": "Ann", "email": "ann@example.org"})
    now = T0
    assert deliver_due(runtime, now=now, settings=settings).retried == 1
    assert deliver_due(runtime, now=now + timedelta(seconds=59), settings=settings).retried == 0   # not yet due
    for wait in outbox.BACKOFF[:-1]:
        now += wait
        assert deliver_due(runtime, now=now, settings=settings).retried == 1
    now += outbox.BACKOFF[-1]
    assert deliver_due(runtime, now=now, settings=settings).failed == 1
    [row] = rows(runtime)
    assert (row.status, row.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert "550" in row.last_error and "mailbox unavailable" in row.last_error
    assert inbox.messages == []


def test_an_unreachable_smtp_server_is_retried_a_minute_later(runtime, clock):
    install_with(runtime, EMAIL_LEAD)
    runtime.records().create("lead", {"name": "Ann", "email": "ann@example.org"})
    settings = DeliverySettings(smtp_url="smtp://127.0.0.1:1", timeout_seconds=2)
    assert deliver_due(runtime, settings=settings).retried == 1
    [row] = rows(runtime)
    assert (row.status, row.next_attempt_at) == ("pending", T0 + timedelta(minutes=1))
    assert "127.0.0.1:1" in row.last_error


def test_with_no_smtp_server_mail_is_held_rendered_for_admins_and_a_retry_sends_it(runtime, clock, smtp):
    inbox, settings = smtp
    install_with(runtime, EMAIL_LEAD)
    runtime.records().create("lead", {"name": "Ann", "email": "ann@example.org"})
    assert deliver_due(runtime, settings=DeliverySettings()).held == 1
    [row] = rows(runtime)
    assert row.status == "held" and "FORMWORK_SMTP_URL" in row.last_error
    assert (row.message["to"], row.message["subject"]) == (["ann@example.org"], "Welcome, Ann")
    assert deliver_due(runtime, now=T0 + timedelta(days=1), settings=settings).sent == 0   # held stays held
    with write_transaction(runtime.engine) as conn:
        assert outbox.retry_row(conn, row.id, now=T0 + timedelta(days=1))
    assert deliver_due(runtime, now=T0 + timedelta(days=1), settings=settings).sent == 1
    assert [m["Subject"] for m in inbox.messages] == ["Welcome, Ann"]


def test_mail_is_rendered_in_the_language_of_a_recipient_who_is_a_user(runtime, clock):
    install_with(runtime, EMAIL_LEAD)
    make_user(runtime, "li", locale="zh")
    account = runtime.records().create("account", {"name": "Acme"})
    runtime.records().create("lead", {"name": "Li", "email": "li@example.com", "region": "south",
                                      "account": account["id"]})
    deliver_due(runtime, settings=DeliverySettings())
    [row] = rows(runtime)
    assert row.message["subject"] == "欢迎，Li"
    assert row.message["body"] == "地区：华南\n客户：Acme\n"


def test_a_pre_rendered_mail_is_sent_as_given(runtime, clock, smtp):
    inbox, settings = smtp
    with write_transaction(runtime.engine) as conn:
        queue_messages(conn, [OutboxMessage("email", {"to": ["bo@example.org"], "subject": "You have 2 approvals",
                                                      "body": "Quote Q-1 waits for you."})],
                       flow="notifications", run_id=None, now=T0)
    assert deliver_due(runtime, settings=settings).sent == 1
    [message] = inbox.messages
    assert (message["To"], message["Subject"]) == ("bo@example.org", "You have 2 approvals")
    assert message.get_payload().strip() == "Quote Q-1 waits for you."


def test_a_mail_naming_a_template_the_app_lacks_fails_at_once_saying_which(runtime, clock, smtp):
    inbox, settings = smtp
    install_with(runtime)
    with write_transaction(runtime.engine) as conn:
        queue_messages(conn, [OutboxMessage("email", {"entity": "lead", "record_id": 1, "template": "gone",
                                                      "to": ["a@example.org"], "record": {"id": 1}})],
                       flow="old_flow", run_id=None, now=T0)
    assert deliver_due(runtime, settings=settings).failed == 1
    [row] = rows(runtime)
    assert row.status == "failed" and "no email template 'gone'" in row.last_error


def test_a_held_mail_can_be_previewed_as_it_will_be_sent(runtime, clock):
    install_with(runtime, EMAIL_LEAD)
    runtime.records().create("lead", {"name": "Ann", "email": "ann@example.org", "budget": "1234.5"})
    [row] = rows(runtime)
    with runtime.engine.connect() as conn:
        mail = preview_mail(runtime, conn, row)
    assert mail.subject == "Welcome, Ann" and "Budget: CNY 1,234.50" in mail.body




def test_a_template_reaching_outside_its_sandbox_fails_instead_of_running():
    hostile = EmailTemplate("welcome", "lead", {"en": "{{ name.__class__.__mro__[1].__subclasses__() }}"},
                            {"en": "body"})
    with pytest.raises(MailNotSendable, match="unsafe"):
        render_template(hostile, {"name": "Ann"}, "en")
