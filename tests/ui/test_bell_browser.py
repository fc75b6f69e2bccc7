"""The bell in a real Chromium: a rep sees the count, opens the dropdown without leaving the page,
follows a notification to its record, and clears the rest on the list; screenshots in en and zh."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from conftest import BROWSER_TIMEOUT_MS
from playwright.sync_api import expect

from engine.flows.notifications import Note, notify_users
from engine.security.users import create_user
from engine.storage.db import write_transaction

pytestmark = pytest.mark.browser
PASSWORD = "bell-browser-1"
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def tell(runtime, user_id: int, note: Note) -> None:
    with write_transaction(runtime.engine) as conn:
        notify_users(conn, [user_id], note, now=T0)


def test_the_bell_journey_from_the_count_to_the_record(browser, live_server, ui_runtime, make, unique, artifacts):
    with write_transaction(ui_runtime.engine) as conn:
        user_id = create_user(conn, f"ring_{unique}", password=PASSWORD, display_name="Wang Fang",
                              roles=["sales_rep"]).id
    account = make("account", name=f"Bell Ltd {unique}", owner_id=user_id)
    tell(ui_runtime, user_id, Note({"en": "Stalled 15 days in negotiation: time to call.",
                                    "zh": "在报价协商阶段已停留 15 天，请尽快跟进。"}))
    tell(ui_runtime, user_id, Note({"en": f"Bell Ltd {unique} is now a VIP account; plan the welcome visit.",
                                    "zh": f"Bell Ltd {unique} 已升级为 VIP 客户，请安排首次回访。"},
                                   {"en": "New VIP account", "zh": "新的 VIP 客户"}, "account", account["id"]))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        page.goto(f"{live_server}/login")
        page.fill("#username", f"ring_{unique}")
        page.fill("#password", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(re.compile(r"/app/"))
        bell = page.locator("#bell")
        expect(bell).to_have_attribute("aria-label", "Notifications, 2 unread")
        home = page.url
        bell.click()
        menu = page.locator("#bell-menu")
        expect(menu.get_by_text("New VIP account")).to_be_visible()
        assert page.url == home   # htmx filled the dropdown; the page stayed
        page.screenshot(path=str(artifacts / "bell-dropdown.png"))
        menu.get_by_role("link", name=re.compile("New VIP account")).click()
        page.wait_for_url(re.compile(rf"/app/account/{account['id']}$"))
        expect(bell).to_have_attribute("aria-label", "Notifications, 1 unread")
        page.goto(f"{live_server}/notifications")
        expect(page.locator(".fw-notification.fw-unread")).to_have_count(1)
        page.screenshot(path=str(artifacts / "notifications.png"), full_page=True)
        page.get_by_role("button", name="Mark all read").click()
        expect(bell).to_have_attribute("aria-label", "Notifications")
        expect(page.locator(".fw-bell-count")).to_have_count(0)

        page.click("button[lang=zh]")
        tell(ui_runtime, user_id, Note({"en": "A quote waits for your approval.", "zh": "有一份报价等待您审批。"},
                                       {"en": "Approval", "zh": "审批"}, "account", account["id"]))
        page.goto(f"{live_server}/notifications")
        expect(bell).to_have_attribute("aria-label", "通知，1 条未读")
        page.screenshot(path=str(artifacts / "notifications-zh.png"), full_page=True)
        bell.click()
        expect(page.locator("#bell-menu").get_by_text("有一份报价等待您审批。")).to_be_visible()
        page.screenshot(path=str(artifacts / "bell-dropdown-zh.png"))
    finally:
        context.close()
