"""Logging in and out with Flask-Login, "remember me", and each user's language.

A failed login says only that the username or password is wrong; `next` must be a local path.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired

from engine.authentication import authenticate
from engine.db import write_transaction
from engine.security import Actor
from engine.users import actor_for
from engine.views import UserProfile, set_user_locale, user_profile
from ui.context import runtime
from ui.i18n import LOCALES

auth_bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()


@dataclass(frozen=True)
class WebUser:
    """The logged-in user as Flask-Login sees it: their profile and the Actor services act for."""
    profile: UserProfile
    actor: Actor
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return str(self.profile.id)

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
def load_user(user_id: str) -> WebUser | None:
    if not user_id.isdigit():
        return None
    with runtime().engine.connect() as conn:
        profile = user_profile(conn, int(user_id))
        actor = actor_for(conn, int(user_id)) if profile else None
    return WebUser(profile, actor) if profile and actor else None


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
            login_user(user, remember=form.remember.data)
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
        result = authenticate(conn, username, password, request.remote_addr)
        profile = user_profile(conn, result.actor.id) if result.ok else None
    return (WebUser(profile, result.actor), "ok") if profile else (None, result.reason)


@auth_bp.route("/logout", methods=["GET", "POST"])
def logout():
    if request.method == "GET":   # logging out changes state: GET only asks, the POST carries CSRF
        return render_template("auth/logout.html")
    logout_user()
    return redirect(url_for("auth.login"))


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
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.session_protection = "basic"


__all__ = ["auth_bp", "init_app", "login_required", "safe_next"]
