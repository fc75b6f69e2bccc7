"""The default sales pipeline over HTTP: the kanban and the edit form obey its gates; the record
page shows its stages as a path bar."""
from __future__ import annotations

import re

GATE = "Enter the amount and the primary contact before quoting"


def deal(make, unique: str, **values):
    account = make("account", name=f"Pipeline {unique}")
    return make("opportunity", **{"name": f"Deal {unique}", "account": account["id"], "stage": "initial_contact",
                                  "close_date": "2031-01-31", **values})


def test_kanban_drag_past_a_gate_answers_with_its_message_and_keeps_the_stage(client, make, unique, ui_runtime):
    opp = deal(make, unique)
    response = client.post(f"/app/opportunity/{opp['id']}/move", data={"value": "negotiation", "version": "1"})
    assert response.status_code == 422
    assert response.get_json()["message"].startswith(GATE)
    assert ui_runtime.query().get("opportunity", opp["id"])["stage"] == "initial_contact"


def test_kanban_drag_refusal_is_in_the_users_language(client, make, unique):
    opp = deal(make, unique)
    client.post("/locale", data={"locale": "zh", "next": "/"})
    try:
        response = client.post(f"/app/opportunity/{opp['id']}/move", data={"value": "negotiation", "version": "1"})
    finally:
        client.post("/locale", data={"locale": "en", "next": "/"})
    assert response.get_json()["message"].startswith("进入报价协商前，请先填写预计金额和主要联系人")


def test_edit_form_shows_the_gate_message_beside_the_stage_field(client, make, unique, ui_runtime):
    opp = deal(make, unique)
    response = client.post(f"/app/opportunity/{opp['id']}/edit", data={
        "name": opp["name"], "account": opp["account"], "stage": "negotiation", "close_date": "2031-01-31",
        "version": "1"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'id="stage-error">{GATE}<', html)
    assert re.search(r'id="amount-error">is required in stage Quote', html)
    assert ui_runtime.query().get("opportunity", opp["id"])["stage"] == "initial_contact"


def test_record_page_shows_the_pipeline_path_with_the_current_stage_and_its_date(client, make, unique):
    opp = deal(make, unique)
    html = client.get(f"/app/opportunity/{opp['id']}").get_data(as_text=True)
    path = html.split('class="fw-path ')[1].split("</ol>")[0]
    labels = re.findall(r'class="fw-path-label" title="[^"]+">([^<]+)<', path)
    assert labels[:2] == ["Initial contact", "Needs confirmed"] and len(labels) == 6
    current = re.search(r'fw-path-current" aria-current="step">\s*<span class="fw-path-label" title="[^"]+">([^<]+)</span>\s*'
                        r'<span class="fw-path-date">([^<]+)<', path)
    assert current.group(1) == "Initial contact"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", current.group(2))
