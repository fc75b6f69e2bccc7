"""List pages: columns from metadata, sort, filters (AND / OR), search, pages, saved views, bulk actions."""
from __future__ import annotations

import base64
import re


def names_in(html: str) -> list[str]:
    return re.findall(r'class="fw-row-link"[^>]*>([^<]+)</a>', html)


def test_list_shows_the_view_columns_from_metadata(client):
    html = client.get("/app/opportunity?view=all").get_data(as_text=True)
    for label in ("Opportunity name", "Account", "Stage", "Amount", "Probability"):
        assert label in html


def test_list_shows_lookup_titles_linked_to_their_record(client, make, unique):
    account = make("account", name=f"Linked {unique}")
    make("contact", name=f"Contact {unique}", account=account["id"], mobile="13800000000")
    html = client.get(f"/app/contact?q={unique}").get_data(as_text=True)
    assert f'href="/app/account/{account["id"]}">Linked {unique}</a>' in html


def test_list_sorted_by_a_clicked_column(client, make, unique):
    for n in (3, 1, 2):
        make("account", name=f"{unique} sort {n}")
    html = client.get(f"/app/account?q={unique}&sort=-name").get_data(as_text=True)
    assert names_in(html) == [f"{unique} sort 3", f"{unique} sort 2", f"{unique} sort 1"]
    assert 'aria-sort="descending"' in html


def test_list_filters_with_all_conditions(client, make, unique):
    make("account", name=f"{unique} vip north", grade="vip", region="north_china")
    make("account", name=f"{unique} vip south", grade="vip", region="south_china")
    make("account", name=f"{unique} normal north", grade="regular", region="north_china")
    html = client.get(f"/app/account?q={unique}&fb=1&f=grade&op=eq&v=vip&f=region&op=eq&v=north_china").get_data(as_text=True)
    assert names_in(html) == [f"{unique} vip north"]


def test_list_filters_with_any_condition(client, make, unique):
    make("account", name=f"{unique} a", grade="vip")
    make("account", name=f"{unique} b", grade="potential")
    make("account", name=f"{unique} c", grade="regular")
    html = client.get(f"/app/account?q={unique}&fb=1&match=any&f=grade&op=eq&v=vip&f=grade&op=eq&v=potential"
                      "&sort=name").get_data(as_text=True)
    assert names_in(html) == [f"{unique} a", f"{unique} b"]


def test_list_shows_the_filter_as_a_sentence(client):
    html = client.get("/app/account?fb=1&f=grade&op=in&v=vip,potential").get_data(as_text=True)
    assert "Grade is one of VIP, Potential" in html


def test_a_bad_filter_value_is_a_message_not_an_error(client):
    response = client.get("/app/opportunity?fb=1&f=amount&op=gt&v=lots")
    assert response.status_code == 200
    assert "This filter cannot be applied" in response.get_data(as_text=True)


def test_list_pages_with_a_cursor_and_a_total(client, make, unique):
    for n in range(7):
        make("account", name=f"{unique} page {n}")
    client.application.config["LIST_PAGE_SIZE"] = 3
    try:
        first = client.get(f"/app/account?q={unique}&sort=name").get_data(as_text=True)
        assert "1–3 of 7" in first
        next_href = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
        second = client.get(next_href).get_data(as_text=True)
    finally:
        client.application.config["LIST_PAGE_SIZE"] = 50
    assert names_in(first) == [f"{unique} page {n}" for n in range(3)]
    assert names_in(second) == [f"{unique} page {n}" for n in range(3, 6)]
    assert "4–6 of 7" in second


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_a_cursor_of_deeply_nested_brackets_is_a_400_that_says_so(client):
    response = client.get(f"/app/account?cursor={_cursor('[' * 1200 + ']' * 1200)}")
    assert response.status_code == 400
    assert "cursor is not a valid page cursor" in response.get_data(as_text=True)


def test_a_cursor_holding_a_whole_number_beyond_64_bits_is_a_400(client):
    response = client.get(f"/app/account?sort=employees&cursor={_cursor('[1, 99999999999999999999]')}")
    assert response.status_code == 400
    assert "outside the 64-bit range" in response.get_data(as_text=True)


def test_a_cursor_with_a_value_of_another_type_than_its_sort_key_is_a_400(client):
    cursor = _cursor('["many", 5]')
    response = client.get(f"/app/account?sort=employees&before={cursor}")
    assert response.status_code == 400
    assert "belongs to another sort order" in response.get_data(as_text=True)


def test_htmx_sort_returns_only_the_results(client):
    response = client.get("/app/account?sort=name", headers={"HX-Request": "true", "HX-Target": "list-page"})
    html = response.get_data(as_text=True)
    assert "fw-table" in html and "<html" not in html


def test_column_chooser_sets_the_columns(client):
    html = client.get("/app/account?cols=name&cols=city").get_data(as_text=True)
    head = html.split("<thead>")[1].split("</thead>")[0]
    assert "City" in head and "Industry" not in head


def test_a_saved_view_reopens_with_its_filters(client, make, unique):
    make("account", name=f"{unique} saved", grade="vip")
    make("account", name=f"{unique} other", grade="regular")
    response = client.post("/app/account/views", data={
        "name": f"VIPs {unique}", "fb": "1", "f": "grade", "op": "eq", "v": "vip", "q": unique})
    assert response.status_code == 302
    html = client.get(response.location).get_data(as_text=True)
    assert names_in(html) == [f"{unique} saved"]
    assert f"VIPs {unique}" in html


def test_a_personal_view_is_not_visible_to_others(client, rep_client, unique):
    location = client.post("/app/account/views", data={"name": f"Mine {unique}", "q": unique}).location
    assert rep_client.get(location).status_code == 404


def test_bulk_set_a_field_changes_every_selected_record(client, make, unique, ui_runtime):
    ids = [make("account", name=f"{unique} bulk {n}")["id"] for n in range(2)]
    response = client.post("/app/account/bulk", data={"ids": ids, "action": "set", "field": "grade", "value": "vip"})
    assert response.status_code == 302
    grades = {ui_runtime.query().get("account", i)["grade"] for i in ids}
    assert grades == {"vip"}


def test_bulk_delete_moves_records_to_the_recycle_bin(client, make, unique):
    ids = [make("account", name=f"{unique} gone {n}")["id"] for n in range(2)]
    client.post("/app/account/bulk", data={"ids": ids, "action": "delete"})
    assert client.get(f"/app/account/{ids[0]}").status_code == 404


def test_list_search_finds_records_holding_every_word_in_any_field(client, make, unique):
    make("account", name=f"Acme {unique}", city="Beijing")
    make("account", name=f"Acme {unique} Shanghai", city="Shanghai")
    html = client.get(f"/app/account?q={unique}+Acme+beijing").get_data(as_text=True)
    assert names_in(html) == [f"Acme {unique}"]


def test_lookup_endpoint_returns_titles_matching_the_text(client, make, unique):
    account = make("account", name=f"Typeahead {unique}")
    assert client.get(f"/app/account/lookup?q={unique}").get_json() == [
        {"id": account["id"], "title": f"Typeahead {unique}"}]


def test_lookup_endpoint_stays_within_the_users_scope(rep_client, make, unique):
    make("account", name=f"Hidden {unique}")   # owned by admin
    assert rep_client.get(f"/app/account/lookup?q={unique}").get_json() == []


def test_global_search_finds_records_across_entities(client, make, unique):
    make("account", name=f"Globex {unique}")
    make("contact", name=f"Globex person {unique}", email="g@example.com")
    html = client.get(f"/search?q={unique}").get_data(as_text=True)
    assert f"Globex {unique}" in html and f"Globex person {unique}" in html
