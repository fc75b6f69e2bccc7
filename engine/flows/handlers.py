"""The timer handlers the worker's sweep fires, by timer kind: the one table each engine adds to.

An engine that schedules timers (approval timeouts, date-relative automations, schedules, stall
alerts) adds its kind and handler here; a due timer of a kind with no handler is retried and then
fails with "no handler", visible on its row.
"""
from __future__ import annotations

from engine.flows.approval_timeouts import fire_approval_timeout
from engine.flows.timers import TimerHandler


def timer_handlers() -> dict[str, TimerHandler]:
    """Returns kind -> handler for every timer kind the worker fires.

    Kinds still to come: "date_trigger" and "schedule" (automations), "stall" (pipelines).
    """
    return {"approval_timeout": fire_approval_timeout}
