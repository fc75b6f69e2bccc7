"""The demo organisation: regional sales teams and back-office departments owning the demo records."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from engine.apps import install_app
from engine.demo import generate_demo
from engine.security.org import list_departments
from engine.security.users import create_user, list_users
from engine.storage.db import write_transaction

CRM = Path(__file__).resolve().parents[2] / "apps" / "crm_default"


def test_demo_creates_regional_teams_with_managers_and_spreads_ownership(runtime):
    install_app(runtime, CRM)
    generate_demo(runtime, 150, seed=3)
    with runtime.engine.connect() as conn:
        departments = {d.name: d for d in list_departments(conn)}
        users = {u.username: u for u in list_users(conn)}
        account = runtime.registry().table("account")
        owners = set(conn.execute(sa.select(account.c.owner_id).distinct()).scalars())
    assert {"华北 North", "华东 East", "华南 South", "财务部 Finance", "客服部 Service"} <= set(departments)
    assert departments["华北 North"].head == "north_manager"
    assert users["north_rep1"].manager == "north_manager" and users["north_rep1"].roles == ("sales_rep",)
    reps = {users[n].id for n in users if "_rep" in n}
    assert len(owners & reps) >= 5


def test_demo_keeps_an_existing_organisation(runtime):
    install_app(runtime, CRM)
    with write_transaction(runtime.engine) as conn:
        create_user(conn, "solo", roles=["sales_rep"])
    generate_demo(runtime, 20, seed=3)
    with runtime.engine.connect() as conn:
        assert [u.username for u in list_users(conn)] == ["solo"]
