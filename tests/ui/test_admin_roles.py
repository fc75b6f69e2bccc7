"""The role editor: the entity × action matrix, field access and rights, saved in one go."""
from __future__ import annotations

import pytest

from engine.db import write_transaction
from engine.org import create_department
from engine.permissions import load_permissions, set_field_access, set_grant, set_rights
from engine.security import SYSTEM
from engine.users import create_user
from metamodel.model import EntityGrant
from tests.ui.conftest import login

PASSWORD = "role-test-password-1"


@pytest.fixture
def restore_sales_rep(ui_runtime):
    """Puts sales_rep's account rules back as the app installed them after the test."""
    yield
    with write_transaction(ui_runtime.engine) as conn:
        set_grant(conn, SYSTEM, "sales_rep", "account", EntityGrant("own", "own", "own", "own"))
        set_field_access(conn, SYSTEM, "sales_rep", "account", "phone", None)
        set_rights(conn, SYSTEM, "sales_rep", [])


def test_role_page_shows_the_matrix_with_labels_and_current_scopes(client):
    html = client.get("/admin/roles/sales_rep").get_data(as_text=True)
    assert '<label class="visually-hidden" for="scope.account.read">Account: Read</label>' in html
    assert '<option value="own" selected>Own</option>' in html
    assert 'id="field.contract.payment_terms"' in html


def test_role_page_speaks_chinese(client):
    client.post("/locale", data={"locale": "zh", "next": "/"})
    html = client.get("/admin/roles/sales_rep").get_data(as_text=True)
    client.post("/locale", data={"locale": "en", "next": "/"})
    assert "销售代表" in html and "客户" in html and "本部门及下级" in html


def test_widening_sales_rep_read_on_account_shows_a_colleagues_account(client, app, ui_runtime, make, unique,
                                                                      restore_sales_rep):
    with write_transaction(ui_runtime.engine) as conn:
        team = create_department(conn, f"Team {unique}")
        create_user(conn, f"me_{unique}", password=PASSWORD, roles=["sales_rep"], department_id=team)
        colleague = create_user(conn, f"mate_{unique}", password=PASSWORD, roles=["sales_rep"],
                                department_id=team).id
    make("account", name=f"Colleague account {unique}", owner_id=colleague)
    rep = app.test_client()
    login(rep, f"me_{unique}", PASSWORD)
    assert f"Colleague account {unique}" not in rep.get(f"/app/account?q={unique}").get_data(as_text=True)
    response = client.post("/admin/roles/sales_rep", data={"scope.account.read": "department", "rights": "1"})
    assert response.status_code == 302
    assert f"Colleague account {unique}" in rep.get(f"/app/account?q={unique}").get_data(as_text=True)


def test_saving_field_access_and_rights_in_one_post(client, ui_runtime, restore_sales_rep):
    client.post("/admin/roles/sales_rep", data={"field.account.phone": "hidden", "rights": "1", "right": ["export"]})
    with ui_runtime.engine.connect() as conn:
        rules = load_permissions(conn, ["sales_rep"])
    assert "phone" in rules.hidden_fields("account") and rules.rights == {"export"}
    assert rules.scope("account", "read") == "own"   # what the form did not send stays


def test_an_unknown_scope_is_refused(client, ui_runtime):
    assert client.post("/admin/roles/sales_rep", data={"scope.account.read": "everyone"}).status_code == 400
    with ui_runtime.engine.connect() as conn:
        assert load_permissions(conn, ["sales_rep"]).scope("account", "read") == "own"


def test_an_unknown_role_is_not_found(client):
    assert client.get("/admin/roles/no_such_role").status_code == 404
