"""Logging in and out, remember me, CSRF, open redirects, security headers."""
from __future__ import annotations

import re


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_login_page_asks_for_username_and_password(csrf_app):
    html = csrf_app.test_client().get("/login").get_data(as_text=True)
    assert 'name="username"' in html and 'name="password"' in html and 'name="csrf_token"' in html


def test_login_with_right_password_goes_to_the_app(admin_password, csrf_app):
    client = csrf_app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "admin", "password": admin_password, "csrf_token": token})
    assert response.status_code == 302
    assert client.get(response.location).status_code in (200, 302)


def test_login_failure_gives_one_generic_message_for_user_and_password(app):
    client = app.test_client()
    wrong_password = client.post("/login", data={"username": "admin", "password": "nope"})
    no_such_user = client.post("/login", data={"username": "nobody", "password": "nope"})
    assert wrong_password.status_code == no_such_user.status_code == 401
    for response in (wrong_password, no_such_user):
        assert "Wrong username or password." in response.get_data(as_text=True)


def test_post_without_csrf_token_is_refused(admin_password, csrf_app):
    client = csrf_app.test_client()
    response = client.post("/login", data={"username": "admin", "password": admin_password})
    assert response.status_code in (400, 401)
    assert client.get("/app/account").status_code == 302   # still not logged in


def test_state_changing_post_without_csrf_token_is_refused_when_logged_in(admin_password, csrf_app):
    client = csrf_app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "admin", "password": admin_password, "csrf_token": token})
    response = client.post("/app/account/new", data={"name": "No token Ltd"})
    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)


def test_pages_need_login_and_remember_where_to_go(app):
    response = app.test_client().get("/app/account?view=all")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


def test_next_after_login_must_be_a_local_path(admin_password, app):
    client = app.test_client()
    response = client.post("/login?next=https://evil.example/x", data={"username": "admin", "password": admin_password})
    assert response.status_code == 302
    assert "evil.example" not in response.location
    client2 = app.test_client()
    response = client2.post("/login?next=//evil.example/x", data={"username": "admin", "password": admin_password})
    assert "evil.example" not in response.location


def test_next_after_login_keeps_a_local_path(admin_password, app):
    response = app.test_client().post("/login?next=/app/contact", data={"username": "admin", "password": admin_password})
    assert response.location == "/app/contact"


def test_remember_me_sets_a_httponly_remember_cookie(admin_password, app):
    client = app.test_client()
    response = client.post("/login", data={"username": "admin", "password": admin_password, "remember": "y"})
    cookies = response.headers.getlist("Set-Cookie")
    remember = [c for c in cookies if c.startswith("fw_remember=")]
    assert remember and "HttpOnly" in remember[0]


def test_session_cookie_is_httponly_and_samesite_lax(admin_password, app):
    response = app.test_client().post("/login", data={"username": "admin", "password": admin_password})
    session_cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie


def test_logout_ends_the_session(client):
    assert client.post("/logout").status_code == 302
    assert client.get("/app/account").status_code == 302


def test_security_headers_forbid_inline_script_and_framing(client):
    response = client.get("/app/account")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_carry_no_inline_script(client):
    html = client.get("/app/opportunity/kanban").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " onclick=" not in html


def test_repeated_failures_throttle_the_account(app, ui_runtime, unique):
    from engine.security.users import create_user
    from engine.storage.db import write_transaction

    with write_transaction(ui_runtime.engine) as conn:
        create_user(conn, f"slow{unique}", password="right-password-1")
    client = app.test_client()
    for _ in range(5):
        assert client.post("/login", data={"username": f"slow{unique}", "password": "wrong"}).status_code == 401
    response = client.post("/login", data={"username": f"slow{unique}", "password": "right-password-1"})
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
