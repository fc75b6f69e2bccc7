"""Bulk actions on the rows selected in a list: assign the owner, set a field, delete, export.

Each record is saved through the write path on its own, so one refusal never undoes the others.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from engine.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from ui.context import records, registry
from ui.records import records_bp
from ui.records.exports import export_selected
from ui.records.lists import settable_fields
from ui.records.values import query_value


@records_bp.route("/app/<entity>/bulk", methods=["POST"])
def bulk(entity: str):
    """Applies one action to the selected rows: assign owner, set a field, delete."""
    definition = registry().entity(entity)
    ids = [int(i) for i in request.form.getlist("ids") if i.isdigit()]
    action = request.form.get("action", "")
    back = request.form.get("back") or url_for("records.list_records", entity=entity)
    if not ids:
        flash(_("Select at least one row first."), "warning")
        return redirect(_local(back, entity))
    if action in ("export_csv", "export_xlsx"):
        return export_selected(definition, ids, action.removeprefix("export_"))
    if action == "assign":
        values = {"owner_id": request.form.get("owner_id") or None}
    elif action == "set":
        name = request.form.get("field", "")
        if name not in {f.name for f in settable_fields(definition)}:
            abort(400)
        values = {name: query_value(definition, name, request.form.get("value", ""))}
    elif action != "delete":
        abort(400)
    done, problems = 0, []
    service = records()
    for record_id in ids:
        try:
            if action == "delete":
                service.delete(entity, record_id)
            else:
                service.update(entity, record_id, values)
            done += 1
        except (ValidationError, ConflictError, PermissionDenied, NotFound) as exc:
            problems.append(f"#{record_id}: {exc}")
    flash(_("%(done)d of %(total)d records changed.", done=done, total=len(ids)),
          "success" if not problems else "warning")
    for problem in problems[:5]:
        flash(problem, "danger")
    return redirect(_local(back, entity))


def _local(target: str, entity: str) -> str:
    from ui.auth import safe_next

    return safe_next(target) if target.startswith("/") else url_for("records.list_records", entity=entity)
