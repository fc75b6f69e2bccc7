"""Web sessions on the server: the session generation that ends them, and remember-me tokens."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.security.sessions import (
    SessionKey,
    current_key,
    end_sessions,
    issue_remember_token,
    redeem_remember_token,
    revoke_remember_token,
    session_valid,
)
from engine.security.users import create_user, deactivate_user, set_password, set_roles, update_user
from engine.storage.db import write_transaction

NOW = dt.datetime(2030, 5, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def alice(runtime):
    with write_transaction(runtime.engine) as conn:
        return create_user(conn, "alice", password="correct horse battery")


def key_of(runtime, user) -> SessionKey:
    with runtime.engine.connect() as conn:
        return current_key(conn, user.id)


def still_valid(runtime, key: SessionKey) -> bool:
    with runtime.engine.connect() as conn:
        return session_valid(conn, key)


def redeem(runtime, token: str, at=NOW):
    with write_transaction(runtime.engine) as conn:
        return redeem_remember_token(conn, token, now=at)


def remember(runtime, key: SessionKey, at=NOW, lifetime=dt.timedelta(days=30)) -> str:
    with write_transaction(runtime.engine) as conn:
        return issue_remember_token(conn, key, lifetime=lifetime, now=at)


def test_session_key_round_trips_and_refuses_a_bare_user_id():
    assert SessionKey.parse(str(SessionKey(7, 3))) == SessionKey(7, 3)
    assert SessionKey.parse("7") is None   # what Flask-Login stored before generations


def test_ending_sessions_invalidates_a_key_taken_before(runtime, alice):
    before = key_of(runtime, alice)
    with write_transaction(runtime.engine) as conn:
        end_sessions(conn, alice.id, "logout", now=NOW)
    assert not still_valid(runtime, before)
    assert still_valid(runtime, key_of(runtime, alice))


def test_session_from_before_a_password_change_is_refused(runtime, alice):
    before = key_of(runtime, alice)
    with write_transaction(runtime.engine) as conn:
        set_password(conn, "alice", "another good passphrase")
    assert not still_valid(runtime, before)


def test_deactivation_ends_sessions(runtime, alice):
    before = key_of(runtime, alice)
    with write_transaction(runtime.engine) as conn:
        deactivate_user(conn, "alice")
    assert not still_valid(runtime, before)
    assert key_of(runtime, alice) is None


def test_role_change_ends_sessions_and_an_unchanged_save_does_not(runtime, alice):
    import sqlalchemy as sa

    from engine.storage.db import fw_role

    with write_transaction(runtime.engine) as conn:
        conn.execute(sa.insert(fw_role).values(name="sales", label={"en": "Sales"}))
    before = key_of(runtime, alice)
    with write_transaction(runtime.engine) as conn:
        set_roles(conn, "alice", [])
    assert still_valid(runtime, before)
    with write_transaction(runtime.engine) as conn:
        set_roles(conn, "alice", ["sales"])
    assert not still_valid(runtime, before)


def test_making_a_user_administrator_ends_their_sessions(runtime, alice):
    before = key_of(runtime, alice)
    with write_transaction(runtime.engine) as conn:
        update_user(conn, "alice", is_admin=True)
    assert not still_valid(runtime, before)


def test_two_logins_get_different_remember_tokens(runtime, alice):
    key = key_of(runtime, alice)
    first, second = remember(runtime, key), remember(runtime, key)
    assert first != second
    assert redeem(runtime, first) == redeem(runtime, second) == key


def test_remember_token_expires_after_its_lifetime(runtime, alice):
    token = remember(runtime, key_of(runtime, alice), lifetime=dt.timedelta(days=30))
    assert redeem(runtime, token, at=NOW + dt.timedelta(days=29, hours=23)) is not None
    assert redeem(runtime, token, at=NOW + dt.timedelta(days=30)) is None


def test_remember_token_is_refused_after_sessions_end(runtime, alice):
    token = remember(runtime, key_of(runtime, alice))
    with write_transaction(runtime.engine) as conn:
        end_sessions(conn, alice.id, "logout", now=NOW)
    assert redeem(runtime, token) is None


def test_a_revoked_remember_token_is_refused_and_others_stay(runtime, alice):
    key = key_of(runtime, alice)
    revoked, kept = remember(runtime, key), remember(runtime, key)
    with write_transaction(runtime.engine) as conn:
        revoke_remember_token(conn, revoked, now=NOW)
    assert (redeem(runtime, revoked), redeem(runtime, kept)) == (None, key)


def test_only_a_digest_of_the_remember_token_is_stored(runtime, alice):
    import sqlalchemy as sa

    from engine.storage.db import fw_remember_token

    token = remember(runtime, key_of(runtime, alice))
    with runtime.engine.connect() as conn:
        stored = conn.execute(sa.select(fw_remember_token.c.digest)).scalars().all()
    assert stored and token not in stored
