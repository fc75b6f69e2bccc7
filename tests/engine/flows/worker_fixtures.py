"""What the worker tests share: a small app whose automations queue mail, notifications and
webhook calls, a local SMTP server that keeps what it receives, and a controllable clock."""
from __future__ import annotations

import copy
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message

from engine_apps import ACCOUNT, app_documents, entity_doc, label

from engine.apps import install_app
from engine.security.users import create_user
from engine.storage.db import write_transaction
from metamodel import app_from_documents

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

LEAD = entity_doc("lead", [
    {"name": "name", "type": "text", "required": True},
    {"name": "email", "type": "email"},
    {"name": "region", "type": "picklist", "values": [{"value": "north", "label": {"en": "North", "zh": "华北"}},
                                                      {"value": "south", "label": {"en": "South", "zh": "华南"}}]},
    {"name": "budget", "type": "currency"},
    {"name": "account", "type": "lookup", "target": "account"},
])
WELCOME = {"name": "welcome", "entity": "lead",
           "subject": {"en": "Welcome, {{ name }}", "zh": "欢迎，{{ name }}"},
           "body": {"en": "Region: {{ region }}\nAccount: {{ account }}\nBudget: {{ budget }}\n",
                    "zh": "地区：{{ region }}\n客户：{{ account }}\n"}}


def automation(name: str, actions: list[dict], *, trigger: dict | None = None) -> dict:
    return {"name": name, "label": label(name), "kind": "automation", "entity": "lead", "version": 1,
            "trigger": trigger or {"on": "created"}, "actions": actions}


EMAIL_LEAD = automation("mail_lead", [{"type": "email", "template": "welcome", "to": [{"email_field": "email"}]}])
NOTIFY_OWNER = automation("tell_owner", [{"type": "notify", "to": [{"person": "owner"}],
                                         "message": {"en": "New lead", "zh": "新线索"}}])
HOOK = automation("hook", [{"type": "webhook", "url": "http://127.0.0.1:1/hook", "secret": "crm",
                            "fields": ["name"]}])


def install_with(runtime, *flows: dict, webhook_url: str | None = None):
    """Installs account and lead with the welcome template and the given automations."""
    docs = app_documents(ACCOUNT, LEAD)
    docs["email_templates/welcome.json"] = copy.deepcopy(WELCOME)
    for flow in flows:
        flow = copy.deepcopy(flow)
        for action in flow["actions"]:
            if action["type"] == "webhook" and webhook_url:
                action["url"] = webhook_url
        docs[f"flows/{flow['name']}.json"] = flow
    install_app(runtime, app_from_documents(docs))
    return runtime.registry()


def make_user(runtime, name: str, *, locale: str = "en") -> int:
    with write_transaction(runtime.engine) as conn:
        return create_user(conn, name, email=f"{name}@example.com", locale=locale).id


class Clock:
    """The controllable clock the runtime reads; tests move it on."""

    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


@dataclass
class Inbox:
    """What the test SMTP server received, and how it answers RCPT (None: accepts)."""
    messages: list[Message] = field(default_factory=list)
    envelopes: list[list[str]] = field(default_factory=list)
    refuse_with: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):   # noqa: N802 - aiosmtpd's name
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):   # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content))
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
