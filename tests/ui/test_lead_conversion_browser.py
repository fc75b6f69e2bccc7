"""Lead conversion in a real Chromium: a rep working in 中文 converts a lead, end to end."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TIMEOUT_MS

pytestmark = pytest.mark.browser
PASSWORD = "convert-password-1"


def rep_page(browser, live_server, ui_runtime, username: str, locale: str):
    """A browser page logged in as a new sales rep `username` working in `locale`; returns (page, id)."""
    from engine.security.users import create_user
    from engine.storage.db import write_transaction

    with write_transaction(ui_runtime.engine) as conn:
        user_id = create_user(conn, username, password=PASSWORD, roles=["sales_rep"], locale=locale,
                              display_name=username).id
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    page.goto(f"{live_server}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/app/"))
    return page, user_id


def test_rep_in_chinese_converts_a_lead_into_account_contact_and_opportunity(
        browser, live_server, ui_runtime, make, unique, artifacts):
    page, rep = rep_page(browser, live_server, ui_runtime, f"zhao_{unique}", "zh")
    make("account", name=f"{unique}云帆科技", phone="010-6666 8888", owner_id=rep)
    lead = make("lead", name="赵敏", company=f"北京{unique}云帆科技股份有限公司", title="信息中心主任",
                phone="13911112222", email=f"zhaomin@{unique}yunfan.cn", status="qualified", source="exhibition",
                industry="software", region="north_china", owner_id=rep)
    page.goto(f"{live_server}/app/lead/{lead['id']}")
    page.click("a.fw-convert:has-text('转化')")
    page.wait_for_url(re.compile(rf"/app/lead/{lead['id']}/convert$"))
    expect(page.locator(".fw-matches")).to_contain_text(f"名称相近：{unique}云帆科技")
    assert page.input_value("#account-name") == f"北京{unique}云帆科技股份有限公司"
    assert page.input_value("#contact-name") == "赵敏"
    page.fill("#opportunity-name", f"{unique}云帆 CRM 项目")
    page.fill("#opportunity-amount", "360000")
    page.fill("#opportunity-close_date", "2027-02-28")
    page.screenshot(path=str(artifacts / "lead-convert-zh.png"), full_page=True)
    page.click("button[type=submit]:has-text('转化')")
    page.wait_for_url(re.compile(rf"/app/lead/{lead['id']}$"))
    converted = page.locator(".fw-converted")
    expect(converted).to_contain_text("不能再编辑")
    expect(converted.get_by_role("link", name=f"北京{unique}云帆科技股份有限公司")).to_be_visible()
    expect(converted.get_by_role("link", name="赵敏")).to_be_visible()
    expect(converted.get_by_role("link", name=f"{unique}云帆 CRM 项目")).to_be_visible()
    expect(page.locator("a:has-text('编辑')")).to_have_count(0)
    page.screenshot(path=str(artifacts / "lead-converted-zh.png"), full_page=True)
    converted.get_by_role("link", name=f"{unique}云帆 CRM 项目").click()
    page.wait_for_url(re.compile(r"/app/opportunity/\d+$"))
    expect(page.locator(".fw-record-head")).to_contain_text("¥360,000")
    page.context.close()


def test_screenshots_of_the_conversion_in_english(browser, live_server, ui_runtime, make, unique, artifacts):
    page, rep = rep_page(browser, live_server, ui_runtime, f"rose_{unique}", "en")
    harbor = make("account", name=f"Harbor {unique} Logistics", email=f"info@harbor{unique}.com", owner_id=rep)
    lead = make("lead", name="Rose Li", company=f"Harbor {unique} Logistics Co., Ltd.", title="COO",
                phone="021-5555 0000", email=f"rose@harbor{unique}.com", status="contacted", source="referral",
                owner_id=rep)
    page.goto(f"{live_server}/app/lead/{lead['id']}/convert")
    expect(page.locator(".fw-matches")).to_contain_text("Similar name")
    page.fill("#account-name", "Quite Another Name")
    page.press("#account-name", "Tab")   # the likely accounts follow the name typed
    expect(page.locator(".fw-matches")).not_to_contain_text("Similar name")
    expect(page.locator(".fw-matches")).to_contain_text("Same email domain")
    page.check(f"#account-{harbor['id']}")
    page.fill("#opportunity-amount", "52000")
    page.screenshot(path=str(artifacts / "lead-convert-en.png"), full_page=True)
    page.click("button[type=submit]:has-text('Convert')")
    page.wait_for_url(re.compile(rf"/app/lead/{lead['id']}$"))
    attached = page.locator(".fw-converted").get_by_role("link", name=f"Harbor {unique} Logistics", exact=True)
    expect(attached).to_have_attribute("href", f"/app/account/{harbor['id']}")
    page.screenshot(path=str(artifacts / "lead-converted-en.png"), full_page=True)
    page.context.close()
