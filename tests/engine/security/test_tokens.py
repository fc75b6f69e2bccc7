"""API tokens: shown once, stored hashed, verified with their scope, expiring and revocable."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from engine.errors import PermissionDenied
from engine.security.actors import SYSTEM, Actor
from engine.security.tokens import create_token, list_tokens, revoke_token, verify_token
from engine.security.users import create_user
from engine.storage.db import fw_api_token, write_transaction

NOW = dt.datetime(2030, 5, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def bob(runtime):
    with write_transaction(runtime.engine) as conn:
        return create_user(conn, "bob").id


def make(runtime, user_id, **options):
    with write_transaction(runtime.engine) as conn:
        return create_token(conn, SYSTEM, "integration", user_id=user_id, now=NOW, **options)


def verify(runtime, token, at=NOW):
    with write_transaction(runtime.engine) as conn:
        return verify_token(conn, token, now=at)


def test_created_token_verifies_as_its_user(runtime, bob):
    actor = verify(runtime, make(runtime, bob).token)
    assert actor.id == bob


def test_token_is_stored_only_as_a_digest(runtime, bob):
    token = make(runtime, bob).token
    with runtime.engine.connect() as conn:
        row = conn.execute(sa.select(fw_api_token)).one()
    assert token not in (row.digest, row.prefix) and len(row.digest) == 64


def test_read_token_gives_an_actor_that_cannot_write(runtime, bob):
    assert verify(runtime, make(runtime, bob, scope="read").token).can_write is False
    assert verify(runtime, make(runtime, bob, scope="write").token).can_write is True


def test_expired_token_is_refused(runtime, bob):
    token = make(runtime, bob, lifetime=dt.timedelta(days=1)).token
    assert verify(runtime, token, NOW + dt.timedelta(hours=23)) is not None
    assert verify(runtime, token, NOW + dt.timedelta(days=1, seconds=1)) is None


def test_revoked_token_is_refused(runtime, bob):
    new = make(runtime, bob)
    with write_transaction(runtime.engine) as conn:
        revoke_token(conn, SYSTEM, new.id, now=NOW)
    assert verify(runtime, new.token) is None


def test_unknown_token_is_refused(runtime, bob):
    make(runtime, bob)
    assert verify(runtime, "fw_not-a-real-token") is None


def test_verifying_records_the_last_use(runtime, bob):
    new = make(runtime, bob)
    verify(runtime, new.token, NOW + dt.timedelta(minutes=5))
    with runtime.engine.connect() as conn:
        assert list_tokens(conn, bob)[0].last_used_at == NOW + dt.timedelta(minutes=5)


def test_user_without_the_api_right_cannot_create_a_token(runtime, bob):
    with write_transaction(runtime.engine) as conn, pytest.raises(PermissionDenied):
        create_token(conn, Actor(bob, "bob"), "mine", now=NOW)
