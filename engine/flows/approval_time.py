"""When an approval step's timeout falls due: a duration after the step started, counting either
every hour or, for a business duration, Monday to Friday only.

Business time is counted in UTC and knows no public holidays (no holiday calendar exists yet): a
step started on the day before a holiday falls due a day early. Weekends are skipped whole, so a
step started on Saturday counts from Monday 00:00.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from metamodel.flows import Duration

SATURDAY = 5


def is_business_day(moment: datetime) -> bool:
    return moment.weekday() < SATURDAY


def _next_business_start(moment: datetime) -> datetime:
    while not is_business_day(moment):
        moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return moment


def deadline(start: datetime, duration: Duration) -> datetime:
    """Returns when `duration` after `start` ends; a business duration skips Saturdays and Sundays."""
    if not duration.business:
        return start + timedelta(minutes=duration.total_minutes)
    moment = _next_business_start(start)
    for _ in range(duration.days):   # a business day later at the same time of day
        moment += timedelta(days=1)
        while not is_business_day(moment):
            moment += timedelta(days=1)
    remaining = timedelta(hours=duration.hours, minutes=duration.minutes)
    while remaining > timedelta(0):
        midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        step = min(remaining, midnight - moment)
        moment += step
        remaining -= step
        if remaining > timedelta(0):
            moment = _next_business_start(moment)
    return moment
