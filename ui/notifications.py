"""The bell and the notification list: the unread count on every page, the latest in a dropdown,
every one on /notifications (paged), marking them read; each links to its record while readable.

A notification stays the user's own: another user's id is a 404 whatever is asked of it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from engine.errors import FormworkError
from engine.flows.notifications import Notification, latest, mark_read, notification, unread_count
from engine.storage.db import write_transaction
from metamodel.model import entity_label
from ui.auth import safe_next
from ui.context import actor, locale, query, registry, runtime
from ui.records.localtime import local_text

notifications_bp = Blueprint("notifications", __name__, url_prefix="/notifications")
PAGE_SIZE = 25
MENU_SIZE = 8


@notifications_bp.before_request
@login_required
def require_login() -> None:
    return None


@dataclass(frozen=True)
class NotificationLine:
    """One notification as the lists show it."""
    id: int
    title: str
    message: str
    at: str
    unread: bool
    record: str              # "Lead · Wang"; "" when it names no record the user may read
    href: str | None         # opens it (marked read) at its record; None without a readable record


def unread_notifications() -> int:
    """The signed-in user's unread count for the bell: one indexed query, made once per request
    and only when a page shows the bell (fragments do not)."""
    if "fw_unread_notifications" not in g:
        with runtime().engine.connect() as conn:
            g.fw_unread_notifications = unread_count(conn, actor().id)
    return g.fw_unread_notifications


@notifications_bp.app_context_processor
def bell_context() -> dict[str, Any]:
    # Pages of signed-out visitors show no bell; the zero keeps a shared template from failing.
    return {"unread_notifications": unread_notifications if current_user.is_authenticated else lambda: 0}


def readable_titles(notes: Sequence[Notification]) -> dict[tuple[str, int], str]:
    """(entity, record id) -> "Entity · title" of the records named by `notes` that the user may
    still read: one scoped query per entity named."""
    wanted: dict[str, set[int]] = {}
    for note in notes:
        if note.entity in registry().entities and note.record_id is not None:
            wanted.setdefault(note.entity, set()).add(note.record_id)
    found: dict[tuple[str, int], str] = {}
    for entity, ids in wanted.items():
        try:
            titles = query().titles(entity, sorted(ids))
        except FormworkError:   # no read grant on the entity at all: no links to it
            continue
        label = entity_label(registry().entity(entity), locale())
        found.update({(entity, record_id): f"{label} · {title}" for record_id, title in titles.items()})
    return found


def notification_lines(notes: Sequence[Notification]) -> list[NotificationLine]:
    titles = readable_titles(notes)
    lines = []
    for note in notes:
        record = titles.get((note.entity or "", note.record_id or 0), "")
        lines.append(NotificationLine(note.id, note.title or "", note.message, local_text(note.created_at),
                                      note.read_at is None, record,
                                      url_for("notifications.open_notification", notification_id=note.id)
                                      if record else None))
    return lines


def _latest(limit: int, before_id: int | None = None) -> list[Notification]:
    with runtime().engine.connect() as conn:
        return latest(conn, actor().id, limit=limit, before_id=before_id)


@notifications_bp.route("")
def notifications():
    """Every notification of the user, the newest first, PAGE_SIZE at a time (`before` pages on)."""
    before = request.args.get("before", type=int)
    notes = _latest(PAGE_SIZE + 1, before)
    older = notes[PAGE_SIZE - 1].id if len(notes) > PAGE_SIZE else None
    return render_template("notifications/list.html", lines=notification_lines(notes[:PAGE_SIZE]),
                           older=older, paged=before is not None)


@notifications_bp.route("/menu")
def menu():
    """The bell's dropdown, fetched by htmx when it opens: the latest few and the unread count."""
    return render_template("notifications/_menu.html", lines=notification_lines(_latest(MENU_SIZE)),
                           unread=unread_notifications(), back=_page_of_bell())


def _page_of_bell() -> str | None:
    """The path of the page whose bell asked for the dropdown (htmx says), to come back to."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    if current.netloc and current.netloc != request.host:
        return None
    return f"{current.path}?{current.query}" if current.query else current.path or None


@notifications_bp.route("/<int:notification_id>/open")
def open_notification(notification_id: int) -> Response:
    """Marks the notification read and goes to its record; to the list when the record cannot be
    read (any more)."""
    note = _own(notification_id)
    _mark([note.id])
    if not readable_titles([note]):
        flash(_("The record of that notification is no longer open to you."), "warning")
        return redirect(url_for("notifications.notifications"))
    return redirect(url_for("records.show", entity=note.entity, record_id=note.record_id))


@notifications_bp.route("/<int:notification_id>/read", methods=["POST"])
def read(notification_id: int) -> Response:
    _mark([_own(notification_id).id])
    return _back()


@notifications_bp.route("/read-all", methods=["POST"])
def read_all() -> Response:
    _mark(None)
    flash(_("All your notifications are marked read."), "success")
    return _back()


def _back() -> Response:
    """Back to the page the form was on (`next`, a local path), else to the list."""
    target = request.form.get("next")
    return redirect(safe_next(target) if target else url_for("notifications.notifications"))


def _own(notification_id: int) -> Notification:
    with runtime().engine.connect() as conn:
        note = notification(conn, actor().id, notification_id)
    if note is None:
        abort(404)
    return note


def _mark(ids: list[int] | None) -> None:
    with write_transaction(runtime().engine) as conn:
        mark_read(conn, actor().id, ids, now=runtime().clock())
