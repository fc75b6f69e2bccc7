"""The recycle bin of an entity: its deleted records, newest deletion first, and restoring them.

Restoring goes through RecordService.restore, which brings back the master-detail children deleted
with the record.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from metamodel.model import SortKey, label_text
from ui.context import locale, query, records, registry, runtime
from ui.records import records_bp
from ui.records.display import References, cell, columns_of, record_title
from ui.records.listing import default_columns, default_view
from ui.records.visibility import readable

TRASH_PAGE = 50


@records_bp.route("/app/<entity>/trash")
def trash(entity: str):
    definition = registry().entity(entity)
    lang = locale()
    view = default_view(definition)
    names = readable(definition, [c for c in (view.columns if view else default_columns(definition))
                                  if c != definition.title][:4])
    cursor = request.args.get("cursor") or None
    page = query().list(entity, deleted=True, sort=[SortKey("deleted_at", "desc")], cursor=cursor,
                        limit=TRASH_PAGE, with_total=True)
    columns = columns_of(definition, [*names, "deleted_at", "updated_by"], lang)
    refs = References(query(), runtime().engine.connect).load(definition, page.rows, [c.name for c in columns])
    rows = [(r["id"], record_title(definition, r), [cell(definition, c.name, r, refs, lang) for c in columns])
            for r in page.rows]
    return render_template("records/trash.html", entity=definition, columns=columns, rows=rows, page=page,
                           entity_label=label_text(definition.plural_label, lang), cursor=cursor)


@records_bp.route("/app/<entity>/<int:record_id>/restore", methods=["POST"])
def restore(entity: str, record_id: int):
    definition = registry().entity(entity)
    try:
        restored = records().restore(entity, record_id)
    except (ValidationError, PermissionDenied, ConflictError, NotFound) as exc:
        flash(_("Could not restore: %(reason)s", reason=_reason(exc)), "danger")
        return redirect(url_for("records.trash", entity=entity))
    flash(_("%(title)s restored.", title=record_title(definition, restored)), "success")
    return redirect(url_for("records.show", entity=entity, record_id=record_id))


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(m for messages in exc.by_field().values() for m in messages)
    return str(exc)
