"""Serving a record's stored files so that none can act as a page or a script of the app.

Every file goes out under the type determined from its content, with nosniff and a sandboxing CSP;
only inert images and PDFs may be shown inline, everything else is a download.
"""
from __future__ import annotations

from pathlib import Path

from flask import Response, abort, current_app, request, send_file

from engine.data.files import FileStore, servable_type
from ui.context import query, registry
from ui.records import records_bp

# Formats a browser shows without running anything the file holds (SVG can hold script: not here).
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})
# A file opened on its own is a sandboxed document that loads nothing: no script, no same origin.
FILE_CSP = "default-src 'none'; sandbox"


def file_store() -> FileStore:
    return FileStore(Path(current_app.config["INSTANCE_PATH"]) / "files")


def file_response(path: Path, name: str, stored_type: str | None, inline_wanted: bool) -> Response:
    """Returns the response serving a stored file: inline only when asked and the type is inert."""
    content_type = servable_type(stored_type)
    inline = inline_wanted and content_type in INLINE_TYPES
    response = send_file(path, mimetype=content_type, as_attachment=not inline, download_name=name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    return response


@records_bp.route("/app/<entity>/<int:record_id>/files/<field>")
def download(entity: str, record_id: int, field: str):
    definition = registry().entity(entity)
    record = query().get(entity, record_id)
    if not definition.has_field(field) or definition.field(field).type != "file" or not record.get(field):
        abort(404)
    value = record[field]
    path = file_store().path(value["key"])
    if path is None:
        abort(404)
    return file_response(path, value["name"], value.get("content_type"), request.args.get("inline") == "1")
