"""The app in a real Chromium against a real server: what a user does, end to end.

One server and one browser for the session; each test gets a fresh browser context (logged in).
"""
from __future__ import annotations

import csv
import io
import re
import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def wait_for_htmx(page) -> None:
    """Waits until htmx has no request in flight and has settled what it swapped in."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-added, .htmx-settling')")


def wait_for(check, timeout: float = 60.0):
    """Polls `check` until it holds; generous, as the page fixture's timeouts are, for a busy machine."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def first_column(page) -> list[str]:
    return [t.strip() for t in page.locator("#results .fw-row-link").all_inner_texts()]


def test_log_in_shows_the_navigation_and_a_list(page):
    assert page.locator(".fw-sidebar").get_by_text("Opportunities").is_visible()
    assert page.locator("table.fw-table").is_visible()


def test_create_an_account_then_a_contact_from_its_related_list(page, unique, artifacts):
    page.goto(f"{page.base}/app/account/new")
    page.fill("#name", f"Acme {unique}")
    page.select_option("#grade", "vip")
    page.screenshot(path=str(artifacts / "form.png"), full_page=True)
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/app/account/\d+$"))
    assert page.locator(".fw-record-title").inner_text() == f"Acme {unique}"
    page.click("#tab-related")
    page.locator('.fw-related[data-entity="contact"] a:has-text("New")').first.click()
    page.wait_for_url(re.compile(r"/app/contact/new\?account=\d+"))
    assert page.input_value("#account-search") == f"Acme {unique}"
    page.fill("#name", f"Zhang {unique}")
    page.fill("#mobile", "13900000000")
    page.click("button:has-text('Save')")
    # Back on the account's related list, where the new contact shows and a message confirms it.
    page.wait_for_url(re.compile(r"/app/account/\d+#pane-related$"))
    expect(page.locator(".fw-flashes")).to_contain_text("Contact created.")
    related = page.locator('.fw-related[data-entity="contact"]')
    expect(related.get_by_role("link", name=f"Zhang {unique}")).to_be_visible()
    page.screenshot(path=str(artifacts / "record.png"), full_page=True)


def test_filter_sort_save_and_reopen_a_view(page, make, unique, artifacts):
    for n, grade in enumerate(("vip", "vip", "regular", "vip")):
        make("account", name=f"{unique} view {n}", grade=grade)
    page.goto(f"{page.base}/app/account?q={unique}")
    page.click("button:has-text('Filters')")
    rows = page.locator(".fw-filter-row")
    before = rows.count()
    page.click("button:has-text('Add condition')")
    expect(rows).to_have_count(before + 1)   # the new row arrives by htmx; wait for it, not the old one
    wait_for_htmx(page)                       # ...and for htmx to wire it, or its change goes unheard
    row = rows.last
    with page.expect_response(re.compile(r"/filter-row")):
        row.locator("select[name=f]").select_option("grade")
    wait_for_htmx(page)
    row.locator("select[name=v]").select_option("vip")   # a picklist's value is chosen from its values
    page.click("button:has-text('Apply filters')")
    page.wait_for_url(re.compile(r"f=grade"))
    assert first_column(page) == [f"{unique} view {n}" for n in (0, 1, 3)]
    page.click("th a.fw-sort:has-text('Account name')")   # the view sorts by name: a click reverses it
    page.locator("th[aria-sort=descending]").wait_for()
    assert first_column(page) == [f"{unique} view {n}" for n in (3, 1, 0)]
    page.screenshot(path=str(artifacts / "list.png"), full_page=False)
    page.click("#save-view-menu")
    page.fill("#view-name", f"VIP {unique}")
    page.click(".fw-save-view button[type=submit]")
    page.wait_for_url(re.compile(r"view=\d+"))
    page.goto(f"{page.base}/app/account")
    page.click("#view-menu")
    page.click(f".dropdown-item:has-text('VIP {unique}')")
    page.wait_for_url(re.compile(r"view=\d+"))
    assert first_column(page) == [f"{unique} view {n}" for n in (3, 1, 0)]


def test_drag_an_opportunity_to_the_next_stage(page, make, unique, ui_runtime, artifacts):
    account = make("account", name=f"Board {unique}")
    opp = make("opportunity", name=f"Drag {unique}", stage="initial_contact", account=account["id"],
               close_date="2000-01-01")
    page.goto(f"{page.base}/app/opportunity/kanban")
    card = page.locator(f'.fw-card[data-id="{opp["id"]}"]')
    target = page.locator('.fw-board-cards[data-value="needs_confirmed"]')
    page.screenshot(path=str(artifacts / "kanban.png"), full_page=False)
    box, goal = card.bounding_box(), target.bounding_box()
    start_x, start_y = box["x"] + box["width"] - 5, box["y"] + box["height"] / 2   # padding: not a link
    page.mouse.move(start_x, start_y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(start_x + (goal["x"] + 40 - start_x) * step / 10, start_y + (goal["y"] + 30 - start_y) * step / 10)
    page.mouse.up()
    assert wait_for(lambda: ui_runtime.query().get("opportunity", opp["id"])["stage"] == "needs_confirmed")
    assert target.locator(f'.fw-card[data-id="{opp["id"]}"]').count() == 1


def test_a_stale_edit_shows_the_conflict_and_keeps_what_was_typed(page, make, unique, artifacts):
    account = make("account", name=f"Twice {unique}", city="Beijing")
    url = f"{page.base}/app/account/{account['id']}/edit"
    other = page.context.new_page()
    other.goto(url)
    page.goto(url)
    other.fill("#city", "Shanghai")
    other.click("button:has-text('Save')")
    other.wait_for_url(re.compile(r"/app/account/\d+$"))
    page.fill("#city", "Shenzhen")
    page.fill("#phone", "010-12345678")
    page.click("button:has-text('Save')")
    assert page.locator(".fw-conflict").is_visible()
    assert page.locator(".fw-merge tbody tr").count() == 1
    assert page.locator(".fw-theirs").first.inner_text() == "Shanghai"
    assert page.locator("input[name=merge_city]:checked").count() == 0
    assert page.input_value("#city") == "Shenzhen"
    assert page.input_value("#phone") == "010-12345678"
    page.screenshot(path=str(artifacts / "conflict.png"), full_page=False)


def test_switch_to_chinese(page, artifacts):
    page.goto(f"{page.base}/app/opportunity")
    page.click("button[lang=zh]")
    page.wait_for_load_state()
    try:
        assert page.locator(".fw-sidebar").get_by_text("商机").first.is_visible()
        assert page.get_by_role("link", name="新建").is_visible()
        assert page.locator("th").get_by_text("阶段").is_visible()
        page.screenshot(path=str(artifacts / "list-zh.png"), full_page=False)
    finally:
        page.click("button[lang=en]")


def test_export_the_filtered_list_matches_the_screen(page, make, unique):
    for n, grade in enumerate(("potential", "regular", "potential")):
        make("account", name=f"{unique} csv {n}", grade=grade)
    page.goto(f"{page.base}/app/account?q={unique}&fb=1&f=grade&op=eq&v=potential&sort=name")
    shown = first_column(page)
    page.click("button:has-text('Export')")
    with page.expect_download() as download:
        page.click("#export-csv")
    text = open(download.value.path(), encoding="utf-8-sig").read()
    rows = list(csv.reader(io.StringIO(text)))
    assert [r[0] for r in rows[1:]] == shown == [f"{unique} csv 0", f"{unique} csv 2"]


def test_leaving_a_form_with_unsaved_changes_asks_first(page):
    page.goto(f"{page.base}/app/account/new")
    page.fill("#name", "Half typed")
    page.click("h1")   # a user gesture: browsers only ask after one
    with page.expect_event("dialog") as asked:
        page.close(run_before_unload=True)
    assert asked.value.type == "beforeunload"
    asked.value.dismiss()


def test_a_conditional_field_appears_and_becomes_required_as_the_stage_changes(page, make, unique, artifacts):
    account = make("account", name=f"Live {unique}")
    opp = make("opportunity", name=f"Live {unique}", account=account["id"], stage="needs_confirmed",
               close_date="2030-01-31")
    page.goto(f"{page.base}/app/opportunity/{opp['id']}/edit")
    field = page.locator('[data-field="lost_reason"]')
    assert field.is_hidden()
    page.select_option("#stage", "lost")
    field.wait_for(state="visible")
    assert "fw-required" in field.get_attribute("class")
    assert page.get_attribute("#lost_reason", "aria-required") == "true"
    page.fill("#lost_reason", "Chose a competitor")
    page.locator('[data-section="sales"]').scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "form-conditional.png"), full_page=False)
    page.select_option("#stage", "negotiation")
    field.wait_for(state="hidden")
    assert page.locator("#lost_reason").is_disabled()


def test_previous_page_goes_back_keeping_the_total(page, unique, ui_runtime, admin_actor):
    ui_runtime.records(admin_actor).bulk_create("account", [{"name": f"{unique} p{n:02d}"} for n in range(60)])
    page.goto(f"{page.base}/app/account?q={unique}&sort=name")
    first = first_column(page)
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(r"cursor="))
    assert first_column(page)[0] == f"{unique} p50"
    page.click("a[rel=prev]")
    page.wait_for_url(re.compile(r"before="))
    assert first_column(page) == first
    assert "1–50 of 60" in page.inner_text("#list-summary")


def test_list_with_a_formula_column_and_the_formula_filter(page, make, unique, artifacts):
    account = make("account", name=f"Formula shot {unique}")
    contact = make("contact", name=f"Formula shot {unique}", account=account["id"], email=f"s{unique}@example.com")
    for n, amount in enumerate((250000, 90000, 1200000)):   # negotiation: 70 %, and its gate wants a contact
        make("opportunity", name=f"{unique} deal {n}", account=account["id"], stage="negotiation",
             amount=str(amount), primary_contact=contact["id"], close_date="2030-02-28")
    page.goto(f"{page.base}/app/opportunity?q={unique}&cols=name,account,account.city,amount,probability,"
              "expected_revenue&sort=-expected_revenue")
    page.click("button:has-text('Filters')")
    page.fill("#list-formula", "amount * probability > 100000")
    page.click("button:has-text('Apply filters')")
    page.wait_for_url(re.compile(r"formula="))
    assert first_column(page) == [f"{unique} deal 2", f"{unique} deal 0"]
    page.screenshot(path=str(artifacts / "list-formula.png"), full_page=False)
    page.fill("#list-formula", "amount * ")
    page.click("button:has-text('Apply filters')")
    page.locator("#list-formula-error").wait_for()
    page.screenshot(path=str(artifacts / "list-formula-error.png"), full_page=False)


def test_trash_and_restore(page, make, unique, ui_runtime, admin_actor, artifacts):
    account = make("account", name=f"Trash {unique}")
    ui_runtime.records(admin_actor).delete("account", account["id"])
    page.goto(f"{page.base}/app/account/trash")
    page.screenshot(path=str(artifacts / "trash.png"), full_page=False)
    page.click(f"button[aria-label='Restore Trash {unique}']")
    page.wait_for_url(re.compile(rf"/app/account/{account['id']}$"))
    assert page.locator(".fw-record-title").inner_text() == f"Trash {unique}"


def test_kanban_load_more_appends_cards(page, ui_runtime, admin_actor, unique, artifacts):
    account = ui_runtime.records(admin_actor).create("account", {"name": f"Board more {unique}"})
    ui_runtime.records(admin_actor).bulk_create("opportunity", [
        {"name": f"Card {unique} {n}", "account": account["id"], "stage": "initial_contact", "amount": "1000",
         "close_date": "2030-01-31"} for n in range(35)])
    page.goto(f"{page.base}/app/opportunity/kanban")
    column = page.locator('.fw-board-cards[data-value="initial_contact"]')
    before = column.locator(".fw-card").count()
    count_text = page.locator('.fw-col-count[data-value="initial_contact"]').inner_text()
    more = column.locator("button:has-text('Load more')")
    more.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "kanban-load-more.png"), full_page=False)
    more.click()
    assert wait_for(lambda: column.locator(".fw-card").count() > before)
    assert page.locator('.fw-col-count[data-value="initial_contact"]').inner_text() == count_text
