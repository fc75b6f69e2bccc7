"""The automation run log (the `flows` right): the latest runs, newest first, with what triggered
each, whether its condition held, what its actions did and the error that stopped it."""
from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, url_for
from flask_babel import lazy_gettext as _l

from engine.flows.runlog import FlowRun, latest_runs
from metamodel.model import label_text
from ui.admin import admin_bp, requires
from ui.context import locale, registry, runtime
from ui.records.localtime import local_text

SHOWN = 100
TRIGGERS = {"created": _l("Record created"), "updated": _l("Record changed"),
            "field_changed": _l("Field changed"), "deleted": _l("Record deleted")}


@dataclass(frozen=True)
class RunLine:
    id: int
    at: str
    flow: str
    entity: str
    record_id: int | None
    record_href: str | None
    trigger: str
    condition: str
    actions: list[tuple[str, str]]     # action type, what it did
    error: str
    duration: str


def run_line(run: FlowRun) -> RunLine:
    entity = registry().entities.get(run.entity)
    href = (url_for("records.show", entity=run.entity, record_id=run.record_id)
            if entity is not None and run.record_id else None)
    condition = {True: _l("Held"), False: _l("Did not hold"), None: _l("Not evaluated")}[run.condition]
    return RunLine(run.id or 0, local_text(run.at, seconds=True), f"{run.flow} v{run.flow_version or '—'}",
                   label_text(entity.label, locale()) if entity else run.entity, run.record_id, href,
                   str(TRIGGERS.get(run.trigger, run.trigger)), str(condition),
                   [(a.get("type", ""), a.get("result", "")) for a in run.actions], run.error or "",
                   f"{run.duration_ms:.1f} ms")


@admin_bp.route("/flow-runs")
@requires("flows")
def flow_runs():
    with runtime().engine.connect() as conn:
        runs = latest_runs(conn, limit=SHOWN)
    return render_template("admin/flow_runs.html", lines=[run_line(r) for r in runs], shown=SHOWN)
