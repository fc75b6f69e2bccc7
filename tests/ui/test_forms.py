"""Create and edit forms: widgets per type, engine errors beside fields, versions and conflicts."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from werkzeug.datastructures import MultiDict

from engine.security.audit import record_history


class BrowserPost(HTMLParser):
    """What a browser posts for the form `form_id` of a page: its enabled controls with their values
    (inputs outside it that name it with `form=` included, disabled fieldsets left out)."""

    def __init__(self, form_id: str = "record-form"):
        super().__init__()
        self.form_id = form_id
        self.pairs: list[tuple[str, str]] = []
        self.in_form = False
        self.fieldsets: list[bool] = []
        self.select: tuple[str, bool, list[str], list[str]] | None = None
        self.textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.in_form = a.get("id") == self.form_id
        elif tag == "fieldset":
            self.fieldsets.append("disabled" in a)
        elif tag == "option" and self.select is not None:
            self.select[2].append(a.get("value", ""))
            if "selected" in a:
                self.select[3].append(a.get("value", ""))
        owned = self.in_form or a.get("form") == self.form_id
        if not owned or not a.get("name") or "disabled" in a or any(self.fieldsets):
            return
        if tag == "select":
            self.select = (a["name"], "multiple" in a, [], [])
        elif tag == "textarea":
            self.textarea = (a["name"], [])
        elif tag == "input" and a.get("type") in ("checkbox", "radio"):
            if "checked" in a:
                self.pairs.append((a["name"], a.get("value", "on")))
        elif tag == "input" and a.get("type") not in ("file", "submit", "button"):
            self.pairs.append((a["name"], a.get("value", "")))

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1].append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False
        elif tag == "fieldset" and self.fieldsets:
            self.fieldsets.pop()
        elif tag == "textarea" and self.textarea is not None:
            self.pairs.append((self.textarea[0], "".join(self.textarea[1]).removeprefix("\n")))
            self.textarea = None
        elif tag == "select" and self.select is not None:
            name, multiple, options, selected = self.select
            chosen = selected if multiple or selected else options[:1]
            self.pairs.extend((name, value) for value in chosen)
            self.select = None


def browser_post(html: str) -> MultiDict:
    parser = BrowserPost()
    parser.feed(html)
    return MultiDict(parser.pairs)


def test_new_form_has_a_labelled_input_per_layout_field(client):
    html = client.get("/app/opportunity/new").get_data(as_text=True)
    assert 'for="name"' in html and 'type="date"' in html and 'id="stage"' in html
    assert 'class="fw-lookup"' in html and "CNY" in html


def test_new_form_is_prefilled_from_the_query_string(client, make, unique):
    account = make("account", name=f"Prefill {unique}")
    html = client.get(f"/app/contact/new?account={account['id']}").get_data(as_text=True)
    assert f'name="account" id="account" value="{account["id"]}"' in html
    assert f'value="Prefill {unique}"' in html


def test_new_form_prefilled_with_an_id_beyond_the_id_range_is_a_400_beside_the_field(client):
    response = client.get("/app/contact/new?account=99999999999999999999")
    assert response.status_code == 400
    assert "must be the id of a record (a whole number from 1 to 2,147,483,647)" in response.get_data(as_text=True)


def test_saving_a_lookup_id_beyond_the_id_range_is_a_422_beside_the_field(client, unique):
    response = client.post("/app/contact/new", data={"last_name": unique, "account": "99999999999999999999"})
    assert response.status_code == 422
    assert "must be the id of a record" in response.get_data(as_text=True)


def test_saving_an_integer_beyond_64_bits_is_a_422_naming_the_range(client, unique):
    response = client.post("/app/account/new", data={"name": unique, "employees": "1e100000"})
    assert response.status_code == 422
    assert "between -9,223,372,036,854,775,808 and 9,223,372,036,854,775,807" in response.get_data(as_text=True)


def test_create_saves_and_shows_the_record(client, unique):
    response = client.post("/app/account/new", data={"name": f"Created {unique}", "grade": "vip"})
    assert response.status_code == 302
    html = client.get(response.location).get_data(as_text=True)
    assert f"Created {unique}" in html and "VIP" in html


def test_validation_error_is_shown_beside_its_field(client):
    response = client.post("/app/account/new", data={"name": "", "email": "not-an-email"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="name-error">is required<', html)
    assert 'id="email-error"' in html


def test_validation_error_keeps_what_was_typed(client, unique):
    html = client.post("/app/account/new", data={"name": "", "city": f"Typed {unique}"}).get_data(as_text=True)
    assert f'value="Typed {unique}"' in html


def test_edit_form_carries_the_version(client, make, unique):
    account = make("account", name=f"Versioned {unique}")
    html = client.get(f"/app/account/{account['id']}/edit").get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in html or 'type="hidden" value="1"' in html


def test_edit_saves_the_changes(client, make, unique, ui_runtime):
    account = make("account", name=f"Edit {unique}")
    response = client.post(f"/app/account/{account['id']}/edit",
                           data={"name": f"Edited {unique}", "version": "1"})
    assert response.status_code == 302
    assert ui_runtime.query().get("account", account["id"])["name"] == f"Edited {unique}"


def test_stale_save_shows_the_conflict_and_keeps_typed_values(client, make, unique, ui_runtime, admin_actor):
    account = make("account", name=f"Original {unique}", city="Beijing")
    ui_runtime.records(admin_actor).update("account", account["id"], {"city": "Shanghai"})
    response = client.post(f"/app/account/{account['id']}/edit",
                           data={"name": f"Mine {unique}", "city": "Shenzhen", "version": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Administrator changed this record" in html
    assert 'class="fw-theirs">Shanghai<' in html and 'class="fw-yours">Shenzhen<' in html
    assert f'value="Mine {unique}"' in html and 'value="Shenzhen"' in html
    assert re.search(r'name="version" type="hidden" value="2"|type="hidden" value="2"', html)


def test_merging_a_conflict_saves_the_chosen_values_against_the_new_version(client, make, unique, ui_runtime,
                                                                          admin_actor):
    account = make("account", name=f"Merge {unique}", city="Beijing")
    ui_runtime.records(admin_actor).update("account", account["id"], {"city": "Shanghai"})
    response = client.post(f"/app/account/{account['id']}/edit", data={
        "name": f"Merged {unique}", "city": "Shenzhen", "version": "2", "merge_city": "theirs"})
    assert response.status_code == 302
    saved = ui_runtime.query().get("account", account["id"])
    assert (saved["name"], saved["city"]) == (f"Merged {unique}", "Shanghai")


def test_two_tabs_saving_different_fields_keep_both_changes(client, make, unique, ui_runtime):
    account = make("account", name=f"Tabs {unique}", city="北京", email=f"old-{unique}@example.com")
    url = f"/app/account/{account['id']}/edit"
    tab_a = browser_post(client.get(url).get_data(as_text=True))
    tab_b = browser_post(client.get(url).get_data(as_text=True))
    tab_a["city"] = "上海"
    assert client.post(url, data=tab_a).status_code == 302
    tab_b["email"] = f"b-{unique}@example.com"
    assert client.post(url, data=tab_b).status_code == 302
    saved = ui_runtime.query().get("account", account["id"])
    assert (saved["city"], saved["email"]) == ("上海", f"b-{unique}@example.com")
    with ui_runtime.engine.connect() as conn:
        tab_b_entry, tab_a_entry = [e for e in record_history(conn, "account", account["id"])
                                    if e.action == "update"]
    assert tab_b_entry.changes == {"email": [f"old-{unique}@example.com", f"b-{unique}@example.com"]}
    assert tab_a_entry.changes == {"city": ["北京", "上海"]}


def _stale_city_edit(client, make, unique, ui_runtime, admin_actor):
    """A form loaded at version 1; then a colleague changes City and Phone; the form's City is changed."""
    account = make("account", name=f"Both {unique}", city="北京", phone="010-1111")
    url = f"/app/account/{account['id']}/edit"
    form = browser_post(client.get(url).get_data(as_text=True))
    ui_runtime.records(admin_actor).update("account", account["id"], {"city": "上海", "phone": "021-2222"})
    form["city"] = "广州"
    return account, url, form


def test_a_field_both_changed_is_the_only_one_offered_and_nothing_is_chosen(client, make, unique, ui_runtime,
                                                                           admin_actor):
    account, url, form = _stale_city_edit(client, make, unique, ui_runtime, admin_actor)
    response = client.post(url, data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert re.findall(r'name="merge_(\w+)"', html) == ["city", "city"]
    assert not re.search(r'name="merge_city"[^>]*checked', html)
    assert 'class="fw-theirs">上海<' in html and 'class="fw-yours">广州<' in html
    assert 'value="021-2222"' in html and 'value="010-1111"' not in html
    assert ui_runtime.query().get("account", account["id"])["city"] == "上海"


def test_saving_a_conflict_without_a_choice_is_refused_beside_the_field(client, make, unique, ui_runtime,
                                                                      admin_actor):
    account, url, form = _stale_city_edit(client, make, unique, ui_runtime, admin_actor)
    again = browser_post(client.post(url, data=form).get_data(as_text=True))
    response = client.post(url, data=again)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert re.search(r'id="city-error">Choose their value or yours.<', html)
    assert ui_runtime.query().get("account", account["id"])["city"] == "上海"


def test_choosing_a_value_on_the_conflict_page_saves_it_and_keeps_the_colleagues_other_change(
        client, make, unique, ui_runtime, admin_actor):
    account, url, form = _stale_city_edit(client, make, unique, ui_runtime, admin_actor)
    again = browser_post(client.post(url, data=form).get_data(as_text=True))
    again["merge_city"] = "mine"
    assert client.post(url, data=again).status_code == 302
    saved = ui_runtime.query().get("account", account["id"])
    assert (saved["city"], saved["phone"]) == ("广州", "021-2222")


def test_file_upload_is_stored_and_downloadable(client, make, unique):
    import io

    account = make("account", name=f"Files {unique}")
    response = client.post(f"/app/account/{account['id']}/edit", data={
        "name": f"Files {unique}", "version": "1",
        "business_licence": (io.BytesIO(b"%PDF-1.4 licence"), "licence.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    download = client.get(f"/app/account/{account['id']}/files/business_licence")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 licence"


def test_file_picked_is_kept_when_the_save_is_refused(client, make, unique):
    import io

    account = make("account", name=f"Kept {unique}")
    response = client.post(f"/app/account/{account['id']}/edit", data={
        "name": "", "version": "1", "business_licence": (io.BytesIO(b"%PDF-1.4 kept bytes"), "kept.pdf")},
        content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "kept.pdf is kept" in html
    token = re.search(r'name="business_licence__kept" value="([^"]+)"', html).group(1)
    saved = client.post(f"/app/account/{account['id']}/edit", data={
        "name": f"Kept {unique}", "version": "1", "business_licence__kept": token})
    assert saved.status_code == 302
    assert client.get(f"/app/account/{account['id']}/files/business_licence").data == b"%PDF-1.4 kept bytes"


def test_file_picked_is_kept_through_a_conflict(client, make, unique, ui_runtime, admin_actor):
    import io

    account = make("account", name=f"Conflict file {unique}")
    ui_runtime.records(admin_actor).update("account", account["id"], {"city": "Shanghai"})
    response = client.post(f"/app/account/{account['id']}/edit", data={
        "name": f"Conflict file {unique}", "city": "Shenzhen", "version": "1",
        "business_licence": (io.BytesIO(b"%PDF-1.4 conflict bytes"), "c.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 409
    assert 'name="business_licence__kept"' in response.get_data(as_text=True)


def test_a_forged_kept_file_token_is_ignored(client, make, unique, ui_runtime):
    account = make("account", name=f"Forged {unique}")
    client.post(f"/app/account/{account['id']}/edit", data={
        "name": f"Forged {unique}", "version": "1", "business_licence__kept": "not-a-signed-token"})
    assert ui_runtime.query().get("account", account["id"])["business_licence"] is None


def test_new_form_is_prefilled_with_field_defaults(client):
    html = client.get("/app/opportunity/new").get_data(as_text=True)
    assert re.search(r'<option selected value="initial_contact"|<option value="initial_contact" selected', html)
