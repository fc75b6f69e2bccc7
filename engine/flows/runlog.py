"""The run log of automations: one row per run, with its condition's result, what each action did,
the error that stopped it and how long it took; the admin page lists the latest runs."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.storage.db import fw_flow_run


@dataclass(frozen=True)
class FlowRun:
    """One automation run as logged."""
    id: int | None
    at: datetime
    flow: str
    flow_version: str | None
    revision: int
    entity: str
    record_id: int | None
    trigger: str
    condition: bool | None
    actions: tuple[dict[str, Any], ...]
    error: str | None
    duration_ms: float

    def row(self) -> dict[str, Any]:
        return {"at": self.at, "flow": self.flow, "flow_version": self.flow_version, "revision": self.revision,
                "entity": self.entity, "record_id": self.record_id, "trigger": self.trigger,
                "condition": self.condition, "actions": list(self.actions), "error": self.error,
                "duration_ms": self.duration_ms}


def log_runs(conn: Connection, runs: Sequence[FlowRun]) -> list[int]:
    """Writes the runs of one event in one statement; returns their ids in order (outbox rows
    name the run that queued them)."""
    if not runs:
        return []
    inserted = conn.execute(sa.insert(fw_flow_run).returning(fw_flow_run.c.id, sort_by_parameter_order=True),
                            [run.row() for run in runs])
    return list(inserted.scalars())


def latest_runs(conn: Connection, *, limit: int = 100, flow: str | None = None) -> list[FlowRun]:
    """Returns the newest runs first, of one flow or of all."""
    query = sa.select(fw_flow_run).order_by(fw_flow_run.c.id.desc()).limit(limit)
    if flow:
        query = query.where(fw_flow_run.c.flow == flow)
    return [FlowRun(row.id, row.at, row.flow, row.flow_version, row.revision, row.entity, row.record_id,
                    row.trigger, row.condition, tuple(row.actions or ()), row.error, row.duration_ms)
            for row in conn.execute(query)]
