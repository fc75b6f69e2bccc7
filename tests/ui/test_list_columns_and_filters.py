"""Lists: formula and rollup columns, the formula filter box, previous page, lookup-path columns,
per-type value inputs, translated operator words and the navigation's counts."""
from __future__ import annotations

import re

from tests.ui.test_lists import names_in


def opportunities(make, unique, amounts):
    account = make("account", name=f"Formula acc {unique}")
    contact = make("contact", name=f"Formula contact {unique}", account=account["id"], email=f"f{unique}@example.com")
    # the demo stage's gate asks for a primary contact; its probability is 50
    return [make("opportunity", name=f"{unique} f{n}", account=account["id"], stage="demo", amount=str(amount),
                 primary_contact=contact["id"], close_date="2030-01-31") for n, amount in enumerate(amounts)]


def test_formula_field_is_a_list_column_with_its_value(client, make, unique):
    opportunities(make, unique, [1000])
    html = client.get(f"/app/opportunity?q={unique}&cols=name,expected_revenue").get_data(as_text=True)
    assert "Weighted amount" in html.split("<thead>")[1] and "500.00" in html.split("<tbody>")[1]


def test_formula_column_sorts(client, make, unique):
    opportunities(make, unique, [300, 100, 200])
    html = client.get(f"/app/opportunity?q={unique}&cols=name,expected_revenue&sort=-expected_revenue")
    assert names_in(html.get_data(as_text=True)) == [f"{unique} f0", f"{unique} f2", f"{unique} f1"]


def test_formula_column_filters_like_other_fields(client, make, unique):
    opportunities(make, unique, [300, 100])
    html = client.get(f"/app/opportunity?q={unique}&fb=1&f=expected_revenue&op=gt&v=100").get_data(as_text=True)
    assert names_in(html) == [f"{unique} f0"]


def test_rollup_field_is_shown_on_the_record_page_and_as_a_column(client, make, unique):
    campaign = make("campaign", name=f"Rollup {unique}", channel="webinar", start_date="2030-01-01")
    for n in range(2):
        make("lead", name=f"Lead {unique} {n}", campaign=campaign["id"], email=f"l{n}@example.com")
    page = client.get(f"/app/campaign/{campaign['id']}").get_data(as_text=True)
    assert re.search(r"<dt>Leads</dt><dd[^>]*>\s*2\s*<div class=\"form-text fw-reader-note\">", page)
    html = client.get(f"/app/campaign?q={unique}&cols=name,leads_count").get_data(as_text=True)
    assert re.search(r'<td class="text-end text-nowrap">\s*2\s*</td>', html)


def test_formula_box_filters_the_list(client, make, unique):
    opportunities(make, unique, [1000, 10])
    html = client.get(f"/app/opportunity?q={unique}&formula=amount+*+probability+>+100").get_data(as_text=True)
    assert names_in(html) == [f"{unique} f0"]
    assert 'value="amount * probability &gt; 100"' in html


def test_formula_box_error_shows_the_engines_message_with_a_caret(client):
    html = client.get("/app/opportunity?formula=amount+>+").get_data(as_text=True)
    error = re.search(r'id="list-formula-error"[^>]*>(.*?)</pre>', html, re.S).group(1)
    assert "^" in error and "line 1" in error
    assert 'aria-invalid="true"' in html


def test_list_with_a_refused_formula_answers_422(client):
    assert client.get("/app/opportunity?formula=amount+>+").status_code == 422


def test_previous_page_link_returns_to_the_first_page_keeping_the_total(client, make, unique):
    for n in range(7):
        make("account", name=f"{unique} prev {n}")
    client.application.config["LIST_PAGE_SIZE"] = 3
    try:
        first = client.get(f"/app/account?q={unique}&sort=name").get_data(as_text=True)
        second = client.get(_href(first, "next")).get_data(as_text=True)
        back = client.get(_href(second, "prev")).get_data(as_text=True)
    finally:
        client.application.config["LIST_PAGE_SIZE"] = 50
    assert 'rel="prev"' not in first
    assert names_in(back) == names_in(first) and "1–3 of 7" in back


def test_previous_page_from_the_third_page_shows_the_second(client, make, unique):
    for n in range(7):
        make("account", name=f"{unique} third {n}")
    client.application.config["LIST_PAGE_SIZE"] = 3
    try:
        second = client.get(_href(client.get(f"/app/account?q={unique}&sort=name").get_data(as_text=True), "next"))
        third = client.get(_href(second.get_data(as_text=True), "next")).get_data(as_text=True)
        back = client.get(_href(third, "prev")).get_data(as_text=True)
    finally:
        client.application.config["LIST_PAGE_SIZE"] = 50
    assert names_in(back) == [f"{unique} third {n}" for n in (3, 4, 5)] and "4–6 of 7" in back


def _href(html: str, rel: str) -> str:
    return re.search(rf'rel="{rel}" href="([^"]+)"', html).group(1).replace("&amp;", "&")


def test_lookup_path_column_shows_the_target_records_field(client, make, unique):
    account = make("account", name=f"Path {unique}", city="Chengdu")
    make("contact", name=f"Path person {unique}", account=account["id"], mobile="13800000001")
    html = client.get(f"/app/contact?q={unique}&cols=name,account.city").get_data(as_text=True)
    assert "Account › City" in html.split("<thead>")[1] and "Chengdu" in html.split("<tbody>")[1]


def test_column_chooser_offers_the_lookup_targets_fields(client):
    html = client.get("/app/contact").get_data(as_text=True)
    assert 'value="account.city"' in html and 'value="account.name"' in html


def test_unknown_lookup_path_is_ignored(client):
    assert client.get("/app/contact?cols=name,account.nope,city.name").status_code == 200


def test_filter_row_offers_a_date_input_for_a_date_field(client):
    assert 'type="date"' in client.get("/app/opportunity/filter-row?f=close_date").get_data(as_text=True)


def test_filter_row_offers_a_number_input_for_a_currency_field(client):
    assert 'type="number"' in client.get("/app/opportunity/filter-row?f=amount&op=gt").get_data(as_text=True)


def test_filter_row_offers_a_select_of_picklist_values(client):
    html = client.get("/app/opportunity/filter-row?f=stage").get_data(as_text=True)
    assert re.search(r'<select[^>]*name="v"', html) and 'value="negotiation"' in html


def test_filter_row_offers_a_type_ahead_for_a_lookup(client):
    html = client.get("/app/opportunity/filter-row?f=account").get_data(as_text=True)
    assert "fw-lookup" in html and 'data-lookup-url="/app/account/lookup"' in html


def test_filter_row_between_offers_two_inputs_joined_into_one_value(client):
    html = client.get("/app/opportunity/filter-row?f=close_date&op=between&v=2030-01-01,2030-12-31").get_data(
        as_text=True)
    assert html.count('type="date"') == 2 and 'name="v" value="2030-01-01,2030-12-31"' in html


def test_filter_row_operators_fit_the_field_type(client):
    html = client.get("/app/opportunity/filter-row?f=amount").get_data(as_text=True)
    assert 'value="gt"' in html and 'value="contains"' not in html


def test_bulk_value_input_for_a_boolean_field_is_a_yes_no_select(client):
    html = client.get("/app/task/bulk-value?field=done").get_data(as_text=True)
    assert 'name="value"' in html and 'value="true"' in html and 'value="false"' in html


def test_bulk_value_input_for_a_date_field_is_a_date_picker(client):
    assert 'type="date"' in client.get("/app/opportunity/bulk-value?field=close_date").get_data(as_text=True)


def test_filter_sentence_uses_translated_operator_words(client):
    client.post("/locale", data={"locale": "zh", "next": "/app/account"})
    try:
        html = client.get("/app/account?fb=1&f=grade&op=in&v=vip,potential").get_data(as_text=True)
    finally:
        client.post("/locale", data={"locale": "en", "next": "/app/account"})
    chips = html.split('class="fw-chips')[1].split("</div>")[0]
    assert "属于" in chips and "is one of" not in chips


def test_navigation_counts_open_tickets(client, make, unique, ui_runtime):
    from metamodel.model import Condition

    make("ticket", subject=f"Nav {unique}", status="new", priority="high", type="question", channel="email")
    open_view = next(v for v in ui_runtime.registry().entity("ticket").list_views if v.name == "open")
    expected = ui_runtime.query().count("ticket", filters=[Condition(c.field, c.op, c.value) for c in open_view.filters])
    html = client.get("/app/account").get_data(as_text=True)
    link = re.search(r'<a class="fw-nav-link[^"]*" href="/app/ticket\?view=open".*?</a>', html, re.S).group(0)
    assert f'<span aria-hidden="true">{expected}</span>' in link
