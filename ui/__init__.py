"""Formwork's web UI: the Flask app factory wiring each subsystem and one blueprint per UI area.

`create_app(config)` builds the app; `config` overrides settings (TESTING, DATABASE_URL, ...).
"""
from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.config import DEFAULT_REMEMBER_DAYS, DEFAULT_TRUSTED_PROXIES, load_config, require_instance
from engine.runtime import Runtime


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Returns the Formwork web application; `config` overrides the FORMWORK_* settings."""
    app = Flask(__name__)
    _configure(app, config or {})
    _trust_proxies(app, app.config["TRUSTED_PROXIES"])
    # No DDL here: workers boot in parallel; the system tables are migrated before they fork.
    runtime = Runtime(app.config["DATABASE_URL"], create=False,
                      query_timeout_seconds=app.config.get("QUERY_TIMEOUT_SECONDS"))
    app.extensions["formwork.runtime"] = runtime

    from ui import account, auth, errors, headers, i18n, navigation, notifications
    from ui.admin import admin_bp
    from ui.records import records_bp

    headers.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    navigation.init_app(app)
    errors.init_app(app)
    app.register_blueprint(auth.auth_bp)
    app.register_blueprint(account.account_bp)
    app.register_blueprint(notifications.notifications_bp)
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
        TRUSTED_PROXIES=DEFAULT_TRUSTED_PROXIES,
        SECURE_COOKIES=None,          # None: Secure on HTTPS requests or with an https BASE_URL
        BASE_URL=None,
        REMEMBER_DAYS=DEFAULT_REMEMBER_DAYS,
    )
    if not {"DATABASE_URL", "SECRET_KEY", "INSTANCE_PATH"} <= overrides.keys():
        settings = load_config()   # the FORMWORK_* environment, read in its one place
        require_instance(settings)
        app.config.update(DATABASE_URL=settings.database_url, SECRET_KEY=settings.secret_key,
                          INSTANCE_PATH=str(settings.instance), TRUSTED_PROXIES=settings.trusted_proxies,
                          SECURE_COOKIES=settings.secure_cookies, BASE_URL=settings.base_url,
                          REMEMBER_DAYS=settings.remember_days,
                          QUERY_TIMEOUT_SECONDS=settings.query_timeout_seconds)
    app.config.update(overrides)


def _trust_proxies(app: Flask, count: int) -> None:
    # Behind `count` reverse proxies the client is the address they forwarded, not the last proxy;
    # without this one office's proxy would be one address for login throttling. Only the hops
    # configured are believed, so a client cannot forge its address by sending the headers itself.
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count)
