"""The outbox (the `flows` right): every mail, webhook call and notification the worker delivers or
holds, with its recipients, status, attempts and last error; a held mail's text; retry of a row
that failed or is held."""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from engine.flows import outbox
from engine.flows.delivery import preview_mail
from engine.flows.mail import Mail, MailNotSendable
from engine.flows.outbox import OutboxRow
from engine.storage.db import write_transaction
from ui.admin import admin_bp, requires
from ui.context import runtime
from ui.records.localtime import local_text

SHOWN = 200
KINDS = {"email": _l("Mail"), "webhook": _l("Webhook"), "notification": _l("Notification")}
STATUSES = {"pending": _l("Pending"), "sending": _l("Sending"), "sent": _l("Sent"), "held": _l("On hold"),
            "failed": _l("Failed")}
RETRIABLE = ("failed", "held")


@dataclass(frozen=True)
class OutboxLine:
    id: int
    kind: str
    to: str                 # recipients, the URL, or the users notified
    subject: str
    status: str
    status_label: str
    attempts: int
    error: str
    created: str
    next_attempt: str
    sent: str
    flow: str
    retriable: bool


def outbox_line(row: OutboxRow) -> OutboxLine:
    payload, message = row.payload, row.message or {}
    return OutboxLine(
        row.id, str(KINDS.get(row.kind, row.kind)), _recipients(row), message.get("subject") or payload.get("subject")
        or (_("template %(name)s", name=payload["template"]) if payload.get("template") else ""),
        row.status, str(STATUSES.get(row.status, row.status)), row.attempts, row.last_error or "",
        local_text(row.created_at, seconds=True),
        local_text(row.next_attempt_at, seconds=True) if row.status == "pending" else "",
        local_text(row.sent_at, seconds=True), row.flow or "", row.status in RETRIABLE)


def _recipients(row: OutboxRow) -> str:
    payload = row.payload
    if row.kind == "webhook":
        return str(payload.get("url", ""))
    if row.kind == "notification":
        return ", ".join(r.get("username") or f"#{r.get('user_id')}" for r in payload.get("recipients", ()))
    return ", ".join([*payload.get("to", ()), *payload.get("cc", ())])


@admin_bp.route("/outbox")
@requires("flows")
def outbox_page():
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        status = None
    with runtime().engine.connect() as conn:
        rows = outbox.outbox_rows(conn, status=status, limit=SHOWN)
    return render_template("admin/outbox.html", lines=[outbox_line(r) for r in rows], shown=SHOWN,
                           statuses=STATUSES, status=status)


@admin_bp.route("/outbox/<int:row_id>")
@requires("flows")
def outbox_entry(row_id: int):
    rt = runtime()
    with rt.engine.connect() as conn:
        row = outbox.outbox_row(conn, row_id)
        if row is None:
            abort(404)
        mail, problem = _mail_of(rt, conn, row)
    return render_template("admin/outbox_entry.html", line=outbox_line(row), row=row, mail=mail, problem=problem)


def _mail_of(rt, conn, row: OutboxRow) -> tuple[Mail | None, str]:
    if row.kind != "email":
        return None, ""
    try:
        return preview_mail(rt, conn, row), ""
    except MailNotSendable as exc:
        return None, str(exc)


@admin_bp.route("/outbox/<int:row_id>/retry", methods=["POST"])
@requires("flows")
def retry_outbox_entry(row_id: int):
    rt = runtime()
    with write_transaction(rt.engine) as conn:
        retried = outbox.retry_row(conn, row_id, now=rt.clock())
    if retried:
        flash(_("Outbox entry %(id)s will be delivered again on the worker's next sweep.", id=row_id), "success")
    else:
        flash(_("Only a failed or held entry can be retried."), "warning")
    return redirect(url_for("admin.outbox_entry", row_id=row_id))
