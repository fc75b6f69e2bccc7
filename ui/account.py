"""The user's own account page: change their password, choose whether notifications come by
email too, and log out of every browser.

Reached from the user menu; changing the password keeps this browser signed in and ends the rest.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField
from wtforms.validators import DataRequired, EqualTo

from engine.data.views import set_notify_by_email
from engine.errors import FormworkError
from engine.security.authentication import current_password_matches
from engine.security.users import set_password
from engine.storage.db import write_transaction
from ui.auth import end_all_sessions, forget_remember_cookie, sign_in_again
from ui.context import actor, runtime

account_bp = Blueprint("account", __name__, url_prefix="/account")
PASSWORD_RULES = _l("At least 10 characters, not the username, not only digits, not one character repeated, "
                    "not a commonly used password.")


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired()], description=PASSWORD_RULES)
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(), EqualTo("new", message=_l("The two new passwords differ."))])


class NotificationsForm(FlaskForm):
    by_email = BooleanField(_l("Also send my notifications by email"))


@account_bp.route("", methods=["GET", "POST"])
@login_required
def account():
    form = PasswordForm()
    if form.validate_on_submit() and _current_password_right(form) and _new_password_set(form):
        sign_in_again(current_user.profile.id)
        flash(_("Password changed. Every other browser signed in as you has been logged out."), "success")
        return redirect(url_for("account.account"))
    notifications = NotificationsForm(by_email=current_user.profile.notify_by_email)
    return render_template("account/account.html", form=form, notifications=notifications), \
        400 if form.errors else 200


@account_bp.route("/notifications", methods=["POST"])
@login_required
def notification_settings():
    """Saves whether the user's notifications also come by email (CSRF checked by the form)."""
    form = NotificationsForm()
    if form.validate_on_submit():
        with write_transaction(runtime().engine) as conn:
            set_notify_by_email(conn, current_user.profile.id, form.by_email.data)
        flash(_("Your notifications will also come by email.") if form.by_email.data
              else _("Your notifications will no longer come by email."), "success")
    return redirect(url_for("account.account"))


@account_bp.route("/sessions/end", methods=["POST"])
@login_required
def end_my_sessions():
    end_all_sessions(current_user.profile.id, "logout_everywhere")
    logout_user()
    forget_remember_cookie()
    flash(_("You have been logged out everywhere."), "success")
    return redirect(url_for("auth.login"))


def _current_password_right(form: PasswordForm) -> bool:
    # Its own transaction: a wrong answer must be counted even though nothing else is written.
    with write_transaction(runtime().engine) as conn:
        right = current_password_matches(conn, actor(), form.current.data, now=runtime().clock())
    if not right:
        form.current.errors = [*form.current.errors, _(
            "That is not your current password (or there were too many wrong tries; wait a few minutes).")]
    return right


def _new_password_set(form: PasswordForm) -> bool:
    try:
        with write_transaction(runtime().engine) as conn:
            set_password(conn, actor().username, form.new.data, actor=actor(), now=runtime().clock())
    except FormworkError as exc:
        form.new.errors = [*form.new.errors, str(exc)]
        return False
    return True
