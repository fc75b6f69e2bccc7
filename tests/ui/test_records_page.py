"""The record page: details by layout, related lists, history; 404s; escaping."""
from __future__ import annotations


def test_record_page_shows_sections_from_the_layout(client, make, unique):
    account = make("account", name=f"Layout {unique}", city="Hangzhou")
    html = client.get(f"/app/account/{account['id']}").get_data(as_text=True)
    assert "Basic info" in html and "Contact details" in html and "Hangzhou" in html


def test_missing_record_is_a_404_page(client):
    response = client.get("/app/account/987654321")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)


def test_unknown_entity_is_a_404_page(client):
    assert client.get("/app/spaceship").status_code == 404


def test_record_outside_the_users_scope_is_a_404(rep_client, make, unique):
    account = make("account", name=f"Not yours {unique}")
    assert rep_client.get(f"/app/account/{account['id']}").status_code == 404


def test_related_list_offers_new_prefilled_with_this_record(client, make, unique):
    account = make("account", name=f"Parent {unique}")
    make("contact", name=f"Child {unique}", account=account["id"], mobile="13800000001")
    html = client.get(f"/app/account/{account['id']}").get_data(as_text=True)
    assert f"Child {unique}" in html
    assert f'href="/app/contact/new?account={account["id"]}"' in html


def test_history_shows_who_changed_what(client, make, unique, ui_runtime, admin_actor):
    account = make("account", name=f"Before {unique}")
    ui_runtime.records(admin_actor).update("account", account["id"], {"name": f"After {unique}"})
    html = client.get(f"/app/account/{account['id']}").get_data(as_text=True)
    history = html.split('id="pane-history"')[1]
    assert f"Before {unique}" in history and f"After {unique}" in history and "Administrator" in history


def test_timeline_lists_activities_of_the_record(client, make, unique):
    account = make("account", name=f"Busy {unique}")
    make("activity", subject=f"Called {unique}", kind="call", account=account["id"], summary="Talked",
         occurred_at="2024-05-01T10:00:00+00:00")
    html = client.get(f"/app/account/{account['id']}").get_data(as_text=True)
    assert f"Called {unique}" in html.split('id="pane-timeline"')[1]


def test_script_in_a_value_is_shown_escaped(client, make):
    account = make("account", name="<script>alert(1)</script>")
    for url in (f"/app/account/{account['id']}", "/app/account?q=alert(1)", f"/app/account/{account['id']}/edit"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_delete_from_the_record_page(client, make, unique):
    account = make("account", name=f"Delete me {unique}")
    response = client.post(f"/app/account/{account['id']}/delete")
    assert response.status_code == 302
    assert client.get(f"/app/account/{account['id']}").status_code == 404


def test_server_error_page_shows_a_request_id(app, client, monkeypatch):
    from ui.records import detail

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(detail, "related_lists", broken)
    response = client.get("/app/account/1", headers={"X-Request-Id": "req-12345"})
    assert response.status_code == 500
    assert "req-12345" in response.get_data(as_text=True)


def test_admin_pages_are_for_administrators_only(client, rep_client):
    assert client.get("/admin/").status_code == 200
    assert rep_client.get("/admin/").status_code == 403


def test_user_manager_finds_who_can_see_a_record_from_its_page(client, make, unique):
    account = make("account", name=f"Who {unique}")
    html = client.get(f"/app/account/{account['id']}").get_data(as_text=True)
    assert f'href="/admin/access?entity=account&amp;id={account["id"]}"' in html


def test_rep_without_admin_rights_gets_no_access_link_nor_admin_menu(rep_client, ui_runtime):
    created = rep_client.get("/app/account").get_data(as_text=True)
    assert "/admin/access" not in created and "Administration" not in created


def test_rep_without_the_export_right_is_offered_no_export(rep_client):
    html = rep_client.get("/app/account").get_data(as_text=True)
    assert "export.csv" not in html and 'value="export_csv"' not in html
    assert rep_client.get("/app/account/export.csv").status_code == 403
