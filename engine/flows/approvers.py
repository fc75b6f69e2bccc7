"""Who decides an approval step: its parties resolved for the record and the submitter, the users
the submitter chose (发起人自选) checked against the candidates, administrators as a fallback, and
the substitutes a user named while away (委托)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.errors import FormworkError
from engine.flows.parties import Recipient, resolve_users
from engine.storage.db import fw_approval_delegation, fw_user
from metamodel.flows import Party, Step


class ApproverError(FormworkError):
    """The submitter's choice of approvers does not fit the step; the message says which."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def candidates(conn: Connection, step: Step, record: Mapping[str, Any], submitter_id: int | None) -> list[Recipient]:
    """Returns whom the submitter may choose from for `step` (empty: the step is not 发起人自选)."""
    pool = tuple(c for party in step.approvers if party.kind == "chosen_by_submitter" for c in party.candidates)
    return resolve_users(conn, pool, record, submitter_id=submitter_id) if pool else []


def chooses(step: Step) -> bool:
    """Whether the submitter picks (some of) the step's approvers."""
    return any(party.kind == "chosen_by_submitter" for party in step.approvers)


def check_chosen(conn: Connection, step: Step, record: Mapping[str, Any], submitter_id: int | None,
                 chosen: Sequence[int]) -> list[int]:
    """Returns the chosen user ids, each once, after checking each is a candidate of `step`.
    Raises ApproverError naming the step and the candidates otherwise."""
    allowed = candidates(conn, step, record, submitter_id)
    names = ", ".join(r.username for r in allowed) or "nobody"
    if not chosen:
        raise ApproverError(f"step {step.name}: choose who approves (one of {names})")
    ids = {r.user_id for r in allowed}
    wrong = [user for user in chosen if user not in ids]
    if wrong:
        raise ApproverError(f"step {step.name}: user {wrong[0]} is not one of the approvers you may choose ({names})")
    return list(dict.fromkeys(chosen))


def step_approvers(conn: Connection, step: Step, record: Mapping[str, Any], submitter_id: int | None,
                   chosen: Sequence[int] = ()) -> list[int]:
    """Returns the active users who decide `step`, each once, in the order the step names them
    (the chosen ones where the step lets the submitter choose)."""
    found: list[int] = []
    for party in step.approvers:
        if party.kind == "chosen_by_submitter":
            found.extend(chosen)
        else:
            found.extend(r.user_id for r in resolve_users(conn, (party,), record, submitter_id=submitter_id))
    return list(dict.fromkeys(_active(conn, found)))


def parties_users(conn: Connection, parties: tuple[Party, ...], record: Mapping[str, Any],
                  submitter_id: int | None) -> list[int]:
    """Returns the active users `parties` name (carbon copies, escalation targets)."""
    return [r.user_id for r in resolve_users(conn, parties, record, submitter_id=submitter_id)]


def administrators(conn: Connection) -> list[int]:
    """Returns the active administrators, for a step that routes to them when it finds nobody."""
    return list(conn.execute(sa.select(fw_user.c.id).where(fw_user.c.is_admin.is_(True), fw_user.c.active.is_(True))
                             .order_by(fw_user.c.id)).scalars())


def manager_of(conn: Connection, user_id: int) -> int | None:
    """Returns the active manager of `user_id` (whom a timed-out step escalates to), if any."""
    boss = fw_user.alias("boss")
    return conn.execute(sa.select(boss.c.id).select_from(fw_user.join(boss, boss.c.id == fw_user.c.manager_id))
                        .where(fw_user.c.id == user_id, boss.c.active.is_(True))).scalar()


def _active(conn: Connection, ids: list[int]) -> list[int]:
    if not ids:
        return []
    active = set(conn.execute(sa.select(fw_user.c.id).where(fw_user.c.id.in_(ids), fw_user.c.active.is_(True)))
                 .scalars())
    return [user for user in ids if user in active]


def user_exists(conn: Connection, user_id: int) -> bool:
    """Whether `user_id` is an active user (a transfer or an added approver must be one)."""
    return bool(_active(conn, [user_id]))


# -- delegation (委托) ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Delegation:
    id: int
    user_id: int
    substitute_id: int
    starts_at: datetime
    ends_at: datetime


def delegations_of(conn: Connection, user_id: int, *, now: datetime) -> list[Delegation]:
    """Returns the user's delegations that have not ended, the soonest first (their settings page)."""
    d = fw_approval_delegation.c
    query = (sa.select(d.id, d.user_id, d.substitute_id, d.starts_at, d.ends_at)
             .where(d.user_id == user_id, d.ends_at > now).order_by(d.starts_at, d.id))
    return [Delegation(*row) for row in conn.execute(query)]


def delegate(conn: Connection, user_id: int, substitute_id: int, starts_at: datetime, ends_at: datetime, *,
             now: datetime) -> int:
    """Lets `substitute_id` decide `user_id`'s approvals from `starts_at` until `ends_at`; returns
    the delegation's id. Raises ApproverError for a substitute who is the user, inactive, or an
    empty period."""
    if substitute_id == user_id:
        raise ApproverError("a user cannot be their own substitute")
    if not user_exists(conn, substitute_id):
        raise ApproverError(f"there is no active user {substitute_id} to be the substitute")
    if ends_at <= starts_at:
        raise ApproverError("a delegation must end after it starts")
    return conn.execute(sa.insert(fw_approval_delegation).values(
        user_id=user_id, substitute_id=substitute_id, starts_at=starts_at, ends_at=ends_at, created_at=now)
        .returning(fw_approval_delegation.c.id)).scalar_one()


def end_delegation(conn: Connection, user_id: int, delegation_id: int, *, now: datetime) -> bool:
    """Ends the user's delegation `delegation_id` now; returns whether there was one still running."""
    return bool(conn.execute(sa.update(fw_approval_delegation).where(
        fw_approval_delegation.c.id == delegation_id, fw_approval_delegation.c.user_id == user_id,
        fw_approval_delegation.c.ends_at > now).values(ends_at=now)).rowcount)


def _running(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(fw_approval_delegation.c.starts_at <= now, fw_approval_delegation.c.ends_at > now)


def delegators_of(conn: Connection, substitute_id: int, now: datetime) -> list[int]:
    """Returns the users whose approvals `substitute_id` may decide at `now`."""
    return list(conn.execute(sa.select(fw_approval_delegation.c.user_id).where(
        fw_approval_delegation.c.substitute_id == substitute_id, _running(now)).distinct()).scalars())


def substitutes_of(conn: Connection, user_ids: Sequence[int], now: datetime) -> dict[int, list[int]]:
    """Returns user -> the substitutes deciding for them at `now` (told of their new tasks too)."""
    if not user_ids:
        return {}
    found: dict[int, list[int]] = {}
    for user, substitute in conn.execute(sa.select(fw_approval_delegation.c.user_id,
                                                   fw_approval_delegation.c.substitute_id)
                                         .where(fw_approval_delegation.c.user_id.in_(list(user_ids)), _running(now))):
        found.setdefault(user, []).append(substitute)
    return found
