"""The bell and the notification pages: the unread count on every page, the dropdown, the paged
list, marking read (CSRF on, only one's own), links only to records the user may still read; and
the account page's choice to get notifications by email too."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from conftest import login
from sqlalchemy import event

from engine.flows.notifications import Note, latest, notify_users, unread_count
from engine.security.users import create_user
from engine.storage.db import fw_user, write_transaction
from ui.notifications import PAGE_SIZE

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PASSWORD = "bell-password-1"


@pytest.fixture
def reader(ui_runtime, app, unique):
    """A sales rep of their own, logged in: (user id, client); their notifications are theirs alone."""
    with write_transaction(ui_runtime.engine) as conn:
        user_id = create_user(conn, f"bell_{unique}", password=PASSWORD, display_name=f"Bell {unique}",
                              email=f"bell_{unique}@example.com", roles=["sales_rep"]).id
    client = app.test_client()
    assert login(client, f"bell_{unique}", PASSWORD).status_code == 302
    return user_id, client


def tell(runtime, user_id: int, message: str, *, entity: str | None = None, record_id: int | None = None,
         title: str | None = None) -> int:
    """Notifies the user; returns the notification's id."""
    with write_transaction(runtime.engine) as conn:
        notify_users(conn, [user_id], Note({"en": message}, {"en": title} if title else None, entity, record_id),
                     now=T0)
        return latest(conn, user_id, limit=1)[0].id


def unread(runtime, user_id: int) -> int:
    with runtime.engine.connect() as conn:
        return unread_count(conn, user_id)


def html_of(response) -> str:
    return response.get_data(as_text=True)


def bell(html: str) -> str:
    return re.search(r'<button[^>]*id="bell".*?</button>', html, re.S).group(0)


def test_the_bell_shows_the_unread_count_with_a_spoken_label(ui_runtime, reader):
    user_id, client = reader
    for n in range(3):
        tell(ui_runtime, user_id, f"note {n}")
    button = bell(html_of(client.get("/app/account")))
    assert 'aria-label="Notifications, 3 unread"' in button
    assert '<span class="fw-bell-count" aria-hidden="true">3</span>' in button


def test_the_bell_has_no_badge_when_nothing_is_unread(reader):
    _user_id, client = reader
    button = bell(html_of(client.get("/app/account")))
    assert 'aria-label="Notifications"' in button and "fw-bell-count" not in button


def test_the_bell_speaks_chinese(ui_runtime, reader):
    user_id, client = reader
    tell(ui_runtime, user_id, "note")
    client.post("/locale", data={"locale": "zh", "next": "/notifications"})
    html = html_of(client.get("/notifications"))
    assert 'aria-label="通知，1 条未读"' in bell(html) and "标为已读" in html


def test_the_bell_costs_one_query_per_page(app, ui_runtime, reader):
    user_id, client = reader
    tell(ui_runtime, user_id, "note")
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if "fw_notification" in statement:
            statements.append(statement)

    engine = app.extensions["formwork.runtime"].engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert client.get("/app/account").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 1 and "count" in statements[0].lower()


def test_the_dropdown_lists_the_latest_newest_first_with_a_link_to_a_readable_record(ui_runtime, reader, make,
                                                                                    unique):
    user_id, client = reader
    account = make("account", name=f"Bell Ltd {unique}", owner_id=user_id)
    tell(ui_runtime, user_id, "older one")
    newest = tell(ui_runtime, user_id, "Acme is yours", entity="account", record_id=account["id"], title="New account")
    html = html_of(client.get("/notifications/menu", headers={"HX-Request": "true"}))
    assert "<html" not in html
    assert html.index("Acme is yours") < html.index("older one")
    assert f'href="/notifications/{newest}/open"' in html and f"Account · Bell Ltd {unique}" in html
    assert "Mark all read" in html and 'href="/notifications"' in html


def test_opening_a_notification_marks_it_read_and_goes_to_its_record(ui_runtime, reader, make, unique):
    user_id, client = reader
    account = make("account", name=f"Open Ltd {unique}", owner_id=user_id)
    note = tell(ui_runtime, user_id, "look", entity="account", record_id=account["id"])
    response = client.get(f"/notifications/{note}/open")
    assert response.status_code == 302 and response.location.endswith(f"/app/account/{account['id']}")
    assert unread(ui_runtime, user_id) == 0


def test_a_notification_of_a_record_the_user_can_no_longer_read_has_no_link(ui_runtime, reader, make, unique,
                                                                            admin_actor):
    user_id, client = reader
    account = make("account", name=f"Gone Ltd {unique}", owner_id=user_id)
    note = tell(ui_runtime, user_id, "was yours", entity="account", record_id=account["id"])
    ui_runtime.records(admin_actor).update("account", account["id"], {"owner_id": admin_actor.id})
    for url in ("/notifications", "/notifications/menu"):
        html = html_of(client.get(url))
        assert "was yours" in html and f"/notifications/{note}/open" not in html and "Gone Ltd" not in html
    response = client.get(f"/notifications/{note}/open")
    assert response.status_code == 302 and response.location.endswith("/notifications")


def test_the_page_lists_every_notification_paged_with_unread_ones_marked(ui_runtime, reader):
    user_id, client = reader
    ids = [tell(ui_runtime, user_id, f"number {n:02}") for n in range(PAGE_SIZE + 2)]
    client.post(f"/notifications/{ids[-1]}/read")
    html = html_of(client.get("/notifications"))
    assert html.count('class="list-group-item fw-notification') == PAGE_SIZE
    assert f'<li class="list-group-item fw-notification" data-id="{ids[-1]}">' in html
    assert f'<li class="list-group-item fw-notification fw-unread" data-id="{ids[-2]}">' in html
    older = re.search(r'href="(/notifications\?before=\d+)"', html).group(1)
    rest = html_of(client.get(older))
    assert "number 01" in rest and "number 00" in rest and "number 02" not in rest
    assert 'rel="next"' not in rest and 'href="/notifications">' in rest   # no older page; a way back


def test_mark_read_marks_only_that_notification(ui_runtime, reader):
    user_id, client = reader
    first, second = tell(ui_runtime, user_id, "one"), tell(ui_runtime, user_id, "two")
    response = client.post(f"/notifications/{first}/read", data={"next": "/app/account"})
    assert response.status_code == 302 and response.location.endswith("/app/account")
    with ui_runtime.engine.connect() as conn:
        assert [n.id for n in latest(conn, user_id, unread_only=True)] == [second]


def test_mark_all_read_marks_every_one(ui_runtime, reader):
    user_id, client = reader
    for n in range(3):
        tell(ui_runtime, user_id, f"note {n}")
    assert client.post("/notifications/read-all").status_code == 302
    assert unread(ui_runtime, user_id) == 0
    assert "fw-bell-count" not in bell(html_of(client.get("/app/account")))


def test_another_users_notification_can_be_neither_marked_nor_opened(ui_runtime, reader, rep_client):
    user_id, _client = reader
    note = tell(ui_runtime, user_id, "mine")
    assert rep_client.post(f"/notifications/{note}/read").status_code == 404
    assert rep_client.get(f"/notifications/{note}/open").status_code == 404
    assert unread(ui_runtime, user_id) == 1


def test_marking_read_without_the_csrf_token_is_refused(ui_runtime, csrf_app, unique):
    with write_transaction(ui_runtime.engine) as conn:
        user_id = create_user(conn, f"csrf_{unique}", password=PASSWORD).id
    client = csrf_app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html_of(client.get("/login"))).group(1)
    client.post("/login", data={"username": f"csrf_{unique}", "password": PASSWORD, "csrf_token": token})
    note = tell(ui_runtime, user_id, "keep me")
    assert client.post(f"/notifications/{note}/read").status_code == 400
    assert client.post("/notifications/read-all").status_code == 400
    assert client.post("/account/notifications", data={"by_email": "y"}).status_code == 400
    assert unread(ui_runtime, user_id) == 1
    token = re.search(r'name="csrf_token" value="([^"]+)"', html_of(client.get("/notifications"))).group(1)
    assert client.post(f"/notifications/{note}/read", data={"csrf_token": token}).status_code == 302
    assert unread(ui_runtime, user_id) == 0


def test_the_account_page_saves_the_choice_to_get_notifications_by_email(ui_runtime, reader):
    user_id, client = reader

    def wanted() -> bool:
        with ui_runtime.engine.connect() as conn:
            return conn.execute(sa.select(fw_user.c.notify_by_email).where(fw_user.c.id == user_id)).scalar_one()

    page = html_of(client.get("/account"))
    assert "Also send my notifications by email" in page and "Sent to bell_" in page
    assert not re.search(r'<input[^>]*id="by_email"[^>]*checked', page)
    client.post("/account/notifications", data={"by_email": "y"})
    assert wanted() is True
    assert re.search(r'<input[^>]*checked[^>]*id="by_email"|<input[^>]*id="by_email"[^>]*checked',
                     html_of(client.get("/account")))
    client.post("/account/notifications", data={})
    assert wanted() is False
