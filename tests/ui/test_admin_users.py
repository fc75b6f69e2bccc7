"""The users pages: list, create (password shown once), weak passwords, edit, deactivate, reset, reassign."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from engine.security.actors import SYSTEM
from engine.security.permissions import set_rights
from engine.security.users import create_user, password_matches
from engine.storage.db import fw_audit, fw_role, fw_user, write_transaction
from tests.ui.conftest import login

STRONG = "a-strong-password-9"


def new_user(runtime, name: str, **options) -> int:
    with write_transaction(runtime.engine) as conn:
        return create_user(conn, name, password=STRONG, **options).id


def stored(runtime, user_id: int):
    with runtime.engine.connect() as conn:
        return conn.execute(sa.select(fw_user).where(fw_user.c.id == user_id)).one()


def shown_password(html: str) -> str:
    return re.search(r'id="new-password"[^>]*value="([^"]+)"', html).group(1)


def test_users_list_shows_roles_department_and_search_narrows_it(client, ui_runtime, unique):
    new_user(ui_runtime, f"findme_{unique}", display_name=f"Find Me {unique}", roles=["sales_rep"])
    html = client.get(f"/admin/users?q=findme_{unique}").get_data(as_text=True)
    assert f"findme_{unique}" in html and "Sales rep" in html
    assert ">rep<" not in html   # another user, filtered out


def test_admin_creates_a_user_and_the_generated_password_is_shown_once(client, app, ui_runtime, unique):
    response = client.post("/admin/users/new", data={
        "username": f"new_{unique}", "display_name": "New Person", "email": "", "department": "", "manager": "",
        "roles": ["sales_rep"], "locale": "zh", "timezone": "Asia/Shanghai", "password_mode": "generate"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = shown_password(response.get_data(as_text=True))
    assert login(app.test_client(), f"new_{unique}", password).status_code == 302
    user_id = int(re.search(r"/admin/users/(\d+)", response.get_data(as_text=True)).group(1))
    assert password not in client.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert stored(ui_runtime, user_id).timezone == "Asia/Shanghai"


def test_a_typed_weak_password_is_refused_with_the_policy_message(client, ui_runtime, unique):
    response = client.post("/admin/users/new", data={
        "username": f"weak_{unique}", "display_name": "Weak", "department": "", "manager": "", "locale": "en",
        "timezone": "UTC", "password_mode": "type", "password": "12345"})
    html = response.get_data(as_text=True)
    assert "a password needs at least 10 characters" in html and "a password cannot be only digits" in html
    with ui_runtime.engine.connect() as conn:
        assert conn.execute(sa.select(fw_user.c.id).where(fw_user.c.username == f"weak_{unique}")).first() is None


def test_a_typed_good_password_is_set_and_not_shown(client, app, ui_runtime, unique):
    response = client.post("/admin/users/new", data={
        "username": f"typed_{unique}", "display_name": "Typed", "department": "", "manager": "", "locale": "en",
        "timezone": "UTC", "password_mode": "type", "password": STRONG})
    assert response.status_code == 302
    assert STRONG not in client.get(response.location).get_data(as_text=True)
    assert login(app.test_client(), f"typed_{unique}", STRONG).status_code == 302


def test_edit_changes_roles_and_department(client, ui_runtime, unique):
    user_id = new_user(ui_runtime, f"edit_{unique}")
    client.post("/admin/departments", data={"new-name": f"Dept {unique}", "new-parent": ""})
    page = client.get(f"/admin/users/{user_id}").get_data(as_text=True)
    dept_id = re.search(rf'<option value="(\d+)">Dept {unique}</option>', page).group(1)
    response = client.post(f"/admin/users/{user_id}", data={
        "display_name": "Edited", "email": "e@example.com", "department": dept_id, "manager": "",
        "roles": ["finance"], "locale": "en", "timezone": "UTC"})
    assert response.status_code == 302
    listed = client.get(f"/admin/users?q=edit_{unique}").get_data(as_text=True)
    assert "Finance" in listed and f"Dept {unique}" in listed and "Edited" in listed


def test_deactivate_asks_first_then_the_user_cannot_log_in(client, app, ui_runtime, unique):
    user_id = new_user(ui_runtime, f"leaver_{unique}")
    confirm = client.get(f"/admin/users/{user_id}/deactivate")
    assert "no longer be able to sign in" in confirm.get_data(as_text=True)
    assert stored(ui_runtime, user_id).active
    client.post(f"/admin/users/{user_id}/deactivate")
    assert not stored(ui_runtime, user_id).active
    assert login(app.test_client(), f"leaver_{unique}", STRONG).status_code == 401


def test_reset_password_shows_a_new_one_that_works(client, app, ui_runtime, unique):
    user_id = new_user(ui_runtime, f"forgot_{unique}")
    response = client.post(f"/admin/users/{user_id}/password")
    password = shown_password(response.get_data(as_text=True))
    assert password_matches(stored(ui_runtime, user_id).password_hash, password)
    assert login(app.test_client(), f"forgot_{unique}", STRONG).status_code == 401
    assert login(app.test_client(), f"forgot_{unique}", password).status_code == 302


def test_reassign_shows_counts_then_moves_every_record_with_audit_rows(client, ui_runtime, make, unique):
    old_id, new_id = new_user(ui_runtime, f"from_{unique}"), new_user(ui_runtime, f"to_{unique}")
    accounts = [make("account", name=f"Moving {unique} {n}", owner_id=old_id)["id"] for n in range(3)]
    lead = make("lead", name=f"Moving lead {unique}", phone="13800000000")
    # The default CRM's lead intake assigns a new lead round the sales reps; give it to the old user after.
    ui_runtime.records().update("lead", lead["id"], {"owner_id": old_id})
    review = client.get(f"/admin/users/{old_id}/reassign?to={new_id}").get_data(as_text=True)
    assert re.search(r'data-entity="account">3<', review) and re.search(r'data-entity="lead">1<', review)
    done = client.post(f"/admin/users/{old_id}/reassign", data={"to": new_id}, follow_redirects=True)
    assert "4 records moved" in done.get_data(as_text=True)
    with ui_runtime.engine.connect() as conn:
        rows = conn.execute(sa.select(fw_audit.c.record_id, fw_audit.c.changes).where(
            fw_audit.c.entity == "account", fw_audit.c.action == "update", fw_audit.c.record_id.in_(accounts))).all()
    assert sorted(r.record_id for r in rows) == sorted(accounts)
    assert all(r.changes["owner_id"] == [old_id, new_id] for r in rows)


@pytest.mark.parametrize("path", ["/admin/", "/admin/users", "/admin/users/new", "/admin/departments", "/admin/roles",
                                  "/admin/roles/sales_rep", "/admin/access", "/admin/audit"])
def test_a_user_without_admin_rights_is_refused_on_admin_pages(rep_client, path):
    assert rep_client.get(path).status_code == 403


def test_a_user_without_admin_rights_cannot_create_users(rep_client, ui_runtime, unique):
    response = rep_client.post("/admin/users/new", data={"username": f"sneaky_{unique}", "display_name": "S",
                                                          "locale": "en", "timezone": "UTC"})
    assert response.status_code == 403
    with ui_runtime.engine.connect() as conn:
        assert conn.execute(sa.select(fw_user.c.id).where(fw_user.c.username == f"sneaky_{unique}")).first() is None


def test_the_users_right_alone_opens_user_pages_but_not_the_audit_log(app, ui_runtime, unique):
    with write_transaction(ui_runtime.engine) as conn:
        conn.execute(sa.insert(fw_role).values(name=f"hr_{unique}", app=None, label={"en": "HR"}))
        set_rights(conn, SYSTEM, f"hr_{unique}", ["users"])
    new_user(ui_runtime, f"hr_{unique}", roles=[f"hr_{unique}"])
    client = app.test_client()
    login(client, f"hr_{unique}", STRONG)
    assert [client.get(p).status_code for p in ("/admin/users", "/admin/departments", "/admin/roles")] == [200] * 3
    assert [client.get(p).status_code for p in ("/admin/audit", "/admin/")] == [403, 403]


def test_creating_a_user_without_a_csrf_token_is_refused(csrf_app, admin_password, unique):
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "admin", "password": admin_password, "csrf_token": token})
    response = client.post("/admin/users/new", data={"username": f"nocsrf_{unique}", "display_name": "x",
                                                     "locale": "en", "timezone": "UTC", "password_mode": "generate"})
    assert response.status_code == 400


@pytest.fixture
def user_manager(app, ui_runtime, unique):
    """A client logged in as a user whose only role holds the `users` admin right."""
    with write_transaction(ui_runtime.engine) as conn:
        conn.execute(sa.insert(fw_role).values(name=f"um_{unique}", app=None, label={"en": "User manager"}))
        set_rights(conn, SYSTEM, f"um_{unique}", ["users"])
    new_user(ui_runtime, f"um_{unique}", roles=[f"um_{unique}"])
    client = app.test_client()
    assert login(client, f"um_{unique}", STRONG).status_code == 302
    return client


def test_user_manager_resetting_the_administrators_password_is_refused(user_manager, ui_runtime, admin_actor,
                                                                       admin_password):
    response = user_manager.post(f"/admin/users/{admin_actor.id}/password")
    assert response.status_code == 403
    assert "only an administrator may change or make an administrator" in response.get_data(as_text=True)
    assert password_matches(stored(ui_runtime, admin_actor.id).password_hash, admin_password)


def test_user_manager_deactivating_the_administrator_is_refused(user_manager, ui_runtime, admin_actor):
    assert user_manager.post(f"/admin/users/{admin_actor.id}/deactivate").status_code == 403
    assert stored(ui_runtime, admin_actor.id).active


def test_user_manager_changing_the_administrators_email_is_refused_with_the_reason(user_manager, ui_runtime,
                                                                                   admin_actor):
    response = user_manager.post(f"/admin/users/{admin_actor.id}", data={
        "display_name": "Administrator", "email": "mallory@example.com", "department": "", "manager": "",
        "locale": "en", "timezone": "UTC"})
    assert response.status_code == 403
    assert "cannot change email of admin" in response.get_data(as_text=True)
    assert stored(ui_runtime, admin_actor.id).email != "mallory@example.com"
