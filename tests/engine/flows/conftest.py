"""Fixtures of the flow tests: a controllable clock on the runtime, and a local SMTP server."""
from __future__ import annotations

import pytest
from worker_fixtures import Clock, Inbox, free_port

from engine.flows.delivery import DeliverySettings


@pytest.fixture
def clock(runtime) -> Clock:
    runtime.clock = Clock()
    return runtime.clock


@pytest.fixture
def smtp():
    """Starts an SMTP server on a free local port; yields (its inbox, delivery settings using it)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, DeliverySettings(smtp_url=f"smtp://127.0.0.1:{port}", sender="crm@example.com",
                                      webhook_secrets={"crm": "s3cret"})
    finally:
        controller.stop()
