"""The record page: details by layout, related lists, history; 404s; escaping."""
from __future__ import annotations

import re


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
    assert f'href="/app/contact/new?account={account["id"]}&amp;back=' in html


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


def test_history_shows_lookups_by_title_and_owners_by_name(client, make, unique, ui_runtime, admin_actor):
    account = make("account", name=f"Lookup target {unique}")
    contact = make("contact", name=f"Pointer {unique}", mobile="13800000002")
    ui_runtime.records(admin_actor).update("contact", contact["id"], {"account": account["id"]})
    html = client.get(f"/app/contact/{contact['id']}").get_data(as_text=True)
    history = html.split('id="pane-history"')[1]
    assert f"Lookup target {unique}" in history
    assert f"&gt; {account['id']}<" not in history and f"#{account['id']}" not in history


def test_a_record_started_from_a_related_list_returns_there(client, make, unique):
    account = make("account", name=f"Home {unique}")
    back = f"/app/account/{account['id']}#pane-related"
    form = client.get(f"/app/contact/new?account={account['id']}&back={back.replace('#', '%23')}")
    html = form.get_data(as_text=True)
    assert f'name="back" value="{back}"' in html                 # kept for the post
    assert f'href="{back}">Cancel' in html                      # cancel goes back too
    saved = client.post("/app/contact/new", data={"name": f"Returner {unique}", "account": account["id"],
                                                  "mobile": "13800000003", "back": back})
    assert saved.status_code == 302 and saved.headers["Location"].endswith(back)
    assert client.post("/app/contact/new", data={"name": f"Elsewhere {unique}", "account": account["id"],
                                                 "mobile": "13800000004", "back": "https://evil.example/"}
                       ).headers["Location"] == "/"


def test_related_list_leads_with_the_title_and_shows_amounts(client, make, unique):
    product = make("product", name=f"Widget {unique}", code=f"W-{unique.upper()}", unit_price=10)
    opportunity_account = make("account", name=f"Buyer {unique}")
    opportunity = make("opportunity", name=f"Deal {unique}", account=opportunity_account["id"], stage="initial_contact",
                       amount=100, close_date="2030-01-01")
    quote = make("quote", opportunity=opportunity["id"], status="draft")
    make("quote_line", quote=quote["id"], product=product["id"], name=f"Line {unique}", quantity=2, unit_price=10)
    html = client.get(f"/app/quote/{quote['id']}").get_data(as_text=True)
    section = html.split('data-entity="quote_line"')[1].split("</section>")[0]
    headers = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', section)
    assert headers[0] == "Item" and "Amount" in headers
    assert f">Line {unique}</a>" in section
    assert "20.00</td>" in section


def test_an_empty_list_says_so_and_offers_to_create(rep_client, unique):
    html = rep_client.get(f"/app/campaign?q=nothing-{unique}").get_data(as_text=True)
    assert "No records match." in html and "Clear search and filters" in html
    empty = rep_client.get("/app/quote_line?fb=1&f=name&op=eq&v=").get_data(as_text=True)
    assert "fw-empty" in empty


def test_a_lookup_the_user_cannot_see_says_so(app, make, unique, ui_runtime):
    from engine.security.users import create_user
    from engine.storage.db import write_transaction
    from tests.ui.conftest import login

    with write_transaction(ui_runtime.engine) as conn:
        rep = create_user(conn, f"seller_{unique}", password="seller-password-1", roles=["sales_rep"]).id
    hidden_account = make("account", name=f"Not for reps {unique}")
    contact = make("contact", name=f"Rep contact {unique}", account=hidden_account["id"], mobile="13800000005",
                   owner_id=rep)
    seller = app.test_client()
    login(seller, f"seller_{unique}", "seller-password-1")
    html = seller.get(f"/app/contact/{contact['id']}").get_data(as_text=True)
    assert f"Record #{hidden_account['id']} (not visible to you)" in html
    assert f"Not for reps {unique}" not in html


ROLLUP_NOTE = "Totals count all related records, including ones you cannot open."


def test_a_rollup_on_the_record_page_says_it_counts_records_the_reader_cannot_open(client, make, unique):
    account = make("account", name=f"Buyer {unique}")
    opportunity = make("opportunity", name=f"Deal {unique}", account=account["id"], stage="initial_contact",
                       amount=100, close_date="2030-01-01")
    quote = make("quote", opportunity=opportunity["id"], status="draft")
    html = client.get(f"/app/quote/{quote['id']}").get_data(as_text=True)
    total = re.search(r"<dt>Lines total</dt><dd[^>]*>(.*?)</dd>", html, re.S).group(1)
    assert ROLLUP_NOTE in total
    assert html.count(ROLLUP_NOTE) == 1   # the stored fields beside it carry no such note
