"""Webhook calls from the outbox: a signed JSON POST, retried with backoff on 5xx and connection
errors, failed after the last attempt, failed at once when the receiver refuses it (4xx)."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from worker_fixtures import HOOK, T0, free_port, install_with

from engine.flows import outbox
from engine.flows.delivery import DeliverySettings, deliver_due
from engine.flows.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

SETTINGS = DeliverySettings(webhook_secrets={"crm": "s3cret"}, timeout_seconds=5)


@dataclass
class Receiver:
    """A local HTTP server: answers each POST with the next of `statuses` (then 200), keeps them."""
    url: str
    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    delay_seconds: float = 0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:   # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            found.requests.append((dict(self.headers), body))
            time.sleep(found.delay_seconds)   # the server's slowness, not the test's: the client gives up
            self.send_response(found.statuses.pop(0) if found.statuses else 200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


def only_row(runtime) -> outbox.OutboxRow:
    with runtime.engine.connect() as conn:
        [row] = outbox.outbox_rows(conn)
    return row


def test_the_webhook_posts_the_records_json_signed_with_the_named_secret(runtime, clock, receiver):
    install_with(runtime, HOOK, webhook_url=receiver.url)
    lead = runtime.records().create("lead", {"name": "Ann", "email": "ann@example.org"})
    assert deliver_due(runtime, settings=SETTINGS).sent == 1
    [(headers, body)] = receiver.requests
    assert json.loads(body)["record"] == {"id": lead["id"], "name": "Ann"}
    timestamp = headers[TIMESTAMP_HEADER]
    assert timestamp == str(int(T0.timestamp()))
    expected = hmac.new(b"s3cret", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"
    assert headers[DELIVERY_HEADER] == str(only_row(runtime).id)
    assert only_row(runtime).status == "sent"


def test_a_5xx_answer_is_retried_after_the_backoff_and_then_delivered(runtime, clock, receiver):
    receiver.statuses = [503]
    install_with(runtime, HOOK, webhook_url=receiver.url)
    runtime.records().create("lead", {"name": "Ann"})
    assert deliver_due(runtime, settings=SETTINGS).retried == 1
    row = only_row(runtime)
    assert (row.status, row.next_attempt_at) == ("pending", T0 + outbox.BACKOFF[0])
    assert "503" in row.last_error
    assert deliver_due(runtime, now=T0 + outbox.BACKOFF[0], settings=SETTINGS).sent == 1
    first, second = receiver.requests
    assert first[0][DELIVERY_HEADER] == second[0][DELIVERY_HEADER]   # one delivery id across retries


def test_a_receiver_that_cannot_be_reached_fails_the_row_after_the_last_attempt(runtime, clock):
    install_with(runtime, HOOK, webhook_url=f"http://127.0.0.1:{free_port()}/hook")
    runtime.records().create("lead", {"name": "Ann"})
    now = T0
    for wait in (timedelta(0), *outbox.BACKOFF):
        now += wait
        deliver_due(runtime, now=now, settings=SETTINGS)
    row = only_row(runtime)
    assert (row.status, row.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert "cannot reach http://127.0.0.1:" in row.last_error


def test_a_4xx_answer_fails_the_row_at_once(runtime, clock, receiver):
    receiver.statuses = [410]
    install_with(runtime, HOOK, webhook_url=receiver.url)
    runtime.records().create("lead", {"name": "Ann"})
    assert deliver_due(runtime, settings=SETTINGS).failed == 1
    row = only_row(runtime)
    assert row.status == "failed" and "410" in row.last_error
    assert len(receiver.requests) == 1


def test_a_secret_that_is_not_set_holds_the_call_back_and_says_which_variable_to_set(runtime, clock, receiver):
    install_with(runtime, HOOK, webhook_url=receiver.url)
    runtime.records().create("lead", {"name": "Ann"})
    assert deliver_due(runtime, settings=DeliverySettings()).retried == 1
    assert "FORMWORK_WEBHOOK_SECRET_CRM" in only_row(runtime).last_error
    assert receiver.requests == []


def test_a_receiver_slower_than_the_timeout_is_retried(runtime, clock, receiver):
    install_with(runtime, HOOK, webhook_url=receiver.url)
    runtime.records().create("lead", {"name": "Ann"})
    receiver.delay_seconds = 2
    assert deliver_due(runtime, settings=DeliverySettings(webhook_secrets={"crm": "s3cret"},
                                                          timeout_seconds=0.3)).retried == 1
    assert "timed out" in only_row(runtime).last_error
