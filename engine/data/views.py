"""Saved list views (personal and shared) and the small user reads the web UI needs.

Reads and writes the `fw_saved_view` system table.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from engine.errors import FieldError, ValidationError
from engine.storage.db import fw_saved_view, fw_user, utcnow, write_transaction
from formula import FormulaError
from formula.limits import check_bracket_depth, check_length


@dataclass(frozen=True)
class SavedView:
    id: int
    entity: str
    name: str
    owner_id: int
    shared: bool
    state: dict[str, Any]


def _saved(row: Any) -> SavedView:
    return SavedView(row.id, row.entity, row.name, row.owner_id, row.shared, dict(row.state or {}))


def saved_views(engine: Engine, entity: str, user_id: int | None) -> list[SavedView]:
    """Returns the views of `entity` the user may open: their own, then those shared by others."""
    query = (sa.select(fw_saved_view).where(fw_saved_view.c.entity == entity,
                                            sa.or_(fw_saved_view.c.owner_id == user_id,
                                                   fw_saved_view.c.shared.is_(True)))
             .order_by(fw_saved_view.c.shared, fw_saved_view.c.name))
    with engine.connect() as conn:
        return [_saved(row) for row in conn.execute(query)]


def saved_view(engine: Engine, view_id: int, user_id: int | None) -> SavedView | None:
    """Returns one view the user may open, or None."""
    query = sa.select(fw_saved_view).where(fw_saved_view.c.id == view_id,
                                           sa.or_(fw_saved_view.c.owner_id == user_id,
                                                  fw_saved_view.c.shared.is_(True)))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return _saved(row) if row else None


def save_view(engine: Engine, entity: str, name: str, owner_id: int, state: dict[str, Any],
              *, shared: bool = False) -> int:
    """Stores a view (replacing the owner's view of the same name); returns its id.

    Raises ValidationError when its formula breaks the formula size limits, so that a view is
    never saved that could not be opened.
    """
    _check_formula_limits(entity, state.get("formula"))
    with write_transaction(engine) as conn:
        existing = conn.execute(sa.select(fw_saved_view.c.id).where(
            fw_saved_view.c.entity == entity, fw_saved_view.c.name == name,
            fw_saved_view.c.owner_id == owner_id)).scalar()
        if existing is not None:
            conn.execute(sa.update(fw_saved_view).where(fw_saved_view.c.id == existing)
                         .values(state=state, shared=shared))
            return existing
        return conn.execute(sa.insert(fw_saved_view).values(
            entity=entity, name=name, owner_id=owner_id, shared=shared, state=state,
            created_at=utcnow())).inserted_primary_key[0]


def _check_formula_limits(entity: str, source: str | None) -> None:
    if not source:
        return
    try:
        check_length(source)
        check_bracket_depth(source)
    except FormulaError as error:
        raise ValidationError(entity, [FieldError("formula", error.message)]) from None


def delete_view(engine: Engine, view_id: int, owner_id: int) -> bool:
    """Deletes one of the owner's views; returns False when they own no such view."""
    with write_transaction(engine) as conn:
        result = conn.execute(sa.delete(fw_saved_view).where(fw_saved_view.c.id == view_id,
                                                             fw_saved_view.c.owner_id == owner_id))
        return result.rowcount == 1


# -- users, as the UI shows them ----------------------------------------------------------------
@dataclass(frozen=True)
class UserProfile:
    id: int
    username: str
    display_name: str
    is_admin: bool
    locale: str
    email: str | None = None
    active: bool = True
    last_login_at: datetime | None = None
    notify_by_email: bool = False


def _profile(row: Any) -> UserProfile:
    return UserProfile(row.id, row.username, row.display_name, row.is_admin, row.locale, row.email,
                       row.active, row.last_login_at, row.notify_by_email)


def user_profile(conn: Connection, user_id: int) -> UserProfile | None:
    row = conn.execute(sa.select(fw_user).where(fw_user.c.id == user_id, fw_user.c.active.is_(True))).first()
    return _profile(row) if row else None


def set_user_locale(conn: Connection, user_id: int, locale: str) -> None:
    conn.execute(sa.update(fw_user).where(fw_user.c.id == user_id).values(locale=locale))


def set_notify_by_email(conn: Connection, user_id: int, wanted: bool) -> None:
    """Records whether the user also gets their notifications by email (their own choice)."""
    conn.execute(sa.update(fw_user).where(fw_user.c.id == user_id).values(notify_by_email=wanted))


def user_names(conn: Connection, ids: Sequence[int | None]) -> dict[int, str]:
    """Returns id -> display name of the given users."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = conn.execute(sa.select(fw_user.c.id, fw_user.c.display_name).where(fw_user.c.id.in_(wanted)))
    return {row.id: row.display_name for row in rows}


def active_users(conn: Connection) -> list[UserProfile]:
    rows = conn.execute(sa.select(fw_user).where(fw_user.c.active.is_(True)).order_by(fw_user.c.display_name))
    return [_profile(row) for row in rows]


def all_users(conn: Connection) -> list[UserProfile]:
    return [_profile(row) for row in conn.execute(sa.select(fw_user).order_by(fw_user.c.username))]
