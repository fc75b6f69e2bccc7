"""The records area: lists, record pages, forms, kanban, calendar, exports, lookups and search.

Every page here needs a logged-in user; all reads and writes go through the engine's services.
"""
from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

records_bp = Blueprint("records", __name__)


@records_bp.before_request
@login_required
def require_login() -> None:
    return None


@records_bp.app_template_filter("localtime")
def localtime_filter(value, seconds: bool = False) -> str:
    """A datetime in the user's time zone, for templates."""
    from ui.records.localtime import local_text

    return local_text(value, seconds)


# Importing the view modules registers their routes on the blueprint.
from ui.records import boards, bulk, conversion, detail, editing, exports, files, lists, trash  # noqa: E402, F401
