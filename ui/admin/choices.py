"""The people, departments and roles the admin forms offer, as (value, label) choices in the user's locale.

Role labels come from the installed apps' metadata; a role no app describes shows its name.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort
from flask_babel import gettext as _

from engine.security.org import Department, list_departments
from engine.security.permissions import role_names
from engine.security.users import UserInfo, list_users
from metamodel.model import Role, label_text
from ui.context import locale, registry, runtime

Choices = list[tuple[str, str]]


@dataclass(frozen=True)
class RoleSummary:
    name: str
    label: str
    description: str


def roles() -> list[RoleSummary]:
    """Every stored role with its label and description from app metadata, by label."""
    described = {role.name: role for app in registry().apps.values() for role in app.roles}
    with runtime().engine.connect() as conn:
        names = role_names(conn)
    return sorted((_summary(name, described.get(name)) for name in names), key=lambda r: r.label.lower())


def _summary(name: str, role: Role | None) -> RoleSummary:
    if role is None:
        return RoleSummary(name, name, "")
    lang = locale()
    return RoleSummary(name, label_text(role.label, lang) or name, label_text(role.description, lang) or "")


def role_choices() -> Choices:
    return [(r.name, r.label) for r in roles()]


def users() -> list[UserInfo]:
    with runtime().engine.connect() as conn:
        return list_users(conn)


def user_or_404(user_id: int) -> UserInfo:
    found = next((u for u in users() if u.id == user_id), None)
    if found is None:
        abort(404)
    return found


def user_choices(*, blank: str | None = None, active_only: bool = True, exclude: int | None = None) -> Choices:
    """Users as choices labelled "Display name (username)"; `blank` adds an empty first choice."""
    found = [(str(u.id), f"{u.display_name} ({u.username})") for u in users()
             if (u.active or not active_only) and u.id != exclude]
    return ([("", blank)] if blank is not None else []) + found


def departments() -> list[Department]:
    with runtime().engine.connect() as conn:
        return list_departments(conn)


def department_or_404(department_id: int) -> Department:
    found = next((d for d in departments() if d.id == department_id), None)
    if found is None:
        abort(404)
    return found


def department_choices(*, blank: str | None = None, exclude: frozenset[int] = frozenset()) -> Choices:
    """Departments in tree order, labelled by their path ("Sales / North")."""
    found = [(str(d.id), d.path) for d in departments() if d.id not in exclude]
    return ([("", blank)] if blank is not None else []) + found


def none_label() -> str:
    return _("— none —")
