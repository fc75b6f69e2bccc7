"""Write checks and scopes of the default CRM's roles: owners, departments, fields, shares, reassignment."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from security_org import build_org

from engine.apps import install_app
from engine.errors import NotFound, PermissionDenied, ValidationError
from engine.security import audit
from engine.security.actors import SYSTEM
from engine.security.ownership import reassign_records
from engine.security.scopes import check_write
from engine.security.sharing import record_shares, share_record, unshare_record
from engine.security.users import actor_by_name, deactivate_user
from engine.storage.db import write_transaction
from metamodel import load_app

CRM = load_app(Path(__file__).resolve().parents[3] / "apps" / "crm_default")


@pytest.fixture
def world(runtime):
    """The default CRM and the test org; `actor(name)` gives a user's Actor, `account(owner)` a record."""
    install_app(runtime, CRM)
    with write_transaction(runtime.engine) as conn:
        org = build_org(conn)

    class World:
        users = org.users

        @staticmethod
        def actor(username: str):
            with runtime.engine.connect() as conn:
                return actor_by_name(conn, username)

        @staticmethod
        def account(owner: str, name: str = "Acme") -> int:
            return runtime.records().create("account", {"name": name, "owner_id": org.users[owner]})["id"]

        @staticmethod
        def opportunity(owner: str, account_id: int) -> int:
            return runtime.records().create("opportunity", {
                "name": "Deal", "account": account_id, "close_date": "2030-01-01", "probability": 10,
                "owner_id": org.users[owner]})["id"]

    return World


def test_rep_reads_own_account(runtime, world):
    account = world.account("rep_n1")
    assert runtime.query(world.actor("rep_n1")).get("account", account)["name"] == "Acme"


def test_guessing_a_colleagues_record_id_gives_not_found(runtime, world):
    account = world.account("rep_n2")
    with pytest.raises(NotFound):
        runtime.query(world.actor("rep_n1")).get("account", account)


def test_updating_an_out_of_scope_record_gives_not_found_and_changes_nothing(runtime, world):
    account = world.account("rep_e1")
    with pytest.raises(NotFound):
        runtime.records(world.actor("rep_n1")).update("account", account, {"name": "Mine now"})
    assert runtime.query().get("account", account)["name"] == "Acme"


def test_deleting_an_out_of_scope_record_gives_not_found(runtime, world):
    account = world.account("rep_e1")
    with pytest.raises(NotFound):
        runtime.records(world.actor("rep_n1")).delete("account", account)
    assert runtime.query().count("account") == 1


def test_manager_reads_the_records_of_their_department(runtime, world):
    mine = world.account("rep_n1")
    east = world.account("rep_e1")
    query = runtime.query(world.actor("mgr_n"))
    assert {r["id"] for r in query.list("account").rows} == {mine}
    with pytest.raises(NotFound):
        query.get("account", east)


def test_director_reads_every_team_below_their_department(runtime, world):
    ids = {world.account("rep_n1"), world.account("rep_e1"), world.account("mgr_n")}
    world.account("fin")
    assert {r["id"] for r in runtime.query(world.actor("director")).list("account").rows} == ids


def test_manager_updates_a_team_members_record(runtime, world):
    account = world.account("rep_n2")
    updated = runtime.records(world.actor("mgr_n")).update("account", account, {"name": "Renamed"})
    assert updated["name"] == "Renamed"


def test_rep_creates_a_record_they_own(runtime, world):
    record = runtime.records(world.actor("rep_n1")).create("account", {"name": "Fresh"})
    assert record["owner_id"] == world.users["rep_n1"]


def test_rep_cannot_create_a_record_for_a_colleague(runtime, world):
    with pytest.raises(PermissionDenied):
        runtime.records(world.actor("rep_n1")).create("account", {"name": "Gift", "owner_id": world.users["rep_n2"]})
    assert runtime.query().count("account") == 0


def test_rep_cannot_create_a_payment(runtime, world):
    with pytest.raises(PermissionDenied):
        runtime.records(world.actor("rep_n1")).create("payment", {"amount": "10"})


def test_rep_cannot_give_away_their_record(runtime, world):
    account = world.account("rep_n1")
    with pytest.raises(PermissionDenied):
        runtime.records(world.actor("rep_n1")).update("account", account, {"owner_id": world.users["rep_e1"]})
    assert runtime.query().get("account", account)["owner_id"] == world.users["rep_n1"]


def test_readable_record_outside_update_scope_is_refused_with_permission_denied(runtime, world):
    product = runtime.records().create("product", {"name": "Widget", "code": "W1", "unit_price": "9.5"})["id"]
    with pytest.raises(PermissionDenied):
        runtime.records(world.actor("rep_n1")).update("product", product, {"name": "Gadget"})


def test_editing_a_read_only_field_is_refused_and_nothing_changes(runtime, world):
    opportunity = world.opportunity("rep_n1", world.account("rep_n1"))
    with pytest.raises(ValidationError) as caught:
        runtime.records(world.actor("rep_n1")).update("opportunity", opportunity,
                                                     {"probability": 90, "name": "Bigger deal"})
    assert "probability" in caught.value.by_field()
    stored = runtime.query().get("opportunity", opportunity)
    assert (stored["name"], stored["probability"], stored["version"]) == ("Deal", 10, 1)


def test_setting_a_hidden_field_is_refused(runtime, world):
    account = world.account("svc")
    with pytest.raises(ValidationError) as caught:
        runtime.records(world.actor("svc")).update("ticket", runtime.records().create("ticket", {
            "subject": "Broken", "account": account, "owner_id": world.users["svc"]})["id"], {"satisfaction": 5})
    assert "satisfaction" in caught.value.by_field()


def test_records_returned_by_writes_omit_hidden_fields(runtime, world):
    contract = runtime.records().create("contract", {
        "name": "C1", "account": world.account("rep_n1"), "amount": "100", "start_date": "2030-01-01",
        "end_date": "2031-01-01", "payment_terms": "30 days", "owner_id": world.users["rep_n1"]})["id"]
    updated = runtime.records(world.actor("rep_n1")).update("contract", contract, {"name": "C1 renewed"})
    assert "payment_terms" not in updated
    assert "payment_terms" not in runtime.records(world.actor("rep_n1")).update("contract", contract, {})


def test_finance_sees_the_payment_terms_hidden_from_reps(runtime, world):
    contract = runtime.records().create("contract", {
        "name": "C1", "account": world.account("rep_n1"), "amount": "100", "start_date": "2030-01-01",
        "end_date": "2031-01-01", "payment_terms": "30 days", "owner_id": world.users["rep_n1"]})["id"]
    assert runtime.query(world.actor("fin")).get("contract", contract)["payment_terms"] == "30 days"
    assert "payment_terms" not in runtime.query(world.actor("rep_n1")).get("contract", contract)


def test_read_only_token_actor_cannot_write(world):
    from dataclasses import replace

    actor = replace(world.actor("rep_n1"), can_write=False)
    with pytest.raises(PermissionDenied):
        check_write(actor, CRM.entity("account"), "create")


# -- shares --------------------------------------------------------------------------------------
def test_share_for_reading_makes_a_record_readable_but_not_editable(runtime, world):
    account = world.account("rep_n2")
    with write_transaction(runtime.engine) as conn:
        share_record(conn, runtime.registry(conn), world.actor("rep_n2"), "account", account,
                     world.users["rep_e1"], "read")
    reader = world.actor("rep_e1")
    assert runtime.query(reader).get("account", account)["id"] == account
    with pytest.raises(PermissionDenied):
        runtime.records(reader).update("account", account, {"name": "Edited"})


def test_share_for_editing_lets_the_collaborator_update(runtime, world):
    account = world.account("rep_n2")
    with write_transaction(runtime.engine) as conn:
        share_record(conn, runtime.registry(conn), SYSTEM, "account", account, world.users["rep_e1"], "edit")
    updated = runtime.records(world.actor("rep_e1")).update("account", account, {"name": "Edited"})
    assert updated["name"] == "Edited"


def test_unsharing_hides_the_record_again(runtime, world):
    account = world.account("rep_n2")
    with write_transaction(runtime.engine) as conn:
        share_record(conn, runtime.registry(conn), SYSTEM, "account", account, world.users["rep_e1"])
        unshare_record(conn, runtime.registry(conn), SYSTEM, "account", account, world.users["rep_e1"])
        assert record_shares(conn, "account", account) == []
    with pytest.raises(NotFound):
        runtime.query(world.actor("rep_e1")).get("account", account)


def test_a_user_cannot_share_a_record_they_cannot_read(runtime, world):
    account = world.account("rep_n2")
    with write_transaction(runtime.engine) as conn, pytest.raises(NotFound):
        share_record(conn, runtime.registry(conn), world.actor("rep_e1"), "account", account,
                     world.users["rep_e1"], "edit")


def test_sharing_is_audited(runtime, world):
    account = world.account("rep_n2")
    with write_transaction(runtime.engine) as conn:
        share_record(conn, runtime.registry(conn), SYSTEM, "account", account, world.users["rep_e1"], "edit")
        rows = audit.search(conn, action="share", entity="account")
    assert rows[0].entry.record_id == account and rows[0].entry.detail["user_id"] == world.users["rep_e1"]


# -- a rep leaves -----------------------------------------------------------------------------------
def test_reassigning_a_departing_reps_records_moves_them_all_with_audit_rows(runtime, world):
    accounts = [world.account("rep_n1", f"A{i}") for i in range(3)]
    opportunity = world.opportunity("rep_n1", accounts[0])
    kept = world.account("rep_n2")
    moved = reassign_records(runtime, "rep_n1", "rep_n2")
    assert moved == {"account": 3, "opportunity": 1}
    owners = {r["id"]: r["owner_id"] for r in runtime.query().list("account").rows}
    assert set(owners.values()) == {world.users["rep_n2"]} and kept in owners
    assert runtime.query().get("opportunity", opportunity)["owner_id"] == world.users["rep_n2"]
    with runtime.engine.connect() as conn:
        changes = [audit.record_history(conn, "account", a)[0].changes for a in accounts]
    assert all(c["owner_id"] == [world.users["rep_n1"], world.users["rep_n2"]] for c in changes)


def test_reassigning_needs_the_users_right(runtime, world):
    world.account("rep_n1")
    with pytest.raises(PermissionDenied):
        reassign_records(runtime, "rep_n1", "rep_n2", actor=world.actor("mgr_n"))


def test_deactivated_user_gets_no_actor(runtime, world):
    with write_transaction(runtime.engine) as conn:
        deactivate_user(conn, "rep_n1", now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert world.actor("rep_n1") is None
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.text("select active from fw_user where username = 'rep_n1'")).scalar() in (0, False)


def test_linking_to_an_unreadable_record_is_answered_like_a_missing_one(runtime, world):
    hidden_account = world.account("rep_n2")
    with pytest.raises(ValidationError) as caught:
        runtime.records(world.actor("rep_n1")).create("contact", {"name": "Li", "account": hidden_account})
    assert caught.value.by_field()["account"] == [f"there is no Account with id {hidden_account}"]


def test_history_leaves_out_the_changes_of_hidden_fields(runtime, world):
    from engine.storage.db import fw_field_permission

    with write_transaction(runtime.engine) as conn:
        conn.execute(sa.insert(fw_field_permission).values(role="sales_rep", entity="account", field="phone",
                                                           access="hidden"))
    account = world.account("rep_n1")
    runtime.records().update("account", account, {"phone": "13800138000", "city": "Beijing"})
    entries = runtime.query(world.actor("rep_n1")).history("account", account)
    changed = set().union(*(e.changes for e in entries))
    assert "city" in changed and "phone" not in changed


def test_history_of_an_unreadable_record_is_not_found(runtime, world):
    account = world.account("rep_n2")
    with pytest.raises(NotFound):
        runtime.query(world.actor("rep_n1")).history("account", account)


def test_read_only_field_sent_back_unchanged_is_accepted(runtime, world):
    from engine.storage.db import fw_field_permission

    with write_transaction(runtime.engine) as conn:
        conn.execute(sa.insert(fw_field_permission).values(role="sales_rep", entity="account", field="city",
                                                           access="read_only"))
    account = world.account("rep_n1")
    runtime.records().update("account", account, {"city": "Beijing"})
    rep = world.actor("rep_n1")
    saved = runtime.records(rep).update("account", account, {"city": "Beijing", "name": "Renamed"})
    assert (saved["city"], saved["name"]) == ("Beijing", "Renamed")
    with pytest.raises(ValidationError):
        runtime.records(rep).update("account", account, {"city": "Shanghai"})
