"""Signing in: passwords, throttling per account and per address, and the audit of every attempt."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.security import audit
from engine.security.authentication import authenticate, login_allowed
from engine.security.users import create_user
from engine.storage.db import write_transaction

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
    from engine.security.users import list_users

    attempt(runtime, "wrong password")
    attempt(runtime, GOOD, at=NOW + dt.timedelta(seconds=1))
    with runtime.engine.connect() as conn:
        user = list_users(conn)[0]
    assert (user.failed_logins, user.last_login_at) == (0, NOW + dt.timedelta(seconds=1))


def test_deactivated_user_cannot_sign_in(runtime, alice):
    from engine.security.users import deactivate_user

    with write_transaction(runtime.engine) as conn:
        deactivate_user(conn, "alice")
    assert attempt(runtime, GOOD).reason == "invalid"


def fail_burst(runtime, start, *, username="alice", address="10.0.0.1"):
    """Five wrong passwords a second apart from `start`; returns the time of the last one."""
    for second in range(5):
        attempt(runtime, "wrong password", at=start + dt.timedelta(seconds=second), username=username,
                address=address)
    return start + dt.timedelta(seconds=4)


def lock_end(runtime, username="alice", at=NOW):
    from engine.security.authentication import locked_until

    with runtime.engine.connect() as conn:
        return locked_until(conn, username, at)


def test_each_further_burst_of_failures_doubles_the_lock(runtime, alice):
    first = fail_burst(runtime, NOW)
    assert lock_end(runtime, at=first) == first + dt.timedelta(minutes=1)
    second = fail_burst(runtime, first + dt.timedelta(minutes=1, seconds=1))
    assert lock_end(runtime, at=second) == second + dt.timedelta(minutes=2)
    third = fail_burst(runtime, second + dt.timedelta(minutes=2, seconds=1))
    assert lock_end(runtime, at=third) == third + dt.timedelta(minutes=4)
    assert attempt(runtime, GOOD, at=third + dt.timedelta(minutes=3)).reason == "throttled"


def test_lock_grows_to_an_hour_at_most(runtime, alice):
    from engine.security.authentication import LONGEST_LOCK, lock_length

    assert [lock_length(n) for n in (1, 2, 7, 8, 20)] == [
        dt.timedelta(minutes=1), dt.timedelta(minutes=2), LONGEST_LOCK, LONGEST_LOCK, LONGEST_LOCK]


def test_a_successful_login_resets_the_lock_growth(runtime, alice):
    first = fail_burst(runtime, NOW)
    after = first + dt.timedelta(minutes=1, seconds=1)
    assert attempt(runtime, GOOD, at=after).ok
    again = fail_burst(runtime, after + dt.timedelta(seconds=1))
    assert lock_end(runtime, at=again) == again + dt.timedelta(minutes=1)


def test_a_throttled_attempt_does_not_extend_the_lock(runtime, alice):
    first = fail_burst(runtime, NOW)
    for second in range(10, 20):
        attempt(runtime, "wrong password", at=NOW + dt.timedelta(seconds=second))
    assert lock_end(runtime, at=first) == first + dt.timedelta(minutes=1)


def test_an_administrator_unlock_lifts_the_lock(runtime, alice):
    from engine.security.authentication import unlock_account

    fail_burst(runtime, NOW)
    with write_transaction(runtime.engine) as conn:
        unlock_account(conn, "alice", now=NOW + dt.timedelta(seconds=10))
    assert attempt(runtime, GOOD, at=NOW + dt.timedelta(seconds=11)).ok


def test_an_unknown_username_locks_like_a_known_one(runtime, alice):
    fail_burst(runtime, NOW, username="mallory")
    fail_burst(runtime, NOW, username="alice", address="10.0.0.2")
    later = NOW + dt.timedelta(seconds=10)
    assert attempt(runtime, "x", at=later, username="mallory").reason == "throttled"
    assert attempt(runtime, GOOD, at=later, username="alice").reason == "throttled"


def test_failures_far_apart_do_not_add_up_to_a_lock(runtime, alice):
    for n in range(6):
        attempt(runtime, "wrong password", at=NOW + n * dt.timedelta(minutes=20))
    assert attempt(runtime, GOOD, at=NOW + dt.timedelta(hours=2, minutes=1)).ok


def current_password_matches_at(runtime, password, at):
    from engine.security.authentication import current_password_matches
    from engine.security.users import actor_by_name

    with write_transaction(runtime.engine) as conn:
        return current_password_matches(conn, actor_by_name(conn, "alice"), password, now=at)


def test_the_current_password_is_checked_before_a_change(runtime, alice):
    assert current_password_matches_at(runtime, GOOD, NOW)
    assert not current_password_matches_at(runtime, "not my password", NOW)


def test_wrong_current_passwords_count_towards_the_sign_in_lock(runtime, alice):
    for second in range(5):
        current_password_matches_at(runtime, "guess", NOW + dt.timedelta(seconds=second))
    later = NOW + dt.timedelta(seconds=10)
    assert not current_password_matches_at(runtime, GOOD, later)   # locked: even the right one is refused
    assert attempt(runtime, GOOD, at=later).reason == "throttled"
