"""Formwork's web UI: the Flask app factory wiring each subsystem and one blueprint per UI area.

`create_app(config)` builds the app; `config` overrides settings (TESTING, DATABASE_URL, ...).
"""
from __future__ import annotations

from typing import Any

from flask import Flask

from engine.config import load_config
from engine.runtime import Runtime
from engine.views import create_view_tables


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Returns the Formwork web application; `config` overrides the FORMWORK_* settings."""
    app = Flask(__name__)
    _configure(app, config or {})
    runtime = Runtime(app.config["DATABASE_URL"], query_timeout_seconds=app.config.get("QUERY_TIMEOUT_SECONDS"))
    runtime.create_system_tables()
    create_view_tables(runtime.engine)
    app.extensions["formwork.runtime"] = runtime

    from ui import auth, errors, headers, i18n, navigation
    from ui.admin import admin_bp
    from ui.records import records_bp

    headers.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    navigation.init_app(app)
    errors.init_app(app)
    app.register_blueprint(auth.auth_bp)
    app.register_blueprint(records_bp)
    app.register_blueprint(admin_bp)
    return app


def _configure(app: Flask, overrides: dict[str, Any]) -> None:
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        LIST_PAGE_SIZE=50,
    )
    if not {"DATABASE_URL", "SECRET_KEY", "INSTANCE_PATH"} <= overrides.keys():
        settings = load_config()   # the FORMWORK_* environment, read in its one place
        app.config.update(DATABASE_URL=settings.database_url, SECRET_KEY=settings.secret_key,
                          INSTANCE_PATH=str(settings.instance),
                          QUERY_TIMEOUT_SECONDS=settings.query_timeout_seconds)
    app.config.update(overrides)
