"""Delivering the outbox: each committed row claimed by one worker, delivered, and marked.

In-app notifications are written in the claim's own transaction, so they are delivered exactly
once. Mail and webhook calls leave the database: the claim commits first, the call is made, and
the outcome is marked by the claim's holder; a worker that dies in between leaves the row claimed
until its lease runs out, and the next sweep delivers it then (the mail's Message-ID and the
webhook's delivery header stay the same, so a receiver can drop the copy a crash after sending
but before marking would make).
"""
from __future__ import annotations

import smtplib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from engine.config import Config, ConfigError, load_config
from engine.flows import outbox
from engine.flows.mail import Mail, MailNotSendable, mail_of, send_mail, smtp_server
from engine.flows.notifications import NewNotification, notify
from engine.flows.outbox import OutboxRow
from engine.flows.webhooks import WebhookFailed, post, webhook_call
from engine.storage.db import write_transaction

DEFAULT_SENDER = "Formwork <formwork@localhost>"


@dataclass(frozen=True)
class DeliverySettings:
    """Where rows go: the SMTP server (None: mail is held), the From address, webhook secrets."""
    smtp_url: str | None = None
    sender: str = DEFAULT_SENDER
    webhook_secrets: Mapping[str, str] = field(default_factory=dict)
    lease: timedelta = outbox.LEASE
    timeout_seconds: float = 10.0

    @classmethod
    def from_config(cls, config: Config) -> DeliverySettings:
        return cls(config.smtp_url, config.mail_from or DEFAULT_SENDER, dict(config.webhook_secrets))

    def webhook_secret(self, name: str) -> str | None:
        return self.webhook_secrets.get(name.lower())


@dataclass
class DeliveryResult:
    sent: int = 0
    held: int = 0
    retried: int = 0        # failed this time, tried again later
    failed: int = 0         # failed for good
    taken: int = 0          # claimed by another worker first
    errors: list[str] = field(default_factory=list)

    def count(self, status: str) -> None:
        """Counts one row by the status `deliver` left it in ("pending" is a retry)."""
        name = "retried" if status == "pending" else status
        setattr(self, name, getattr(self, name) + 1)


class _Retry(Exception):
    """This attempt failed; the row is tried again after its backoff (or fails after the last)."""


class _Permanent(Exception):
    """The row can never be delivered as it is: failed at once."""


@dataclass(frozen=True)
class _Outcome:
    status: str                                  # sent or held
    message: Mapping[str, Any] | None = None
    reason: str | None = None


def settings_of(runtime: Any) -> DeliverySettings:
    return DeliverySettings.from_config(runtime.config or load_config())


def deliver_due(runtime: Any, *, now: datetime | None = None, settings: DeliverySettings | None = None,
                limit: int = 100) -> DeliveryResult:
    """Delivers up to `limit` claimable outbox rows, oldest first; returns what happened."""
    now = now or runtime.clock()
    settings = settings or settings_of(runtime)
    result = DeliveryResult()
    with runtime.engine.connect() as conn:
        ids = outbox.due_ids(conn, now, lease=settings.lease, limit=limit)
    for row_id in ids:
        status, error = deliver(runtime, row_id, now=now, settings=settings)
        result.count(status)
        if error:
            result.errors.append(f"outbox {row_id}: {error}")
    return result


def deliver(runtime: Any, row_id: int, *, now: datetime, settings: DeliverySettings) -> tuple[str, str | None]:
    """Claims and delivers one row; returns its new status ("sent", "held", "pending" to retry,
    "failed", or "taken" when another worker has it) and the error of a failed attempt."""
    token = uuid.uuid4().hex
    if _kind_of(runtime, row_id) == "notification":
        return _deliver_notification(runtime, row_id, token, now=now, settings=settings)
    with write_transaction(runtime.engine) as conn:
        row = outbox.claim(conn, row_id, token, now=now, lease=settings.lease)
    if row is None:
        return "taken", None
    try:
        outcome = _SENDERS.get(row.kind, _unknown_kind)(runtime, row, settings, now)
    except (_Retry, _Permanent) as exc:
        return _failed(runtime, row, token, str(exc), now=now, retry=isinstance(exc, _Retry))
    except Exception as exc:   # noqa: BLE001 - a fault of this row must not stop the sweep's others
        return _failed(runtime, row, token, f"{type(exc).__name__}: {exc}", now=now, retry=True)
    with write_transaction(runtime.engine) as conn:
        if outcome.status == "held":
            outbox.mark_held(conn, row.id, token, reason=outcome.reason or "", message=outcome.message)
        else:
            outbox.mark_sent(conn, row.id, token, now=now, message=outcome.message)
    return outcome.status, None


def _failed(runtime: Any, row: OutboxRow, token: str, error: str, *, now: datetime,
            retry: bool) -> tuple[str, str | None]:
    with write_transaction(runtime.engine) as conn:
        return outbox.mark_failed(conn, row, token, error, now=now, retry=retry), error


def _kind_of(runtime: Any, row_id: int) -> str | None:
    with runtime.engine.connect() as conn:
        row = outbox.outbox_row(conn, row_id)
    return row.kind if row else None


def _deliver_notification(runtime: Any, row_id: int, token: str, *, now: datetime,
                          settings: DeliverySettings) -> tuple[str, str | None]:
    # Claim, write and mark in one transaction: the notifications commit with the row's "sent".
    try:
        with write_transaction(runtime.engine) as conn:
            row = outbox.claim(conn, row_id, token, now=now, lease=settings.lease)
            if row is None:
                return "taken", None
            notify(conn, notifications_of(row), now=now)
            outbox.mark_sent(conn, row.id, token, now=now)
        return "sent", None
    except Exception as exc:   # noqa: BLE001 - any failure is the row's, recorded on it
        error = f"{type(exc).__name__}: {exc}"
        with write_transaction(runtime.engine) as conn:
            row = outbox.claim(conn, row_id, token, now=now, lease=settings.lease)
            status = outbox.mark_failed(conn, row, token, error, now=now) if row else "taken"
        return status, error


def notifications_of(row: OutboxRow) -> list[NewNotification]:
    """The in-app notifications a notify action queued: one per recipient, in their language."""
    payload = row.payload
    return [NewNotification(r["user_id"], r.get("message") or "", r.get("title"), payload.get("entity"),
                            payload.get("record_id"), payload.get("flow") or row.flow)
            for r in payload.get("recipients", ())]


# -- senders: what leaves the database, outside any transaction ---------------------------------
def _send_email(runtime: Any, row: OutboxRow, settings: DeliverySettings, now: datetime) -> _Outcome:
    try:
        with runtime.engine.connect() as conn:
            mail = mail_of(runtime, conn, row.payload)
    except MailNotSendable as exc:
        raise _Permanent(str(exc)) from None
    if settings.smtp_url is None:
        return _Outcome("held", mail.as_json(), "no SMTP server is configured (set FORMWORK_SMTP_URL)")
    try:
        server = smtp_server(settings.smtp_url)
    except ConfigError as exc:
        raise _Retry(str(exc)) from None
    try:
        send_mail(server, mail, sender=settings.sender, message_id=message_id(row), timeout=settings.timeout_seconds)
    except smtplib.SMTPRecipientsRefused as exc:
        raise _Retry(f"{server} refused every recipient: {_refusals(exc.recipients)}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise _Retry(f"{server}: {_smtp_reason(exc)}") from None
    return _Outcome("sent", mail.as_json())


def message_id(row: OutboxRow) -> str:
    return f"<outbox-{row.id}-{row.created_at:%Y%m%d%H%M%S}@formwork>"


def _refusals(recipients: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{address}: {code} {reason.decode(errors='replace')}"
                     for address, (code, reason) in recipients.items())


def _smtp_reason(exc: Exception) -> str:
    code, text = getattr(exc, "smtp_code", None), getattr(exc, "smtp_error", None)
    if code is not None:
        text = text.decode(errors="replace") if isinstance(text, bytes) else text
        return f"{code} {text}"
    return f"{type(exc).__name__}: {exc}"


def _call_webhook(runtime: Any, row: OutboxRow, settings: DeliverySettings, now: datetime) -> _Outcome:
    secret_name = row.payload.get("secret")
    secret = settings.webhook_secret(secret_name) if secret_name else None
    if secret_name and secret is None:
        raise _Retry(f"the webhook secret {secret_name!r} is not set: set "
                     f"FORMWORK_WEBHOOK_SECRET_{secret_name.upper()}")
    call = webhook_call(row.payload, secret=secret, timestamp=int(now.timestamp()), delivery=str(row.id))
    try:
        status = post(call, timeout=settings.timeout_seconds)
    except WebhookFailed as exc:
        raise (_Retry if exc.retry else _Permanent)(str(exc)) from None
    return _Outcome("sent", {"url": call.url, "status": status})


def _unknown_kind(runtime: Any, row: OutboxRow, settings: DeliverySettings, now: datetime) -> _Outcome:
    raise _Permanent(f"no delivery for outbox rows of kind {row.kind!r}")


_SENDERS: dict[str, Callable[[Any, OutboxRow, DeliverySettings, datetime], _Outcome]] = {
    "email": _send_email, "webhook": _call_webhook,
}


def preview_mail(runtime: Any, conn: Connection, row: OutboxRow) -> Mail:
    """Returns the mail a row sends, rendered now when it was not yet (for the admin page)."""
    if row.message and "subject" in row.message:
        m = row.message
        return Mail(tuple(m.get("to") or ()), m["subject"], m.get("body") or "", tuple(m.get("cc") or ()),
                    m.get("locale"))
    return mail_of(runtime, conn, row.payload)
