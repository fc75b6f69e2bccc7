"""Where the worker sends things, from the FORMWORK_* settings: the SMTP server, its login, the
From address and the webhook secrets."""
from __future__ import annotations

import pytest
from worker_fixtures import Inbox, free_port

from engine.config import ConfigError, load_config
from engine.flows.delivery import DeliverySettings
from engine.flows.mail import Mail, send_mail, smtp_server


def test_an_smtps_url_means_tls_from_the_start_on_port_465_with_its_login_decoded():
    server = smtp_server("smtps://crm%40example.com:p%40ss@mail.example.com")
    assert (server.host, server.port, server.implicit_tls) == ("mail.example.com", 465, True)
    assert (server.username, server.password) == ("crm@example.com", "p@ss")


def test_an_smtp_url_takes_starttls_and_the_from_address_from_its_query():
    server = smtp_server("smtp://relay:2525?starttls=1&from=crm@example.com")
    assert (server.port, server.implicit_tls, server.starttls, server.sender) == (2525, False, True,
                                                                                 "crm@example.com")


def test_a_url_that_is_not_smtp_is_refused_saying_what_it_should_look_like():
    with pytest.raises(ConfigError, match="smtp://user:password@host:port"):
        smtp_server("http://mail.example.com")


def test_webhook_secrets_and_the_sender_come_from_the_environment():
    config = load_config({"FORMWORK_INSTANCE": "/tmp/none", "FORMWORK_WEBHOOK_SECRET_ERP_WEBHOOK": "k1",
                          "FORMWORK_MAIL_FROM": "CRM <crm@example.com>", "FORMWORK_SWEEP_SECONDS": "5"})
    settings = DeliverySettings.from_config(config)
    assert settings.webhook_secret("erp_webhook") == "k1" and settings.webhook_secret("other") is None
    assert settings.sender == "CRM <crm@example.com>" and config.sweep_seconds == 5


def test_the_smtp_login_in_the_url_is_used():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"right")

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        send_mail(smtp_server(f"smtp://crm:right@127.0.0.1:{port}"), Mail(("a@example.org",), "Hi", "Body"),
                  sender="crm@example.com", message_id="<1@formwork>")
    finally:
        controller.stop()
    assert logins == [(b"crm", b"right")]
    assert [m["Message-ID"] for m in inbox.messages] == ["<1@formwork>"]
