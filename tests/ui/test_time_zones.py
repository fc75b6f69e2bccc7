"""Times in the user's time zone: shown in it, datetime inputs read in it; dates unchanged."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.ui.conftest import login

PASSWORD = "shanghai-password-1"


@pytest.fixture(scope="module")
def shanghai_user(ui_runtime):
    from engine.security.users import create_user
    from engine.storage.db import write_transaction

    name = f"sh_{uuid.uuid4().hex[:6]}"
    with write_transaction(ui_runtime.engine) as conn:
        create_user(conn, name, password=PASSWORD, display_name="Shanghai Admin", is_admin=True,
                    timezone="Asia/Shanghai")
    return name


@pytest.fixture
def shanghai_client(app, shanghai_user):
    c = app.test_client()
    assert login(c, shanghai_user, PASSWORD).status_code == 302
    return c


def task(make, unique):
    return make("task", subject=f"Call {unique}", due_at="2030-03-01T01:30:00+00:00", status="not_started",
                priority="medium")


def test_datetime_is_shown_in_the_users_time_zone(shanghai_client, make, unique):
    t = task(make, unique)
    html = shanghai_client.get(f"/app/task/{t['id']}").get_data(as_text=True)
    assert "2030-03-01 09:30" in html and "01:30" not in html.split("fw-details")[1].split("</dl>")[0]


def test_datetime_is_shown_in_utc_for_a_utc_user(client, make, unique):
    t = task(make, unique)
    assert "2030-03-01 01:30" in client.get(f"/app/task/{t['id']}").get_data(as_text=True)


def test_datetime_input_holds_the_local_time(shanghai_client, make, unique):
    t = task(make, unique)
    html = shanghai_client.get(f"/app/task/{t['id']}/edit").get_data(as_text=True)
    assert 'value="2030-03-01T09:30"' in html


def test_datetime_input_is_read_in_the_users_time_zone(shanghai_client, make, unique, ui_runtime):
    t = task(make, unique)
    response = shanghai_client.post(f"/app/task/{t['id']}/edit", data={
        "subject": t["subject"], "due_at": "2030-03-02T08:00", "status": "not_started", "priority": "medium",
        "version": t["version"]})
    assert response.status_code == 302, response.get_data(as_text=True)
    saved = ui_runtime.query().get("task", t["id"])["due_at"]
    assert saved == dt.datetime(2030, 3, 2, 0, 0, tzinfo=dt.UTC)


def test_dates_are_not_shifted(shanghai_client, make, unique):
    account = make("account", name=f"Date {unique}")
    opp = make("opportunity", name=f"Date opp {unique}", account=account["id"], stage="needs_confirmed",
               close_date="2030-01-31")
    assert "2030-01-31" in shanghai_client.get(f"/app/opportunity/{opp['id']}").get_data(as_text=True)


def test_xlsx_export_writes_a_datetime_in_the_users_time_zone(shanghai_client, make, unique):
    import io

    from openpyxl import load_workbook

    task(make, unique)
    response = shanghai_client.get(f"/app/task/export.xlsx?q={unique}&cols=due_at,created_at")
    due, created = load_workbook(io.BytesIO(response.data)).active[2]
    assert due.value == dt.datetime(2030, 3, 1, 9, 30) and due.number_format == "yyyy-mm-dd hh:mm"
    assert created.is_date and created.value.tzinfo is None
