"""Mail: an outbox row's email rendered from its app's template, and sent through SMTP.

Rows come either with a template and the record's values (an email action) or already rendered
(to, subject, body: notifications by email); both end as one `Mail` the worker sends.
"""
from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import sqlalchemy as sa
from jinja2 import TemplateError
from sqlalchemy.engine import Connection

from engine.config import ConfigError
from engine.security.actors import SYSTEM
from engine.storage.db import fw_user
from engine.storage.tables import stored_fields
from metamodel.email_templates import EmailTemplate, email_template_from, sandbox
from metamodel.fieldtypes import field_type
from metamodel.model import EntityDef, FieldDef, entity_label

DEFAULT_LOCALE = "en"
SMTP_TIMEOUT_SECONDS = 30


class MailNotSendable(Exception):
    """The row can never become a mail (no such template, a template that fails): failed at once."""


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    body: str
    cc: tuple[str, ...] = ()
    locale: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "to": list(self.to), "cc": list(self.cc)}


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool          # smtps://: TLS from the first byte
    starttls: bool              # smtp://...?starttls=1 (or any server that offers it, when it has a login)
    sender: str | None          # ?from=...: the From address, else the setting's

    def __str__(self) -> str:
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"


def smtp_server(url: str) -> SmtpServer:
    """Returns the server of FORMWORK_SMTP_URL (smtp://user:pass@host:port, smtps:// for TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(f"FORMWORK_SMTP_URL must look like smtp://user:password@host:port or smtps://..., "
                          f"not {parts.scheme or 'a URL without a scheme'}://")
    query = parse_qs(parts.query)
    implicit = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit else 25)
    except ValueError:
        raise ConfigError("FORMWORK_SMTP_URL has a port that is not a number") from None
    return SmtpServer(parts.hostname, port, unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None, implicit,
                      query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes", "on"),
                      query.get("from", [None])[0])


def send_mail(server: SmtpServer, mail: Mail, *, sender: str, message_id: str,
              timeout: float = SMTP_TIMEOUT_SECONDS) -> None:
    """Sends `mail` through `server`; raises smtplib.SMTPException or OSError when it cannot.

    The Message-ID is the outbox row's, so a receiver can drop the copy a crash might resend.
    """
    message = EmailMessage()
    message["From"] = server.sender or sender
    message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message.set_content(mail.body)
    client_class = smtplib.SMTP_SSL if server.implicit_tls else smtplib.SMTP
    options: dict[str, Any] = {"context": ssl.create_default_context()} if server.implicit_tls else {}
    with client_class(server.host, server.port, timeout=timeout, **options) as client:
        if server.starttls:
            client.starttls(context=ssl.create_default_context())
        if server.username:
            client.login(server.username, server.password or "")
        client.send_message(message)


# -- rendering -----------------------------------------------------------------------------------
def mail_of(runtime: Any, conn: Connection, payload: Mapping[str, Any]) -> Mail:
    """Returns the mail an outbox row's payload describes: as given when already rendered, else
    rendered from its template in the language of its first recipient known as a user."""
    to, cc = tuple(payload.get("to") or ()), tuple(payload.get("cc") or ())
    if not to:
        raise MailNotSendable("the mail has no recipient")
    if "template" not in payload:
        return Mail(to, str(payload.get("subject") or ""), str(payload.get("body") or ""), cc,
                    payload.get("locale"))
    registry = runtime.registry(conn)
    entity_name = payload.get("entity")
    if entity_name not in registry.entities:
        raise MailNotSendable(f"the mail is about {entity_name!r}, which is no longer installed")
    app = registry.app_of(entity_name)
    document = app.email_templates.get(payload["template"])
    if document is None:
        raise MailNotSendable(f"app {app.name!r} has no email template {payload['template']!r}")
    locale = recipient_locale(conn, to)
    entity = registry.entity(entity_name)
    values = record_texts(runtime, conn, entity, payload.get("record") or {}, locale)
    base_url = getattr(runtime.config, "base_url", None)
    link = f"{base_url.rstrip('/')}/app/{entity.name}/{payload.get('record_id')}" if base_url else ""
    context = {**values, "record": values, "record_id": payload.get("record_id"), "link": link,
               "entity": entity_label(entity, locale), "app": app.name}
    subject, body = render_template(email_template_from(document), context, locale)
    return Mail(to, subject, body, cc, locale)


def render_template(template: EmailTemplate, context: Mapping[str, Any], locale: str) -> tuple[str, str]:
    """Returns (subject, body) of `template` in `locale` over `context`; the subject on one line."""
    env = sandbox()
    try:
        subject = env.from_string(template.text("subject", locale)).render(context)
        body = env.from_string(template.text("body", locale)).render(context)
    except TemplateError as exc:
        raise MailNotSendable(f"email template {template.name!r} failed: {exc}") from None
    return " ".join(subject.split()), body


def recipient_locale(conn: Connection, addresses: Sequence[str]) -> str:
    """Returns the language of the first address that is a user's, else the default."""
    rows = conn.execute(sa.select(fw_user.c.email, fw_user.c.locale)
                        .where(sa.func.lower(fw_user.c.email).in_([a.lower() for a in addresses]))).all()
    known = {email.lower(): locale for email, locale in rows if email}
    return next((known[a.lower()] for a in addresses if a.lower() in known), DEFAULT_LOCALE)


def record_texts(runtime: Any, conn: Connection, entity: EntityDef, record: Mapping[str, Any],
                 locale: str) -> dict[str, str]:
    """Returns field -> the value as the UI shows it in `locale`: choice labels, formatted numbers
    and dates, the title of a linked record, a user's name."""
    texts: dict[str, str] = {}
    for f in stored_fields(entity):
        raw = record.get(f.name)
        if raw is None:
            texts[f.name] = ""
            continue
        texts[f.name] = _reference_text(runtime, conn, f, raw) or _value_text(f, raw, locale)
    return texts


def _value_text(f: FieldDef, raw: Any, locale: str) -> str:
    ftype = field_type(f.type)
    try:
        return ftype.display(f, ftype.coerce(f, raw), locale)
    except Exception:   # noqa: BLE001 - a value stored before its field changed still shows as written
        return str(raw)


def _reference_text(runtime: Any, conn: Connection, f: FieldDef, raw: Any) -> str | None:
    ftype = field_type(f.type)
    target = ftype.target_entity(f)
    if target is not None and isinstance(raw, int):
        return runtime.query(SYSTEM, conn=conn).titles(target, [raw]).get(raw)
    if ftype.foreign_key(f) is not None and ftype.foreign_key(f)[0] == fw_user.name and isinstance(raw, int):
        return conn.execute(sa.select(fw_user.c.display_name).where(fw_user.c.id == raw)).scalar()
    return None
