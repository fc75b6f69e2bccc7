"""Admin → Outbox: every delivery with its recipients, status, attempts and error; a held mail's
text; retry of a failed or held row; for holders of the `flows` right only."""
from __future__ import annotations

from engine.flows import outbox
from engine.flows.delivery import DeliverySettings, deliver
from engine.flows.outbox import OutboxMessage, queue_messages
from engine.storage.db import write_transaction


def queued(ui_runtime, kind: str, payload: dict, *, settings: DeliverySettings | None = None) -> int:
    """Queues one row and lets the worker try it once; returns its id."""
    now = ui_runtime.clock()
    with write_transaction(ui_runtime.engine) as conn:
        queue_messages(conn, [OutboxMessage(kind, payload)], flow="outbox_page_test", run_id=None, now=now)
        row_id = max(r.id for r in outbox.outbox_rows(conn, limit=1))
    deliver(ui_runtime, row_id, now=now, settings=settings or DeliverySettings())
    return row_id


def status_of(ui_runtime, row_id: int) -> str:
    with ui_runtime.engine.connect() as conn:
        return outbox.outbox_row(conn, row_id).status


def test_the_outbox_lists_a_held_mail_with_its_recipient_subject_and_why(client, ui_runtime, unique):
    row_id = queued(ui_runtime, "email", {"to": [f"{unique}@example.org"], "subject": f"Hello {unique}",
                                          "body": "Body text"})
    html = client.get("/admin/outbox").get_data(as_text=True)
    assert f'data-id="{row_id}" data-status="held"' in html
    assert f"{unique}@example.org" in html and f"Hello {unique}" in html and "FORMWORK_SMTP_URL" in html


def test_a_held_mails_page_shows_the_text_that_will_be_sent(client, ui_runtime, unique):
    row_id = queued(ui_runtime, "email", {"to": [f"{unique}@example.org"], "subject": "Your quote",
                                          "body": f"Dear {unique},\nhere it is."})
    html = client.get(f"/admin/outbox/{row_id}").get_data(as_text=True)
    assert f"Dear {unique},\nhere it is." in html and "Your quote" in html


def test_a_failed_row_can_be_retried_and_is_pending_again(client, ui_runtime, unique):
    row_id = queued(ui_runtime, "webhook", {"url": f"ftp://{unique}.example.org/", "body": {}})
    assert status_of(ui_runtime, row_id) == "failed"
    page = client.get(f"/admin/outbox/{row_id}").get_data(as_text=True)
    assert "is not http:// or https://" in page and f"/admin/outbox/{row_id}/retry" in page
    response = client.post(f"/admin/outbox/{row_id}/retry", follow_redirects=True)
    assert response.status_code == 200 and "next sweep" in response.get_data(as_text=True)
    assert status_of(ui_runtime, row_id) == "pending"


def test_the_status_filter_shows_only_rows_of_that_status(client, ui_runtime, unique):
    failed = queued(ui_runtime, "webhook", {"url": f"ftp://{unique}.example.org/", "body": {}})
    held = queued(ui_runtime, "email", {"to": ["x@example.org"], "subject": "s", "body": "b"})
    html = client.get("/admin/outbox?status=failed").get_data(as_text=True)
    assert f'data-id="{failed}"' in html and f'data-id="{held}"' not in html


def test_the_outbox_is_refused_without_the_flows_right(rep_client, ui_runtime):
    row_id = queued(ui_runtime, "email", {"to": ["x@example.org"], "subject": "s", "body": "b"})
    assert rep_client.get("/admin/outbox").status_code == 403
    assert rep_client.get(f"/admin/outbox/{row_id}").status_code == 403
    assert rep_client.post(f"/admin/outbox/{row_id}/retry").status_code == 403


def test_the_outbox_speaks_chinese(client):
    client.post("/locale", data={"locale": "zh", "next": "/admin/outbox"})
    try:
        html = client.get("/admin/outbox").get_data(as_text=True)
        assert "发件箱" in html and "尝试次数" in html
    finally:   # the language is the administrator's, kept for the other tests' sessions
        client.post("/locale", data={"locale": "en", "next": "/admin/outbox"})
