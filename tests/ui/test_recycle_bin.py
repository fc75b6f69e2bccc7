"""The recycle bin per entity: deleted records listed, restored with their master-detail children."""
from __future__ import annotations


def test_trash_lists_a_deleted_record(client, make, unique, ui_runtime, admin_actor):
    account = make("account", name=f"Binned {unique}")
    ui_runtime.records(admin_actor).delete("account", account["id"])
    html = client.get("/app/account/trash").get_data(as_text=True)
    assert f"Binned {unique}" in html and "Restore" in html


def test_trash_does_not_list_live_records(client, make, unique):
    make("account", name=f"Alive {unique}")
    assert f"Alive {unique}" not in client.get("/app/account/trash").get_data(as_text=True)


def test_restore_brings_the_record_back(client, make, unique, ui_runtime, admin_actor):
    account = make("account", name=f"Back {unique}")
    ui_runtime.records(admin_actor).delete("account", account["id"])
    response = client.post(f"/app/account/{account['id']}/restore")
    assert response.status_code == 302 and response.location.endswith(f"/app/account/{account['id']}")
    assert client.get(f"/app/account/{account['id']}").status_code == 200


def test_restore_brings_back_the_master_detail_children(client, make, unique, ui_runtime, admin_actor):
    account = make("account", name=f"Quote acc {unique}")
    opp = make("opportunity", name=f"Quote opp {unique}", account=account["id"], stage="needs_confirmed",
               close_date="2030-01-31")
    quote = make("quote", opportunity=opp["id"], status="draft")
    line = make("quote_line", quote=quote["id"], name=f"Line {unique}", quantity="2", unit_price="10")
    ui_runtime.records(admin_actor).delete("quote", quote["id"])
    assert client.get(f"/app/quote_line/{line['id']}").status_code == 404
    client.post(f"/app/quote/{quote['id']}/restore")
    assert client.get(f"/app/quote_line/{line['id']}").status_code == 200


def test_restore_outside_the_users_scope_is_refused(rep_client, make, unique, ui_runtime, admin_actor):
    account = make("account", name=f"Not yours {unique}")
    ui_runtime.records(admin_actor).delete("account", account["id"])
    rep_client.post(f"/app/account/{account['id']}/restore")
    assert ui_runtime.query().get("account", account["id"], deleted=True)["deleted_at"] is not None


def test_list_page_links_to_the_recycle_bin(client):
    assert 'href="/app/account/trash"' in client.get("/app/account").get_data(as_text=True)
