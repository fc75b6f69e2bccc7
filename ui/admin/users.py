"""The users pages (the `users` right): list and search, create, edit, deactivate, reset a password
and hand every record of a departing user to another. A new password is shown once and never kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from engine.errors import FormworkError, PermissionDenied
from engine.security.authentication import unlock_account
from engine.security.ownership import reassign_records
from engine.security.sessions import end_sessions
from engine.security.users import (
    UserInfo,
    create_user,
    deactivate_user,
    generate_password,
    password_problems,
    set_password,
    set_roles,
    update_user,
)
from engine.storage.db import write_transaction
from metamodel.model import Condition, label_text
from ui.admin import admin_bp, choices, requires
from ui.context import actor, locale, registry, runtime
from ui.i18n import LOCALES
from ui.records.forms import MultiCheckboxField
from ui.records.localtime import local_text


def _valid_timezone(_form: FlaskForm, field: StringField) -> None:
    try:
        ZoneInfo(field.data.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("Not a time zone; use a name such as Asia/Shanghai or UTC.")) from None


class ProfileForm(FlaskForm):
    """What an administrator may change about a user (username and password have their own paths)."""
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=200)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254),
                                                 Regexp(r"^[^@\s]+@[^@\s]+$", message=_l("Enter an email address."))])
    department = SelectField(_l("Department"), validate_choice=True)
    manager = SelectField(_l("Manager"), validate_choice=True)
    roles = MultiCheckboxField(_l("Roles"))
    locale = SelectField(_l("Language"), choices=list(LOCALES.items()))
    timezone = StringField(_l("Time zone"), default="UTC", validators=[DataRequired(), _valid_timezone])
    is_admin = BooleanField(_l("Administrator (sees and may do everything)"))

    def offer_choices(self, exclude_user: int | None = None) -> None:
        self.department.choices = choices.department_choices(blank=choices.none_label())
        self.manager.choices = choices.user_choices(blank=choices.none_label(), exclude=exclude_user)
        self.roles.choices = choices.role_choices()
        if not actor().is_admin:   # only an administrator makes administrators
            del self.is_admin

    def profile_values(self) -> dict[str, object]:
        values: dict[str, object] = {
            "display_name": self.display_name.data.strip(), "email": (self.email.data or "").strip() or None,
            "department_id": _id_or_none(self.department.data), "manager_id": _id_or_none(self.manager.data),
            "locale": self.locale.data, "timezone": self.timezone.data.strip()}
        if "is_admin" in self:
            values["is_admin"] = bool(self.is_admin.data)
        return values


class NewUserForm(ProfileForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=63),
                                                       Regexp(r"^\S+$", message=_l("A username has no spaces."))])
    password_mode = RadioField(_l("Password"), default="generate", choices=[
        ("generate", _l("Generate one and show it once")), ("type", _l("Type one"))])
    password = PasswordField(_l("Password to set"), description=_l(
        "At least 10 characters, not the username, not only digits, not one character repeated, "
        "not a commonly used password."))


def _id_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@dataclass(frozen=True)
class UserFilter:
    q: str
    status: str     # active | inactive | all

    def admits(self, user: UserInfo) -> bool:
        if self.status == "active" and not user.active or self.status == "inactive" and user.active:
            return False
        text = self.q.lower()
        return not text or any(text in (value or "").lower() for value in
                               (user.username, user.display_name, user.email, user.department, *user.roles))


@admin_bp.route("/users")
@requires("users")
def users():
    wanted = UserFilter(request.args.get("q", "").strip(), request.args.get("status", "active"))
    everyone = choices.users()
    found = [u for u in everyone if wanted.admits(u)]
    return render_template("admin/users.html", users=found, filter=wanted,
                           role_labels=dict(choices.role_choices()), when=local_text,
                           names={u.username: u.display_name for u in everyone})


@admin_bp.route("/users/new", methods=["GET", "POST"])
@requires("users")
def new_user():
    form = NewUserForm()
    form.offer_choices()
    if form.validate_on_submit() and _password_acceptable(form):
        try:
            with write_transaction(runtime().engine) as conn:
                created = create_user(conn, form.username.data.strip(), password=_typed_password(form),
                                      roles=form.roles.data, actor=actor(), **form.profile_values())
        except PermissionDenied as exc:
            flash(str(exc), "danger")
            return render_template("admin/user_form.html", form=form, user=None), 403
        except FormworkError as exc:
            form.username.errors = [*form.username.errors, str(exc)]
        else:
            if form.password_mode.data == "type":
                flash(_("User %(name)s created.", name=created.username), "success")
                return redirect(url_for("admin.edit_user", user_id=created.id))
            return _password_once(created.id, created.username, created.password, new=True)
    return render_template("admin/user_form.html", form=form, user=None)


def _typed_password(form: NewUserForm) -> str | None:
    return form.password.data if form.password_mode.data == "type" else None


def _password_acceptable(form: NewUserForm) -> bool:
    """Checks a typed password against the policy; puts what is wrong on the password field."""
    if form.password_mode.data != "type":
        return True
    problems = password_problems(form.password.data or "", form.username.data.strip())
    form.password.errors = [*form.password.errors, *problems]
    return not problems


def _password_once(user_id: int, username: str, password: str, *, new: bool):
    response = make_response(render_template("admin/password_once.html", user_id=user_id, username=username,
                                             password=password, new=new))
    response.headers["Cache-Control"] = "no-store"   # the only place the password ever appears
    return response


@admin_bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires("users")
def edit_user(user_id: int):
    user = choices.user_or_404(user_id)
    form = ProfileForm(data=_profile_data(user)) if request.method == "GET" else ProfileForm()
    form.offer_choices(exclude_user=user.id)
    if form.validate_on_submit():
        try:
            with write_transaction(runtime().engine) as conn:
                update_user(conn, user.username, actor=actor(), **form.profile_values())
                set_roles(conn, user.username, form.roles.data, actor=actor())
        except PermissionDenied as exc:   # nothing of the save is kept
            flash(str(exc), "danger")
            return render_template("admin/user_form.html", form=form, user=user), 403
        except FormworkError as exc:
            flash(str(exc), "danger")
        else:
            flash(_("User %(name)s saved.", name=user.username), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/user_form.html", form=form, user=user)


def _profile_data(user: UserInfo) -> dict[str, object]:
    by_name = {d.name: str(d.id) for d in choices.departments()}
    managers = {u.username: str(u.id) for u in choices.users()}
    return {"display_name": user.display_name, "email": user.email or "",
            "department": by_name.get(user.department or "", ""), "manager": managers.get(user.manager or "", ""),
            "roles": list(user.roles), "locale": user.locale, "timezone": user.timezone, "is_admin": user.is_admin}


@admin_bp.route("/users/<int:user_id>/password", methods=["POST"])
@requires("users")
def reset_password(user_id: int):
    user = choices.user_or_404(user_id)
    password = generate_password()
    with write_transaction(runtime().engine) as conn:
        set_password(conn, user.username, password, actor=actor())
    return _password_once(user.id, user.username, password, new=False)


@admin_bp.route("/users/<int:user_id>/sessions/end", methods=["POST"])
@requires("users")
def end_user_sessions(user_id: int):
    user = choices.user_or_404(user_id)
    with write_transaction(runtime().engine) as conn:
        end_sessions(conn, user.id, "admin", actor=actor(), now=runtime().clock())
    flash(_("%(name)s has been logged out everywhere.", name=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@admin_bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@requires("users")
def unlock(user_id: int):
    user = choices.user_or_404(user_id)
    with write_transaction(runtime().engine) as conn:
        unlock_account(conn, user.username, actor=actor(), now=runtime().clock())
    flash(_("%(name)s may sign in again now.", name=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@admin_bp.route("/users/<int:user_id>/deactivate", methods=["GET", "POST"])
@requires("users")
def deactivate(user_id: int):
    user = choices.user_or_404(user_id)
    if user.id == actor().id:
        flash(_("You cannot deactivate yourself."), "warning")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    if request.method == "GET" or not user.active:
        return render_template("admin/deactivate.html", user=user)
    with write_transaction(runtime().engine) as conn:
        deactivate_user(conn, user.username, actor=actor())
    flash(_("%(name)s can no longer sign in; their API tokens are revoked.", name=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@dataclass(frozen=True)
class OwnedCount:
    entity: str
    label: str
    count: int


def owned_counts(user_id: int) -> list[OwnedCount]:
    """How many live records of each entity the user owns (what a reassignment would move)."""
    counter = runtime().query(registry=registry())   # the system's view: every record, whoever may read it
    lang = locale()
    found = []
    for name, entity in sorted(registry().entities.items()):
        count = counter.count(name, filters=[Condition("owner_id", "eq", user_id)])
        if count:
            found.append(OwnedCount(name, label_text(entity.plural_label, lang), count))
    return found


@admin_bp.route("/users/<int:user_id>/reassign", methods=["GET", "POST"])
@requires("users")
def reassign(user_id: int):
    user = choices.user_or_404(user_id)
    targets = choices.user_choices(exclude=user.id)
    target_id = request.values.get("to", "")
    target = choices.user_or_404(int(target_id)) if target_id.isdigit() else None
    if request.method == "POST" and target is not None:
        return _reassign(user, target)
    counts = owned_counts(user.id)
    return render_template("admin/reassign.html", user=user, targets=targets, target=target,
                           counts=counts, total=sum(c.count for c in counts))


def _reassign(user: UserInfo, target: UserInfo):
    try:
        moved = reassign_records(runtime(), user.username, target.username, actor=actor())
    except FormworkError as exc:
        flash(_("Nothing was moved: %(problem)s", problem=str(exc)), "danger")
        return redirect(url_for("admin.reassign", user_id=user.id, to=target.id))
    flash(_("%(count)d records moved from %(old)s to %(new)s.", count=sum(moved.values()),
            old=user.username, new=target.username), "success")
    return redirect(url_for("admin.reassign", user_id=user.id))
