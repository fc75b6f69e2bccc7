"""The lead conversion page: the Convert button, the prefilled form, likely accounts, errors, the lead after."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.ui.conftest import login

SELLER_PASSWORD = "seller-password-1"


@pytest.fixture
def seller(app, ui_runtime, unique):
    """A client logged in as a new sales rep; `seller.user_id` is their id."""
    from engine.security.users import create_user
    from engine.storage.db import write_transaction

    with write_transaction(ui_runtime.engine) as conn:
        user_id = create_user(conn, f"seller_{unique}", password=SELLER_PASSWORD, roles=["sales_rep"]).id
    client = app.test_client()
    assert login(client, f"seller_{unique}", SELLER_PASSWORD).status_code == 302
    client.user_id = user_id
    return client


@pytest.fixture
def lead(make, seller, unique):
    """A qualified lead of the seller's, for a company no other test names."""
    return make("lead", name=f"王芳 {unique}", company=f"{unique}星河数据股份有限公司", title="采购经理",
                phone="139 0000 1111", email=f"wang@{unique}-xinghe.cn", status="qualified", source="website",
                owner_id=seller.user_id)


def form_of(lead_id: int, **overrides) -> dict:
    data = {"account_choice": "new", "account-name": "", "contact-name": "", "contact-mobile": "139 0000 1111",
            "make_opportunity": "1",
            "opportunity-name": "一期项目", "opportunity-amount": "80000", "opportunity-close_date": "2027-03-31"}
    return {**data, **overrides}


def count(ui_runtime, entity: str, **equal) -> int:
    table = ui_runtime.registry().table(entity)
    where = [table.c[k] == v for k, v in equal.items()]
    with ui_runtime.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def test_lead_page_offers_convert_to_its_owner(seller, lead):
    html = seller.get(f"/app/lead/{lead['id']}").get_data(as_text=True)
    assert f'href="/app/lead/{lead["id"]}/convert"' in html


def test_account_page_offers_no_convert(seller, make, unique):
    account = make("account", name=f"Plain {unique}", owner_id=seller.user_id)
    assert "/convert" not in seller.get(f"/app/account/{account['id']}").get_data(as_text=True)


def test_conversion_page_is_prefilled_from_the_mapping(seller, lead, unique):
    html = seller.get(f"/app/lead/{lead['id']}/convert").get_data(as_text=True)
    assert f'name="account-name" type="text" value="{unique}星河数据股份有限公司"' in html
    assert f'name="contact-name" type="text" value="王芳 {unique}"' in html
    assert 'name="contact-mobile" type="text" value="139 0000 1111"' in html
    assert re.search(r'name="opportunity-close_date" type="date" value="\d{4}-\d{2}-\d{2}"', html)


def test_conversion_page_offers_a_likely_account_with_why(seller, make, lead, unique):
    short = make("account", name=f"{unique}星河数据", owner_id=seller.user_id)
    html = seller.get(f"/app/lead/{lead['id']}/convert").get_data(as_text=True)
    assert f'value="{short["id"]}"' in html
    assert f"Similar name: {unique}星河数据" in html


def test_converting_creates_the_records_and_shows_them_on_the_lead(seller, lead, ui_runtime, unique):
    response = seller.post(f"/app/lead/{lead['id']}/convert", data=form_of(
        lead["id"], **{"account-name": f"{unique}星河数据", "contact-name": f"王芳 {unique}"}))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/app/lead/{lead['id']}")
    assert count(ui_runtime, "account", name=f"{unique}星河数据") == 1
    assert count(ui_runtime, "opportunity", name="一期项目", amount=80000) >= 1
    html = seller.get(f"/app/lead/{lead['id']}").get_data(as_text=True)
    assert "fw-converted" in html and f">{unique}星河数据</a>" in html and f">王芳 {unique}</a>" in html
    assert f"/app/lead/{lead['id']}/edit" not in html and f"/app/lead/{lead['id']}/convert" not in html


def test_attaching_to_a_likely_account_makes_no_new_one(seller, make, lead, ui_runtime, unique):
    short = make("account", name=f"{unique}星河数据", owner_id=seller.user_id)
    response = seller.post(f"/app/lead/{lead['id']}/convert", data=form_of(
        lead["id"], account_choice=str(short["id"]), **{"contact-name": f"王芳 {unique}"}))
    assert response.status_code == 302
    assert count(ui_runtime, "account", name=f"{unique}星河数据") == 1
    assert count(ui_runtime, "contact", name=f"王芳 {unique}", account=short["id"]) == 1


def test_a_refused_field_is_shown_beside_it_and_nothing_is_made(seller, lead, ui_runtime, unique):
    response = seller.post(f"/app/lead/{lead['id']}/convert", data=form_of(
        lead["id"], **{"account-name": f"{unique}星河数据", "contact-name": f"王芳 {unique}",
                       "opportunity-close_date": ""}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="opportunity-close_date-error">is required<', html)
    assert count(ui_runtime, "account", name=f"{unique}星河数据") == 0
    assert count(ui_runtime, "contact", name=f"王芳 {unique}") == 0


def test_a_converted_lead_cannot_be_converted_again_nor_edited(seller, lead, unique):
    seller.post(f"/app/lead/{lead['id']}/convert", data=form_of(
        lead["id"], **{"account-name": f"{unique}星河数据", "contact-name": f"王芳 {unique}"}))
    again = seller.get(f"/app/lead/{lead['id']}/convert", follow_redirects=True).get_data(as_text=True)
    assert "This record was already converted." in again
    page = seller.get(f"/app/lead/{lead['id']}/edit", follow_redirects=True).get_data(as_text=True)
    assert "This record was converted and can no longer be edited." in page and 'id="record-form"' not in page
    edited = seller.post(f"/app/lead/{lead['id']}/edit", data={"name": "Changed", "status": "converted"})
    assert edited.status_code == 422
    assert "This record was converted and can no longer be edited." in edited.get_data(as_text=True)


def test_marketer_gets_no_convert_button(app, make, ui_runtime, unique):
    from engine.security.users import create_user
    from engine.storage.db import write_transaction

    with write_transaction(ui_runtime.engine) as conn:
        marketer = create_user(conn, f"mkt_{unique}", password=SELLER_PASSWORD, roles=["marketing"]).id
    lead = make("lead", name=f"Lead {unique}", phone="13700000000", status="qualified", owner_id=marketer)
    client = app.test_client()
    login(client, f"mkt_{unique}", SELLER_PASSWORD)
    assert "/convert" not in client.get(f"/app/lead/{lead['id']}").get_data(as_text=True)
    refused = client.get(f"/app/lead/{lead['id']}/convert", follow_redirects=True).get_data(as_text=True)
    assert "you may not create “Contact” records" in refused


def test_conversion_page_in_chinese(seller, lead):
    seller.post("/locale", data={"locale": "zh", "next": "/"})
    html = seller.get(f"/app/lead/{lead['id']}/convert").get_data(as_text=True)
    assert "新建客户" in html and "同时创建商机" in html


def test_likely_accounts_follow_the_account_name_typed(seller, make, lead, unique):
    other = make("account", name=f"{unique}远航物流", owner_id=seller.user_id)
    html = seller.post(f"/app/lead/{lead['id']}/convert/matches",
                       data={"account_choice": "new", "account-name": f"{unique}远航物流有限公司"}).get_data(as_text=True)
    assert f'value="{other["id"]}"' in html and f"Similar name: {unique}远航物流" in html
    assert "<html" not in html
