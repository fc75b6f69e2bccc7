"""Logging in and out with Flask-Login, "remember me", and each user's language.

A failed login says only that the username or password is wrong; `next` must be a local path.
The session names its user with a `SessionKey` (id and session generation), checked against the
database on every request; "remember me" is a random token per login (engine.security.sessions), never
Flask-Login's own cookie, so logging out, a password change or deactivation ends both.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.engine import Connection
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired

from engine.data.views import UserProfile, set_user_locale, user_profile
from engine.security.actors import Actor
from engine.security.authentication import authenticate
from engine.security.sessions import (
    SessionKey,
    current_key,
    end_sessions,
    issue_remember_token,
    redeem_remember_token,
    revoke_remember_token,
    session_valid,
)
from engine.security.users import actor_for
from engine.storage.db import write_transaction
from ui.context import runtime
from ui.headers import cookies_secure
from ui.i18n import LOCALES

REMEMBER_COOKIE = "fw_remember"
auth_bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()


@dataclass(frozen=True)
class WebUser:
    """The logged-in user as Flask-Login sees it: their profile, the Actor services act for and the
    key of their session (what the session cookie stores)."""
    profile: UserProfile
    actor: Actor
    key: SessionKey
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return str(self.key)

    @property
    def locale(self) -> str:
        return self.profile.locale

    @property
    def display_name(self) -> str:
        return self.profile.display_name

    @property
    def is_admin(self) -> bool:
        return self.profile.is_admin


@login_manager.user_loader
def load_user(session_id: str) -> WebUser | None:
    """Returns the user a session names while its key is current; None ends the session."""
    key = SessionKey.parse(session_id)
    if key is None:
        return None
    with runtime().engine.connect() as conn:
        return web_user(conn, key)


def web_user(conn: Connection, key: SessionKey) -> WebUser | None:
    """Returns the WebUser of a session key that is still valid, else None."""
    if not session_valid(conn, key):
        return None
    profile = user_profile(conn, key.user_id)
    actor = actor_for(conn, key.user_id) if profile else None
    return WebUser(profile, actor, key) if profile and actor else None


def sign_in_again(user_id: int) -> None:
    """Starts a new session for the logged-in user after their sessions were ended on purpose
    (their own password change): this browser stays signed in, every other one is out."""
    with runtime().engine.connect() as conn:
        key = current_key(conn, user_id)
        user = web_user(conn, key) if key else None
    if user is not None:
        login_user(user)
    forget_remember_cookie()


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Remember me"))


def safe_next(target: str | None) -> str:
    """Returns `target` when it is a path on this site, else the home page (no open redirect)."""
    if not target:
        return url_for("records.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return url_for("records.home")
    return target


@auth_bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    failed = ""
    if form.validate_on_submit():
        user, reason = _authenticate(form.username.data.strip(), form.password.data)
        if user is not None:
            login_user(user)
            if form.remember.data:
                _remember(user.key)
            session["locale"] = user.locale
            return redirect(safe_next(request.args.get("next")))
        failed = reason
    elif request.method == "POST" and not form.errors.get("csrf_token"):
        failed = "invalid"
    status = 429 if failed == "throttled" else 401 if failed else 200
    return render_template("auth/login.html", form=form, failed=failed), status


def _authenticate(username: str, password: str) -> tuple[WebUser | None, str]:
    """Returns the user and "ok", or None and why ("invalid" or "throttled"); the engine audits it."""
    with write_transaction(runtime().engine) as conn:
        result = authenticate(conn, username, password, request.remote_addr, runtime().clock())
        key = current_key(conn, result.actor.id) if result.ok else None
        user = web_user(conn, key) if key else None
    return (user, "ok") if user else (None, result.reason)


# -- remember me ---------------------------------------------------------------------------------
def _remember(key: SessionKey) -> None:
    lifetime = timedelta(days=current_app.config["REMEMBER_DAYS"])
    with write_transaction(runtime().engine) as conn:
        g.fw_remember_token = issue_remember_token(conn, key, lifetime=lifetime, now=runtime().clock())


def forget_remember_cookie() -> None:
    """Removes this browser's remember-me cookie with the response."""
    g.fw_remember_token = ""


def _sign_in_from_remember_cookie() -> None:
    # Before every view: a browser without a live session but with a valid remember-me token
    # gets a new (not fresh) session; an invalid token's cookie is removed so it is asked once.
    token = request.cookies.get(REMEMBER_COOKIE)
    if not token or request.endpoint == "static" or current_user.is_authenticated:
        return
    with write_transaction(runtime().engine) as conn:
        key = redeem_remember_token(conn, token, now=runtime().clock())
        user = web_user(conn, key) if key else None
    if user is None:
        forget_remember_cookie()
        return
    login_user(user, fresh=False)
    session["locale"] = user.locale


def _write_remember_cookie(response: Response) -> Response:
    token = g.get("fw_remember_token")
    if token is None:
        return response
    if not token:
        response.delete_cookie(REMEMBER_COOKIE, httponly=True, samesite="Lax", secure=cookies_secure())
        return response
    response.set_cookie(REMEMBER_COOKIE, token, max_age=int(timedelta(days=current_app.config["REMEMBER_DAYS"])
                                                            .total_seconds()),
                        httponly=True, samesite="Lax", secure=cookies_secure())
    return response


# -- logging out -----------------------------------------------------------------------------------
@auth_bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Ends the user's sessions on the server (every browser of theirs) and this browser's cookies."""
    if request.method == "GET":   # logging out changes state: GET only asks, the POST carries CSRF
        return render_template("auth/logout.html")
    if current_user.is_authenticated:
        end_all_sessions(current_user.profile.id, "logout")
    token = request.cookies.get(REMEMBER_COOKIE)
    if token:
        with write_transaction(runtime().engine) as conn:
            revoke_remember_token(conn, token, now=runtime().clock())
    logout_user()
    forget_remember_cookie()
    return redirect(url_for("auth.login"))


def end_all_sessions(user_id: int, reason: str) -> None:
    """Ends every session and remember-me token of a user, as the logged-in user."""
    with write_transaction(runtime().engine) as conn:
        end_sessions(conn, user_id, reason, actor=current_user.actor, now=runtime().clock())


@auth_bp.route("/locale", methods=["POST"])
def change_locale():
    chosen = request.form.get("locale", "")
    if chosen not in LOCALES:
        abort(400)
    session["locale"] = chosen
    if current_user.is_authenticated:
        with write_transaction(runtime().engine) as conn:
            set_user_locale(conn, current_user.profile.id, chosen)
    return redirect(safe_next(request.form.get("next")))


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    login_manager.init_app(app)
    app.before_request(_sign_in_from_remember_cookie)
    app.after_request(_write_remember_cookie)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.session_protection = "basic"


__all__ = ["auth_bp", "init_app", "login_required", "safe_next"]
