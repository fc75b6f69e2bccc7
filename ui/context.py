"""Per-request access to the runtime, the acting user and their locale, for every blueprint.

Views ask here for services (`records()`, `query()`) so the actor is always the logged-in user.
"""
from __future__ import annotations

from flask import current_app, g
from flask_babel import get_locale
from flask_login import current_user

from engine.data.query import QueryService
from engine.data.records import RecordService
from engine.data.registry import Registry
from engine.runtime import Runtime
from engine.security.actors import Actor


def runtime() -> Runtime:
    return current_app.extensions["formwork.runtime"]


def registry() -> Registry:
    if "fw_registry" not in g:
        g.fw_registry = runtime().registry()
    return g.fw_registry


def actor() -> Actor:
    return current_user.actor


def query() -> QueryService:
    return runtime().query(actor(), registry=registry())


def records() -> RecordService:
    return runtime().records(actor(), registry=registry())


def locale() -> str:
    return str(get_locale() or "en").split("_")[0]
