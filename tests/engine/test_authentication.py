"""Signing in: passwords, throttling per account and per address, and the audit of every attempt."""
from __future__ import annotations

import datetime as dt

import pytest

from engine import audit
from engine.authentication import authenticate, login_allowed
from engine.db import write_transaction
from engine.users import create_user

NOW = dt.datetime(2030, 5, 1, 9, 0, tzinfo=dt.UTC)
GOOD = "correct horse battery"


@pytest.fixture
def alice(runtime):
    with write_transaction(runtime.engine) as conn:
        return create_user(conn, "alice", password=GOOD)


def attempt(runtime, password, *, at=NOW, address="10.0.0.1", username="alice"):
    with write_transaction(runtime.engine) as conn:
        return authenticate(conn, username, password, address, at)


def test_right_password_gives_the_users_actor(runtime, alice):
    result = attempt(runtime, GOOD)
    assert result.ok and result.actor.username == "alice"


def test_wrong_password_is_refused_as_invalid(runtime, alice):
    assert attempt(runtime, "wrong password").reason == "invalid"


def test_unknown_user_is_refused_like_a_wrong_password(runtime, alice):
    assert attempt(runtime, GOOD, username="mallory").reason == "invalid"


def test_sixth_attempt_after_five_failures_within_a_minute_is_throttled(runtime, alice):
    for second in range(5):
        attempt(runtime, "wrong password", at=NOW + dt.timedelta(seconds=second))
    result = attempt(runtime, GOOD, at=NOW + dt.timedelta(seconds=10))
    assert (result.ok, result.reason) == (False, "throttled")


def test_throttle_lifts_a_minute_after_the_failures(runtime, alice):
    for second in range(5):
        attempt(runtime, "wrong password", at=NOW + dt.timedelta(seconds=second))
    assert attempt(runtime, GOOD, at=NOW + dt.timedelta(seconds=65)).ok


def test_four_failures_do_not_throttle(runtime, alice):
    for second in range(4):
        attempt(runtime, "wrong password", at=NOW + dt.timedelta(seconds=second))
    assert attempt(runtime, GOOD, at=NOW + dt.timedelta(seconds=5)).ok


def test_many_failures_from_one_address_throttle_other_accounts_from_it(runtime, alice):
    for n in range(20):
        attempt(runtime, "guess", username=f"user{n}", at=NOW + dt.timedelta(seconds=n % 50))
    with runtime.engine.connect() as conn:
        assert not login_allowed(conn, "alice", "10.0.0.1", NOW + dt.timedelta(seconds=55))
        assert login_allowed(conn, "alice", "10.0.0.2", NOW + dt.timedelta(seconds=55))


def test_logins_are_audited_with_their_address(runtime, alice):
    attempt(runtime, "wrong password")
    attempt(runtime, GOOD, at=NOW + dt.timedelta(seconds=1))
    with runtime.engine.connect() as conn:
        rows = audit.search(conn, user="alice")
    assert [(r.entry.action, r.entry.detail["address"]) for r in rows] == [
        ("login", "10.0.0.1"), ("login_failed", "10.0.0.1")]


def test_success_resets_the_failed_login_count(runtime, alice):
    from engine.users import list_users

    attempt(runtime, "wrong password")
    attempt(runtime, GOOD, at=NOW + dt.timedelta(seconds=1))
    with runtime.engine.connect() as conn:
        user = list_users(conn)[0]
    assert (user.failed_logins, user.last_login_at) == (0, NOW + dt.timedelta(seconds=1))


def test_deactivated_user_cannot_sign_in(runtime, alice):
    from engine.users import deactivate_user

    with write_transaction(runtime.engine) as conn:
        deactivate_user(conn, "alice")
    assert attempt(runtime, GOOD).reason == "invalid"
