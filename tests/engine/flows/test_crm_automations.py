"""The default CRM's record-triggered automations behave as their flow documents describe."""
from __future__ import annotations

import sqlalchemy as sa
from engine_apps import CRM_FOLDER

from engine.apps import install_app
from engine.flows.notifications import Notification
from engine.flows.outbox import pending_messages
from engine.security.org import create_department
from engine.security.users import create_user
from engine.storage.db import fw_notification, write_transaction


def notes(runtime, flow: str) -> list[Notification]:
    """The notifications `flow` wrote, the oldest first."""
    with runtime.engine.connect() as conn:
        return [Notification(**row) for row in conn.execute(
            sa.select(fw_notification).where(fw_notification.c.flow == flow).order_by(fw_notification.c.id)).mappings()]


def test_lead_intake_tags_campaign_leads_assigns_by_region_and_notifies_the_owner(runtime):
    install_app(runtime, CRM_FOLDER)
    with write_transaction(runtime.engine) as conn:
        east = create_department(conn, "sales_east_china")
        east_rep = create_user(conn, "east_rep", roles=["sales_rep"], department_id=east).id
        other_rep = create_user(conn, "other_rep", roles=["sales_rep"]).id
    records = runtime.records()
    campaign = records.create("campaign", {"name": "Expo", "channel": "exhibition", "start_date": "2026-05-01"})
    lead = records.create("lead", {"name": "Wang", "company": "Acme", "region": "east_china", "email": "wang@acme.example",
                                   "campaign": campaign["id"]})
    assert lead["source"] == "campaign"
    assert lead["owner_id"] == east_rep
    # No sales_northwest department: the leads go round the sales reps in turn.
    others = [records.create("lead", {"name": name, "company": "Beta", "region": "northwest",
                                      "email": "li@beta.example"})["owner_id"] for name in ("Li", "Zhao")]
    assert others == [east_rep, other_rep]
    assert [n.user_id for n in notes(runtime, "lead_intake")] == [east_rep, east_rep, other_rep]


def test_account_vip_welcome_emails_creates_a_task_and_notifies_when_the_grade_becomes_vip(runtime):
    install_app(runtime, CRM_FOLDER)
    with write_transaction(runtime.engine) as conn:
        boss = create_user(conn, "boss", roles=["sales_manager"]).id
        owner = create_user(conn, "owner", roles=["sales_rep"], manager_id=boss, email="owner@example.com").id
    records = runtime.records()
    account = records.create("account", {"name": "Acme", "email": "buyer@acme.example", "owner_id": owner})
    assert runtime.query().count("task") == 0
    records.update("account", account["id"], {"grade": "vip"})
    [task] = runtime.query().list("task").rows
    assert (task["subject"], task["priority"], task["assignee"], task["account"]) == (
        "VIP 客户首次回访：Acme", "high", owner, account["id"])
    with runtime.engine.connect() as conn:
        [email] = pending_messages(conn)
    assert (email["payload"]["template"], email["payload"]["to"], email["payload"]["cc"]) == (
        "vip_welcome", ["buyer@acme.example"], ["owner@example.com"])
    assert {n.user_id for n in notes(runtime, "account_vip_welcome")} == {owner, boss}
