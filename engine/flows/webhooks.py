"""Webhook calls: an outbox row's JSON body POSTed to its URL, signed with the secret its action names.

The receiver checks `X-Formwork-Signature` (sha256=HMAC-SHA256 of "<timestamp>.<body>" with the
shared secret) and `X-Formwork-Timestamp` (to refuse replays); `X-Formwork-Delivery` is the outbox
row's id, the same on every retry, so a receiver can ignore a delivery it already had.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SIGNATURE_HEADER = "X-Formwork-Signature"
TIMESTAMP_HEADER = "X-Formwork-Timestamp"
DELIVERY_HEADER = "X-Formwork-Delivery"
TIMEOUT_SECONDS = 10.0
RETRIED_STATUSES = frozenset({408, 425, 429})   # and every 5xx


class WebhookFailed(Exception):
    """The call did not succeed this time; `retry` says whether trying again may help."""

    def __init__(self, message: str, *, retry: bool):
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class WebhookCall:
    url: str
    body: bytes
    headers: Mapping[str, str]


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Returns the signature header's value for `body` sent at `timestamp` (Unix seconds)."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_call(payload: Mapping[str, Any], *, secret: str | None, timestamp: int, delivery: str) -> WebhookCall:
    """Returns the request an outbox row's payload makes: its body as compact JSON, signed when
    the action names a secret."""
    body = json.dumps(payload.get("body", {}), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Formwork-Webhook",
               TIMESTAMP_HEADER: str(timestamp), DELIVERY_HEADER: delivery}
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    return WebhookCall(str(payload["url"]), body, headers)


def post(call: WebhookCall, *, timeout: float = TIMEOUT_SECONDS) -> int:
    """POSTs the call; returns the 2xx status or raises WebhookFailed saying what went wrong."""
    if not call.url.lower().startswith(("http://", "https://")):
        raise WebhookFailed(f"the webhook URL {call.url!r} is not http:// or https://", retry=False)
    request = urllib.request.Request(call.url, data=call.body, headers=dict(call.headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:   # noqa: S310 - scheme checked above
            return response.status
    except urllib.error.HTTPError as exc:
        retry = exc.code >= 500 or exc.code in RETRIED_STATUSES
        raise WebhookFailed(f"{call.url} answered {exc.code} {exc.reason}", retry=retry) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise WebhookFailed(f"cannot reach {call.url}: {reason}", retry=True) from None
