"""The installed apps and their entities, with the metadata revision (the `metadata` right)."""
from __future__ import annotations

from flask import render_template

from metamodel.model import label_text
from ui.admin import admin_bp, requires
from ui.context import locale, registry


@admin_bp.route("/")
@requires("metadata")
def index():
    lang = locale()
    reg = registry()
    apps = [{"name": app.name, "version": app.version, "label": label_text(app.label, lang),
             "entities": [(e.name, label_text(e.plural_label, lang), len(e.fields)) for e in app.entities.values()]}
            for app in reg.apps.values()]
    return render_template("admin/index.html", apps=apps, revision=reg.revision)
