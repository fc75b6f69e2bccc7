"""The role editor: the entity × action matrix, field access and rights, saved in one go."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.security.actors import SYSTEM
from engine.security.org import create_department
from engine.security.permissions import load_permissions, set_field_access, set_grant, set_rights
from engine.security.users import create_user
from engine.storage.db import fw_role, write_transaction
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


def test_user_manager_widening_its_own_role_is_refused_and_reads_no_more(app, ui_runtime, unique):
    role = f"um_{unique}"
    with write_transaction(ui_runtime.engine) as conn:
        conn.execute(sa.insert(fw_role).values(name=role, app=None, label={"en": "User manager"}))
        set_rights(conn, SYSTEM, role, ["users"])
        create_user(conn, role, password=PASSWORD, roles=[role])
    with ui_runtime.engine.connect() as conn:
        contracts = ui_runtime.registry().table("contract")
        contract = conn.execute(sa.select(contracts.c.id).where(contracts.c.deleted_at.is_(None)).limit(1)).scalar_one()
    manager = app.test_client()
    login(manager, role, PASSWORD)
    response = manager.post(f"/admin/roles/{role}", data={"scope.contract.read": "all"})
    assert response.status_code == 403
    assert "you hold it yourself" in response.get_data(as_text=True)
    with ui_runtime.engine.connect() as conn:
        assert load_permissions(conn, [role]).scope("contract", "read") == "none"
    assert manager.get(f"/app/contract/{contract}").status_code == 404


def test_user_manager_unhiding_a_field_hidden_from_it_is_refused(app, ui_runtime, unique):
    with write_transaction(ui_runtime.engine) as conn:
        conn.execute(sa.insert(fw_role).values(name=f"um_{unique}", app=None, label={"en": "User manager"}))
        set_rights(conn, SYSTEM, f"um_{unique}", ["users"])
        create_user(conn, f"um_{unique}", password=PASSWORD, roles=[f"um_{unique}"])
    manager = app.test_client()
    login(manager, f"um_{unique}", PASSWORD)
    response = manager.post("/admin/roles/marketing", data={"field.account.annual_revenue": "normal"})
    assert response.status_code == 403
    assert "cannot make account.annual_revenue visible" in response.get_data(as_text=True)
    with ui_runtime.engine.connect() as conn:
        assert "annual_revenue" in load_permissions(conn, ["marketing"]).hidden_fields("account")
