"""The one place where errors become pages: 400, 403, 404 and 500 in the app's style.

A record outside the user's scope is NotFound, hence a 404; a 500 logs and shows a request id.
"""
from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa
from flask import Flask, g, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.data.registry import UnknownEntity
from engine.errors import CursorError, DatabaseUnavailable, NotFound, PermissionDenied, QueryTimeout

log = logging.getLogger("formwork.ui")


def request_id() -> str:
    if "request_id" not in g:
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:12]
    return g.request_id


def _assign_request_id() -> None:
    request_id()   # before_request must return None, or Flask answers with its value


def error_page(status: int, title: str, message: str):
    wants_fragment = request.headers.get("HX-Request") == "true"
    template = "errors/_fragment.html" if wants_fragment else "errors/error.html"
    return render_template(template, status=status, title=title, message=message,
                           request_id=request_id()), status


def not_found(_error: Exception):
    return error_page(404, _("Not found"), _("There is nothing here, or you may not see it."))


def forbidden(error: Exception):
    detail = str(error) if isinstance(error, PermissionDenied) else ""
    return error_page(403, _("Not allowed"), detail or _("You do not have permission to do this."))


def csrf_refused(_error: CSRFError):
    return error_page(400, _("Form expired"),
                      _("The form was out of date or incomplete. Go back, reload the page and try again."))


def database_unavailable(error: DatabaseUnavailable | sa.exc.OperationalError):
    log.error("request %s: %s", request_id(), error)
    return error_page(503, _("The database is unavailable"),
                      _("Nothing was saved. An administrator has been told; try again in a few minutes."))


def database_fault(error: sa.exc.OperationalError):
    """A lost or read-only connection (the pool replaces it) is the database's fault, not a bug: 503."""
    if error.connection_invalidated:
        return database_unavailable(error)
    return server_error(error)


def bad_cursor(error: CursorError):
    return error_page(400, _("Page link not valid"),
                      _("The page link's cursor %(problem)s. Open the list again from its first page.",
                        problem=error.message))


def http_error(error: HTTPException):
    if error.code == 404:
        return not_found(error)
    if error.code == 403:
        return forbidden(error)
    if error.code is not None and error.code >= 500:
        return server_error(error)
    return error_page(error.code or 400, error.name, error.description or "")


def query_stopped(error: QueryTimeout):
    # 503: the server refused to spend more time; the same request may pass when narrowed.
    return error_page(503, _("The list took too long"),
                      _("It ran for more than %(seconds)s seconds and was stopped. "
                        "Narrow the filters or simplify the formula.", seconds=f"{error.seconds:g}"))


def server_error(error: Exception):
    original = getattr(error, "original_exception", None) or error
    log.error("request %s failed: %s %s", request_id(), request.method, request.path, exc_info=original)
    return error_page(500, _("Something went wrong"),
                      _("The error was logged. Quote the request id below when you report it."))


def init_app(app: Flask) -> None:
    app.before_request(_assign_request_id)
    app.register_error_handler(NotFound, not_found)
    app.register_error_handler(UnknownEntity, not_found)
    app.register_error_handler(PermissionDenied, forbidden)
    app.register_error_handler(DatabaseUnavailable, database_unavailable)
    app.register_error_handler(sa.exc.OperationalError, database_fault)
    app.register_error_handler(CSRFError, csrf_refused)
    app.register_error_handler(CursorError, bad_cursor)
    app.register_error_handler(QueryTimeout, query_stopped)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, server_error)
