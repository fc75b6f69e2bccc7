"""Upgrades keep the role grants admins changed since install; export writes the live grants."""
from __future__ import annotations

import json

import pytest
from engine_apps import ACCOUNT, app_documents

from engine.apps import export_app, install_app, plan_app
from engine.grant_merge import live_grants
from engine.runtime import Runtime
from engine.security.actors import SYSTEM
from engine.security.permissions import set_grant, set_rights
from engine.storage.db import write_transaction
from metamodel import app_from_documents
from metamodel.model import EntityGrant

SALES_REP = {"name": "sales_rep", "label": "Sales rep", "permissions": {"account": {"read": "own"}}}


def app_with_roles(version: str, *roles):
    documents = app_documents(ACCOUNT, version=version)
    documents["app.json"]["roles"] = list(roles)
    return app_from_documents(documents)


@pytest.fixture
def changed_by_admin(runtime):
    """Installs the app, then an admin lets sales reps create their own accounts and export."""
    install_app(runtime, app_with_roles("1.0.0", SALES_REP))
    with write_transaction(runtime.engine) as conn:
        set_grant(conn, SYSTEM, "sales_rep", "account", EntityGrant(create="own", read="own"))
        set_rights(conn, SYSTEM, "sales_rep", ["export"])
    return runtime


def grants_of(runtime, role):
    with runtime.engine.connect() as conn:
        return live_grants(conn, role)


def test_upgrade_keeps_a_scope_an_admin_changed_and_the_plan_says_so(changed_by_admin):
    plan = plan_app(changed_by_admin, app_with_roles("1.1.0", SALES_REP))
    assert "role sales_rep: keeps scope.account.create=own set by an admin; the new template says none" \
        in plan.describe()
    install_app(changed_by_admin, app_with_roles("1.1.0", SALES_REP))
    grants = grants_of(changed_by_admin, "sales_rep")
    assert grants["scope.account.create"] == "own"
    assert grants["right.export"] == "granted"


def test_upgrade_takes_the_template_where_no_admin_changed_the_grant(changed_by_admin):
    wider = {**SALES_REP, "permissions": {"account": {"read": "all"}}}
    plan = plan_app(changed_by_admin, app_with_roles("1.1.0", wider))
    assert "role sales_rep: scope.account.read own -> all" in [c.describe() for c in plan.changes]
    install_app(changed_by_admin, app_with_roles("1.1.0", wider))
    grants = grants_of(changed_by_admin, "sales_rep")
    assert (grants["scope.account.read"], grants["scope.account.create"]) == ("all", "own")


def test_export_writes_the_live_roles_and_reinstall_reproduces_them(changed_by_admin, second_database_url,
                                                                     tmp_path):
    export_app(changed_by_admin, "test_app", tmp_path / "out")
    role = json.loads((tmp_path / "out" / "app.json").read_text(encoding="utf-8"))["roles"][0]
    assert role["permissions"] == {"account": {"create": "own", "read": "own"}}
    assert role["rights"] == ["export"]
    other = Runtime(second_database_url)
    other.migrate()
    try:
        install_app(other, tmp_path / "out")
        assert grants_of(other, "sales_rep") == grants_of(changed_by_admin, "sales_rep")
    finally:
        other.dispose()
