"""'Why can this user see this record?': the engine's reasons on a page, for any user and record."""
from __future__ import annotations

from engine.security.users import create_user
from engine.storage.db import write_transaction


def test_the_access_page_explains_why_a_rep_sees_their_own_record(client, ui_runtime, make, unique):
    with write_transaction(ui_runtime.engine) as conn:
        owner = create_user(conn, f"own_{unique}", roles=["sales_rep"]).id
    record = make("account", name=f"Explained {unique}", owner_id=owner)
    html = client.get(f"/admin/access?user=own_{unique}&entity=account&id={record['id']}").get_data(as_text=True)
    assert "Can see it" in html and "Can edit it" in html
    assert f"The record is owned by own_{unique} without a department." in html
    assert "Role sales_rep reads the records they own of account: this one is among them." in html
    assert f"Explained {unique}" in html


def test_the_access_page_explains_why_another_rep_does_not_see_it(client, ui_runtime, make, unique):
    with write_transaction(ui_runtime.engine) as conn:
        create_user(conn, f"other_{unique}", roles=["sales_rep"])
    record = make("account", name=f"Not theirs {unique}")
    html = client.get(f"/admin/access?user=other_{unique}&entity=account&id={record['id']}").get_data(as_text=True)
    assert "Cannot see it" in html and "this one is not." in html


def test_the_access_page_lists_fields_hidden_from_the_user(client, ui_runtime, make, unique):
    with write_transaction(ui_runtime.engine) as conn:
        create_user(conn, f"agent_{unique}", roles=["service_agent"])
    record = make("account", name=f"Hidden fields {unique}")
    html = client.get(f"/admin/access?user=agent_{unique}&entity=account&id={record['id']}").get_data(as_text=True)
    assert "Fields hidden from them:" in html and "Annual revenue" in html


def test_the_access_page_says_when_the_record_does_not_exist(client):
    response = client.get("/admin/access?user=rep&entity=account&id=99999999")
    assert response.status_code == 404 and "There is no account with id 99999999." in response.get_data(as_text=True)


def test_the_access_form_has_labelled_inputs(client):
    html = client.get("/admin/access").get_data(as_text=True)
    for input_id in ("access-user", "access-entity", "access-id"):
        assert f'for="{input_id}"' in html and f'id="{input_id}"' in html
