"""A step not decided in time: its timer, fired by the sweep on a controllable clock, reminds,
approves, rejects or escalates; business durations count Monday to Friday."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from approval_apps import T0, actor, approval, deal, prepare, step

from engine.flows import approvals, timers
from engine.flows.approval_queries import approval_for_record
from engine.flows.approval_time import deadline
from engine.flows.approval_timeouts import HANDLERS
from engine.storage.db import fw_notification
from metamodel.flows import Duration

FRIDAY = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


def timed(action: str, **extra) -> dict:
    return approval([step("manager", [{"manager_of": "submitter"}],
                          timeout={"after": {"days": 1}, "action": action, **extra}, reject_to="submitter")],
                    comment_required_on_reject=False)


def submit(runtime, user: int):
    return approvals.submit(runtime, actor(runtime, user), "deal", deal(runtime, user))


def sweep_at(runtime, moment: datetime):
    runtime.clock.now = moment
    return timers.sweep(runtime, HANDLERS, now=moment)


def reminders(runtime) -> list[int]:
    with runtime.engine.connect() as conn:
        return list(conn.execute(sa.select(fw_notification.c.user_id).where(
            fw_notification.c.message.like("Reminder:%"))).scalars())


def test_a_business_day_duration_skips_the_weekend():
    assert deadline(FRIDAY, Duration(days=1, business=True)) == FRIDAY + timedelta(days=3)
    assert deadline(FRIDAY, Duration(days=1)) == FRIDAY + timedelta(days=1)
    assert deadline(FRIDAY, Duration(hours=10, business=True)) == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def test_a_remind_timeout_reminds_the_approver_once_it_is_due(runtime):
    org = prepare(runtime, timed("remind"))
    submit(runtime, org.rep)
    assert sweep_at(runtime, T0 + timedelta(hours=23)).fired == 0
    assert sweep_at(runtime, T0 + timedelta(days=1)).fired == 1
    assert reminders(runtime) == [org.boss]
    assert sweep_at(runtime, T0 + timedelta(days=5)).fired == 0   # no repeat


def test_a_repeating_remind_timeout_reminds_again_each_period(runtime):
    org = prepare(runtime, timed("remind", repeat=True))
    submit(runtime, org.rep)
    sweep_at(runtime, T0 + timedelta(days=1))
    sweep_at(runtime, T0 + timedelta(days=2))
    assert reminders(runtime) == [org.boss, org.boss]


def test_an_approve_timeout_approves_for_the_approvers(runtime):
    org = prepare(runtime, timed("approve"))
    instance = submit(runtime, org.rep)
    sweep_at(runtime, T0 + timedelta(days=1))
    with runtime.engine.connect() as conn:
        assert approval_for_record(conn, "deal", instance.record_id).instance.state == "approved"


def test_a_reject_timeout_rejects_as_the_step_says(runtime):
    org = prepare(runtime, timed("reject"))
    instance = submit(runtime, org.rep)
    sweep_at(runtime, T0 + timedelta(days=1))
    with runtime.engine.connect() as conn:
        assert approval_for_record(conn, "deal", instance.record_id).instance.state == "returned"


def test_an_escalate_timeout_hands_the_step_to_its_escalate_to(runtime):
    org = prepare(runtime, timed("escalate", escalate_to=[{"user": "fin"}]))
    instance = submit(runtime, org.rep)
    sweep_at(runtime, T0 + timedelta(days=1))
    with runtime.engine.connect() as conn:
        assert approval_for_record(conn, "deal", instance.record_id).pending_approvers == [org.fin]
    assert approvals.approve(runtime, actor(runtime, org.fin), instance.id).state == "approved"


def test_a_decided_step_cancels_its_timer(runtime):
    org = prepare(runtime, timed("approve"))
    instance = submit(runtime, org.rep)
    approvals.approve(runtime, actor(runtime, org.boss), instance.id)
    with runtime.engine.connect() as conn:
        assert timers.pending(conn, approvals.TIMEOUT) == []


def test_an_escalation_whose_targets_resolve_to_nobody_goes_to_the_approvers_manager(runtime):
    org = prepare(runtime, timed("escalate", escalate_to=[{"user": "ghost"}]))
    instance = submit(runtime, org.rep)
    sweep_at(runtime, T0 + timedelta(days=1))
    with runtime.engine.connect() as conn:
        assert approval_for_record(conn, "deal", instance.record_id).pending_approvers == [org.chief]
