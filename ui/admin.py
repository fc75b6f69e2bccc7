"""Administration pages: installed apps and their entities, users. Administrators only.

The builder for entities, fields, layouts and flows will live here too.
"""
from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from engine.views import all_users
from metamodel.model import label_text
from ui.context import locale, registry, runtime

admin_bp = Blueprint("admin", __name__, url_prefix="/admin")


@admin_bp.before_request
@login_required
def require_admin() -> None:
    if not current_user.is_admin:
        abort(403)


@admin_bp.route("/")
def index():
    lang = locale()
    reg = registry()
    apps = [{"name": app.name, "version": app.version, "label": label_text(app.label, lang),
             "entities": [(e.name, label_text(e.plural_label, lang), len(e.fields)) for e in app.entities.values()]}
            for app in reg.apps.values()]
    return render_template("admin/index.html", apps=apps, revision=reg.revision)


@admin_bp.route("/users")
def users():
    with runtime().engine.connect() as conn:
        found = all_users(conn)
    return render_template("admin/users.html", users=found)
