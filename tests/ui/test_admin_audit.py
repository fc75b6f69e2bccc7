"""The audit log search: filters by user, entity, action and day, keyset paging, escaping."""
from __future__ import annotations

import datetime as dt
import re

from engine.security.users import actor_for, create_user
from engine.storage.db import write_transaction


def audit_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)">', html)]


def make_editor(ui_runtime, unique: str):
    with write_transaction(ui_runtime.engine) as conn:
        user_id = create_user(conn, f"editor_{unique}", is_admin=True).id
        return actor_for(conn, user_id)


def test_audit_search_filters_by_user_and_action(client, ui_runtime, unique):
    editor = make_editor(ui_runtime, unique)
    service = ui_runtime.records(editor)
    record = service.create("account", {"name": f"Audited {unique}"})
    service.update("account", record["id"], {"name": f"Audited again {unique}"})
    html = client.get(f"/admin/audit?user=editor_{unique}&action=update").get_data(as_text=True)
    assert len(audit_ids(html)) == 1
    assert f"Audited {unique}" in html and f"Audited again {unique}" in html   # old → new
    assert html.index(f"Audited {unique}") < html.index(f"Audited again {unique}")
    created = client.get(f"/admin/audit?user=editor_{unique}&action=create").get_data(as_text=True)
    assert len(audit_ids(created)) == 1 and f"/app/account/{record['id']}" in created


def test_audit_search_by_entity_and_day(client, ui_runtime, unique):
    editor = make_editor(ui_runtime, unique)
    ui_runtime.records(editor).create("lead", {"name": f"Lead {unique}", "phone": "13800000000"})
    today = dt.datetime.now(dt.UTC).date()
    found = client.get(f"/admin/audit?user=editor_{unique}&entity=lead&since={today}&until={today}")
    assert len(audit_ids(found.get_data(as_text=True))) == 1
    yesterday = today - dt.timedelta(days=2)
    old = client.get(f"/admin/audit?user=editor_{unique}&entity=lead&until={yesterday}")
    assert audit_ids(old.get_data(as_text=True)) == []


def test_older_pages_continue_before_the_last_entry(client, ui_runtime, unique):
    editor = make_editor(ui_runtime, unique)
    service = ui_runtime.records(editor)
    for n in range(55):
        service.create("account", {"name": f"Paged {unique} {n}"})
    first = client.get(f"/admin/audit?user=editor_{unique}").get_data(as_text=True)
    older = re.search(r'class="btn btn-sm btn-outline-secondary fw-older" href="([^"]+)"', first).group(1)
    second = client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert len(audit_ids(first)) == 50 and len(audit_ids(second)) == 5
    assert max(audit_ids(second)) < min(audit_ids(first))
    assert "fw-older" not in second


def test_audited_values_are_escaped(client, ui_runtime, unique):
    editor = make_editor(ui_runtime, unique)
    ui_runtime.records(editor).create("account", {"name": f"<script>alert('{unique}')</script>"})
    html = client.get(f"/admin/audit?user=editor_{unique}").get_data(as_text=True)
    assert f"<script>alert('{unique}')" not in html and "&lt;script&gt;" in html


def test_the_audit_log_needs_the_audit_right(rep_client):
    assert rep_client.get("/admin/audit").status_code == 403


def test_audit_details_are_labelled_and_resolved(client, ui_runtime, unique):
    with write_transaction(ui_runtime.engine) as conn:
        boss = create_user(conn, f"boss_{unique}", display_name=f"Boss {unique}").id
        create_user(conn, f"hire_{unique}", manager_id=boss)
    html = client.get("/admin/audit?action=user_create").get_data(as_text=True)
    rows = html.split("<tbody>")[1].split("</tr>")
    row = next(r for r in rows if f"<dd>hire_{unique}</dd>" in r)
    assert "Username" in row and "Manager" in row and f"Boss {unique}" in row
    assert "manager_id" not in row and "is_admin" not in row and "False" not in row
    assert "Administrator</dt><dd>No" in row
