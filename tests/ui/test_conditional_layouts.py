"""Forms and record pages follow the layout's visible_if / required_if conditions, evaluated on the
server when rendering, when saving and live (htmx) while the user edits."""
from __future__ import annotations

import json
import re


def opportunity(make, unique, **values):
    account = make("account", name=f"Cond {unique}")
    return make("opportunity", name=f"Cond opp {unique}", account=account["id"], close_date="2030-01-31",
                **{"stage": "initial_contact", **values})


def field_tag(html: str, name: str) -> str:
    return re.search(rf'<fieldset[^>]*data-field="{name}"[^>]*>', html).group(0)


def test_new_form_hides_a_field_until_its_condition_holds(client):
    html = client.get("/app/opportunity/new").get_data(as_text=True)
    assert "hidden disabled" in field_tag(html, "lost_reason")
    assert "hidden" not in field_tag(html, "amount")


def test_edit_form_shows_a_conditional_field_when_the_record_meets_its_condition(client, make, unique):
    opp = opportunity(make, unique, stage="lost", lost_reason="Price")
    html = client.get(f"/app/opportunity/{opp['id']}/edit").get_data(as_text=True)
    tag = field_tag(html, "lost_reason")
    assert "hidden" not in tag and "fw-required" in tag


def test_required_if_left_blank_is_refused_beside_the_field_and_nothing_is_saved(client, make, unique, ui_runtime):
    opp = opportunity(make, unique)
    response = client.post(f"/app/opportunity/{opp['id']}/edit", data={
        "name": f"Changed {unique}", "account": opp["account"], "stage": "lost", "close_date": "2030-01-31",
        "lost_reason": "", "version": "1"})
    assert response.status_code == 422
    assert re.search(r'id="lost_reason-error">is required<', response.get_data(as_text=True))
    assert ui_runtime.query().get("opportunity", opp["id"])["name"] == f"Cond opp {unique}"


def test_a_field_hidden_by_its_condition_is_not_saved(client, make, unique, ui_runtime):
    opp = opportunity(make, unique)
    response = client.post(f"/app/opportunity/{opp['id']}/edit", data={
        "name": opp["name"], "account": opp["account"], "stage": "needs_confirmed", "close_date": "2030-01-31",
        "lost_reason": "Should not be kept", "version": "1"})
    assert response.status_code == 302
    saved = ui_runtime.query().get("opportunity", opp["id"])
    assert saved["stage"] == "needs_confirmed" and saved["lost_reason"] is None


def test_live_layout_reports_shown_and_required_fields_for_the_posted_values(client):
    response = client.post("/app/opportunity/layout-state", data={"stage": "lost"},
                           headers={"HX-Request": "true"})
    state = json.loads(response.headers["HX-Trigger"])["fw-layout"]
    assert "lost_reason" in state["fields"] and "lost_reason" in state["required"]
    assert {"basic", "sales"} <= set(state["sections"])


def test_live_layout_hides_the_field_when_the_condition_fails(client):
    response = client.post("/app/opportunity/layout-state", data={"stage": "demo"})
    state = json.loads(response.headers["HX-Trigger"])["fw-layout"]
    assert "lost_reason" not in state["fields"] and "lost_reason" not in state["required"]


def test_live_layout_of_an_existing_record_reads_its_stored_values(client, make, unique):
    opp = opportunity(make, unique, stage="lost", lost_reason="Budget")
    response = client.post(f"/app/opportunity/{opp['id']}/layout-state", data={})
    assert "lost_reason" in json.loads(response.headers["HX-Trigger"])["fw-layout"]["fields"]


def test_record_page_leaves_out_a_field_whose_condition_fails(client, make, unique):
    shown = opportunity(make, unique + "a", stage="lost", lost_reason="Budget cut")
    hidden = opportunity(make, unique + "b")
    assert "Lost reason" in client.get(f"/app/opportunity/{shown['id']}").get_data(as_text=True)
    assert "Lost reason" not in client.get(f"/app/opportunity/{hidden['id']}").get_data(as_text=True)
