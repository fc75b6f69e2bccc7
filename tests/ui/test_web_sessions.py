"""Sessions that end when they should: logout, password changes, deactivation, role changes,
remember-me tokens, the account page, and throttling, cookies and HSTS as a browser sees them."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from engine.security.users import create_user, deactivate_user, reactivate_user, set_password, set_roles
from engine.storage.db import fw_user, write_transaction
from tests.ui.conftest import _app, login

PASSWORD = "plum tree in spring"
PAGE = "/app/account"


@pytest.fixture
def person(ui_runtime, unique) -> str:
    """A new user of their own (sessions of the shared admin must not end under other tests)."""
    name = f"sess_{unique}"
    with write_transaction(ui_runtime.engine) as conn:
        create_user(conn, name, password=PASSWORD, roles=["sales_rep"])
    return name


def signed_in(app, username: str, *, remember: bool = False):
    client = app.test_client()
    data = {"username": username, "password": PASSWORD, **({"remember": "y"} if remember else {})}
    assert client.post("/login", data=data).status_code == 302
    return client


def copy_of(app, client, *names: str):
    """A second browser holding copies of `client`'s cookies `names`, as a thief would."""
    thief = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        assert cookie is not None, f"the browser holds no {name} cookie to copy"
        thief.set_cookie(name, cookie.value)
    return thief


def loads_page(client) -> bool:
    return client.get(PAGE).status_code == 200


def test_session_cookie_copied_before_logout_no_longer_loads_a_page(app, person):
    client = signed_in(app, person)
    thief = copy_of(app, client, "session")
    assert loads_page(thief)
    client.post("/logout")
    assert not loads_page(thief)


def test_remember_cookie_signs_a_new_browser_in(app, person):
    client = signed_in(app, person, remember=True)
    assert loads_page(copy_of(app, client, "fw_remember"))


def test_remember_token_after_logout_is_refused(app, person):
    client = signed_in(app, person, remember=True)
    thief = copy_of(app, client, "fw_remember")
    client.post("/logout")
    assert not loads_page(thief)


def test_two_logins_get_different_remember_tokens(app, person):
    first = signed_in(app, person, remember=True).get_cookie("fw_remember").value
    second = signed_in(app, person, remember=True).get_cookie("fw_remember").value
    assert first != second


def test_session_from_before_a_password_change_is_refused(app, ui_runtime, person):
    client = signed_in(app, person, remember=True)
    remembered = copy_of(app, client, "fw_remember")
    with write_transaction(ui_runtime.engine) as conn:
        set_password(conn, person, "another good passphrase")
    assert not loads_page(client)
    assert not loads_page(remembered)


def test_deactivation_ends_sessions_for_good_even_after_reactivation(app, ui_runtime, person):
    client = signed_in(app, person)
    with write_transaction(ui_runtime.engine) as conn:
        deactivate_user(conn, person)
    assert not loads_page(client)
    with write_transaction(ui_runtime.engine) as conn:
        reactivate_user(conn, person)
    assert not loads_page(client)


def test_role_change_ends_sessions(app, ui_runtime, person):
    client = signed_in(app, person)
    with write_transaction(ui_runtime.engine) as conn:
        set_roles(conn, person, [])
    assert not loads_page(client)


def test_log_out_everywhere_on_the_account_page_ends_every_browser(app, person):
    here, elsewhere = signed_in(app, person), signed_in(app, person, remember=True)
    remembered = copy_of(app, elsewhere, "fw_remember")
    assert "Log out everywhere" in here.get("/account").get_data(as_text=True)
    assert here.post("/account/sessions/end").status_code == 302
    assert not loads_page(here) and not loads_page(elsewhere)
    assert not loads_page(remembered)


def test_user_menu_links_to_the_account_page(app, person):
    assert 'href="/account"' in signed_in(app, person).get(PAGE).get_data(as_text=True)


def test_admin_logs_a_user_out_everywhere_from_their_page(client, app, ui_runtime, person):
    victim = signed_in(app, person)
    with ui_runtime.engine.connect() as conn:
        user_id = conn.execute(sa.select(fw_user.c.id).where(fw_user.c.username == person)).scalar_one()
    assert "Log out everywhere" in client.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert client.post(f"/admin/users/{user_id}/sessions/end").status_code == 302
    assert not loads_page(victim)
    assert loads_page(client)


def change_password(client, current: str, new: str):
    return client.post("/account", data={"current": current, "new": new, "confirm": new})


def test_changing_ones_password_keeps_this_browser_and_ends_the_others(app, person):
    here, elsewhere = signed_in(app, person), signed_in(app, person)
    assert change_password(here, PASSWORD, "another good passphrase").status_code == 302
    assert loads_page(here)
    assert not loads_page(elsewhere)


def test_a_common_new_password_is_refused_with_the_reason(app, person):
    client = signed_in(app, person)
    response = change_password(client, PASSWORD, "password123")
    assert response.status_code == 400
    assert "commonly used passwords" in response.get_data(as_text=True)
    assert login(app.test_client(), person, PASSWORD).status_code == 302   # unchanged


def test_a_wrong_current_password_changes_nothing(app, person):
    client = signed_in(app, person)
    response = change_password(client, "not the password", "another good passphrase")
    assert response.status_code == 400 and "not your current password" in response.get_data(as_text=True)
    assert login(app.test_client(), person, PASSWORD).status_code == 302


# -- throttling behind a proxy -------------------------------------------------------------------
@pytest.fixture(scope="module")
def proxied_app(ui_runtime, ui_database_url, instance_path):
    """The app behind one trusted reverse proxy that sets X-Forwarded-For."""
    return _app(ui_database_url, instance_path, WTF_CSRF_ENABLED=False, TRUSTED_PROXIES=1)


def login_from(app, address: str, username: str, password: str):
    return app.test_client().post("/login", data={"username": username, "password": password},
                                  headers={"X-Forwarded-For": address})


def test_one_address_behind_the_trusted_proxy_does_not_lock_other_users(proxied_app, person, unique):
    for n in range(25):
        login_from(proxied_app, "203.0.113.7", f"spray{n}_{unique}", "guess")
    assert login_from(proxied_app, "203.0.113.7", person, PASSWORD).status_code == 429
    assert login_from(proxied_app, "198.51.100.8", person, PASSWORD).status_code == 302


def alerts(response) -> tuple[str, ...]:
    return tuple(re.findall(r'role="alert">([^<]*)<', response.get_data(as_text=True)))


def test_a_locked_account_says_the_same_as_a_locked_unknown_name_and_an_admin_unlocks_it(
        client, app, ui_runtime, person, unique):
    answers = {}
    for name in (person, f"nobody_{unique}"):
        for _ in range(5):
            login(app.test_client(), name, "wrong password")
        answers[name] = login(app.test_client(), name, PASSWORD)
    assert {r.status_code for r in answers.values()} == {429}
    assert all(alerts(r) for r in answers.values()) and len({alerts(r) for r in answers.values()}) == 1
    with ui_runtime.engine.connect() as conn:
        user_id = conn.execute(sa.select(fw_user.c.id).where(fw_user.c.username == person)).scalar_one()
    assert client.post(f"/admin/users/{user_id}/unlock").status_code == 302
    assert login(app.test_client(), person, PASSWORD).status_code == 302


# -- cookies and HSTS ------------------------------------------------------------------------------
def cookie_headers(response, name: str) -> list[str]:
    return [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]


def remembered_login(app, person, **environ):
    return app.test_client().post("/login", data={"username": person, "password": PASSWORD, "remember": "y"},
                                  **environ)


def test_secure_cookies_setting_marks_both_cookies_secure_and_sends_hsts(ui_database_url, instance_path, person):
    app = _app(ui_database_url, instance_path, WTF_CSRF_ENABLED=False, SECURE_COOKIES=True)
    response = remembered_login(app, person)
    session_cookie, remember_cookie = cookie_headers(response, "session"), cookie_headers(response, "fw_remember")
    assert session_cookie and remember_cookie
    assert all("Secure" in c for c in session_cookie + remember_cookie)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_by_default_cookies_are_secure_over_https_and_not_over_plain_http(app, person):
    def secure_everywhere(response) -> bool:
        both = cookie_headers(response, "session") + cookie_headers(response, "fw_remember")
        return len(both) == 2 and all("Secure" in c for c in both)

    plain = remembered_login(app, person)
    assert not any("Secure" in c for c in plain.headers.getlist("Set-Cookie"))
    assert "Strict-Transport-Security" not in plain.headers
    https = remembered_login(app, person, base_url="https://crm.example")
    assert secure_everywhere(https) and "Strict-Transport-Security" in https.headers
