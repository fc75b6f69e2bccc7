"""Per-role field security: a field hidden from the role never appears (forms, record page, list
columns, column chooser, filter builder, bulk set); a read-only one shows but is never submitted."""
from __future__ import annotations

import uuid

import pytest

from tests.ui.conftest import login

PASSWORD = "seller-password-1"


@pytest.fixture(scope="module")
def seller(ui_runtime):
    """A sales rep: contract.payment_terms hidden, opportunity.probability read-only."""
    from engine.security.users import actor_for, create_user
    from engine.storage.db import write_transaction

    name = f"seller_{uuid.uuid4().hex[:6]}"
    with write_transaction(ui_runtime.engine) as conn:
        made = create_user(conn, name, password=PASSWORD, display_name="Sam Seller", roles=["sales_rep"])
    with ui_runtime.engine.connect() as conn:
        return name, actor_for(conn, made.id)


@pytest.fixture
def seller_client(app, seller):
    c = app.test_client()
    assert login(c, seller[0], PASSWORD).status_code == 302
    return c


@pytest.fixture
def seller_contract(ui_runtime, seller, unique):
    service = ui_runtime.records(seller[1])
    account = service.create("account", {"name": f"Seller acc {unique}"})
    return service.create("contract", {"name": f"Contract {unique}", "account": account["id"], "status": "draft",
                                       "amount": "1000", "start_date": "2030-01-01", "end_date": "2030-12-31"})


@pytest.fixture
def seller_opportunity(ui_runtime, seller, unique):
    service = ui_runtime.records(seller[1])
    account = service.create("account", {"name": f"Seller opp acc {unique}"})
    return service.create("opportunity", {"name": f"Seller opp {unique}", "account": account["id"],
                                          "stage": "initial_contact", "close_date": "2030-06-30"})


def test_hidden_field_is_not_in_the_edit_form(seller_client, seller_contract):
    html = seller_client.get(f"/app/contract/{seller_contract['id']}/edit").get_data(as_text=True)
    assert 'data-field="payment_terms"' not in html and "Payment terms" not in html


def test_hidden_field_is_not_on_the_record_page(seller_client, seller_contract):
    html = seller_client.get(f"/app/contract/{seller_contract['id']}").get_data(as_text=True)
    assert "Payment terms" not in html


def test_hidden_field_is_not_a_list_column_even_when_asked_for(seller_client):
    html = seller_client.get("/app/contract?cols=name,payment_terms").get_data(as_text=True)
    assert "Payment terms" not in html.split("<thead>")[1].split("</thead>")[0]


def test_hidden_field_is_not_offered_by_the_column_chooser_nor_the_filter_builder(seller_client):
    html = seller_client.get("/app/contract").get_data(as_text=True)
    assert 'value="payment_terms"' not in html
    row = seller_client.get("/app/contract/filter-row").get_data(as_text=True)
    assert 'value="payment_terms"' not in row


def test_hidden_field_is_not_offered_by_bulk_set(seller_client):
    assert seller_client.get("/app/contract/bulk-value?field=payment_terms").status_code == 400


def test_administrator_still_sees_the_field(client):
    assert 'value="payment_terms"' in client.get("/app/contract").get_data(as_text=True)


def test_read_only_field_is_shown_without_an_input(seller_client, seller_opportunity):
    html = seller_client.get(f"/app/opportunity/{seller_opportunity['id']}/edit").get_data(as_text=True)
    assert 'id="probability"' not in html
    assert "10%" in html.split('data-field="probability"')[1].split("</fieldset>")[0]


def test_read_only_field_is_not_submitted_so_the_save_succeeds(seller_client, seller_opportunity, ui_runtime):
    opp = seller_opportunity
    response = seller_client.post(f"/app/opportunity/{opp['id']}/edit", data={
        "name": f"{opp['name']} edited", "account": opp["account"], "stage": "initial_contact", "close_date": "2030-06-30",
        "probability": "99", "version": opp["version"]})
    assert response.status_code == 302, response.get_data(as_text=True)
    saved = ui_runtime.query().get("opportunity", opp["id"])
    assert saved["name"].endswith("edited") and saved["probability"] == 10


def test_read_only_field_is_not_offered_by_bulk_set(seller_client):
    html = seller_client.get("/app/opportunity").get_data(as_text=True)
    bulk = html.split('id="bulk-field"')[1].split("</select>")[0]
    assert 'value="probability"' not in bulk and 'value="name"' in bulk


# -- formulas over a field hidden from the role --------------------------------------------------
MARKETER_PASSWORD = "marketer-password-1"


@pytest.fixture(scope="module")
def marketer(ui_runtime):
    """A marketing user: account.annual_revenue hidden, every account and contact readable, may export."""
    from engine.security.users import create_user
    from engine.storage.db import write_transaction

    name = f"marketer_{uuid.uuid4().hex[:6]}"
    with write_transaction(ui_runtime.engine) as conn:
        create_user(conn, name, password=MARKETER_PASSWORD, display_name="Mia Marketer", roles=["marketing"])
    return name


@pytest.fixture
def marketer_client(app, marketer):
    c = app.test_client()
    assert login(c, marketer, MARKETER_PASSWORD).status_code == 302
    return c


@pytest.fixture
def rich_contact(make, unique):
    """A contact of an account above 7,000,000 of revenue, whose parent is richer still."""
    parent = make("account", name=f"Holding {unique}", annual_revenue="90000000")
    account = make("account", name=f"Rich {unique}", annual_revenue="80000000", parent=parent["id"])
    return make("contact", name=f"Richcontact{unique}", account=account["id"], email=f"{unique}@example.com")


def test_formula_filter_on_a_hidden_field_across_a_lookup_is_refused_with_a_message(marketer_client, rich_contact):
    response = marketer_client.get("/app/contact?formula=account.annual_revenue+>+7000000&sort=-created_at")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "account.annual_revenue: you cannot read this field" in html
    assert rich_contact['name'] not in html


def test_formula_filter_on_a_hidden_field_two_lookups_away_is_refused(marketer_client, rich_contact):
    response = marketer_client.get(f"/app/contact?q={rich_contact['name']}"
                                   "&formula=account.parent.annual_revenue+>+7000000")
    assert response.status_code == 422
    assert "account.parent.annual_revenue: you cannot read this field" in response.get_data(as_text=True)


def test_export_with_a_formula_on_a_hidden_field_is_refused_without_rows(marketer_client, rich_contact):
    response = marketer_client.get("/app/contact/export.csv?formula=account.annual_revenue+>+7000000")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert "account.annual_revenue: you cannot read this field" in body and rich_contact['name'] not in body
