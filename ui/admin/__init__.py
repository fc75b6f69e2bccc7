"""Administration pages: apps, users, departments, roles, access explanations and the audit log.

Each page asks for one admin right (`Actor.has_right`); a user without it gets 403 on every admin URL.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Blueprint, abort, current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ui.context import actor

admin_bp = Blueprint("admin", __name__, url_prefix="/admin")


@admin_bp.before_request
@login_required
def require_login() -> None:
    return None


def requires(right: str) -> Callable:
    """Decorates a view so that only actors holding admin right `right` reach it (else 403)."""
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not actor().has_right(right):
                abort(403)
            return view(*args, **kwargs)
        return checked
    return decorate


@dataclass(frozen=True)
class AdminSection:
    endpoint: str
    label: str
    icon: str
    active: bool


PAGES = (  # endpoint, label, icon, right; a page's area is the module of its view
    ("admin.index", _l("Apps"), "apps", "metadata"),
    ("admin.users", _l("Users"), "users", "users"),
    ("admin.departments", _l("Departments"), "sitemap", "users"),
    ("admin.roles", _l("Roles"), "shield-lock", "users"),
    ("admin.access", _l("Why can they see it?"), "eye-question", "users"),
    ("admin.audit", _l("Audit log"), "history", "audit"),
    ("admin.flow_runs", _l("Automation runs"), "robot", "flows"),
    ("admin.outbox_page", _l("Outbox"), "mail-forward", "flows"),
)


def admin_sections() -> list[AdminSection]:
    """The admin pages the actor may open, for the tabs at the top of every admin page."""
    views = current_app.view_functions
    current = views[request.endpoint].__module__ if request.endpoint in views else ""
    return [AdminSection(endpoint, str(label), icon, views[endpoint].__module__ == current)
            for endpoint, label, icon, right in PAGES if actor().has_right(right)]


@admin_bp.app_context_processor
def admin_context() -> dict[str, Any]:
    """Every page knows the admin pages its user may open: the navigation lists them."""
    return {"admin_sections": admin_sections() if current_user.is_authenticated else []}


# Importing the page modules registers their routes on the blueprint.
from ui.admin import access, apps, audit, departments, flow_runs, outbox, roles, users  # noqa: E402, F401
