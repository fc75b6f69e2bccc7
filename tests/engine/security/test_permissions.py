"""The default CRM's roles against every entity and every read path: in scope is returned, nothing else.

The expected sets come from app.json and the org chart directly, not from the engine's own merge.
"""
from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest
import sqlalchemy as sa
from security_org import Org, build_org, line_of, quote_of, task_for

from engine.apps import install_app
from engine.data.query import MAX_PAGE
from engine.demo import generate_demo
from engine.errors import NotFound, PermissionDenied, ValidationError
from engine.security.grants import RoleRules, merge_roles
from engine.security.permissions import load_permissions
from engine.security.scopes import check_write
from engine.security.sharing import share_record
from engine.security.users import actor_by_name
from engine.storage.db import fw_share, write_transaction
from metamodel import load_app
from metamodel.model import ANY_ENTITY, Condition, EntityGrant, SortKey

CRM = load_app(Path(__file__).resolve().parents[3] / "apps" / "crm_default")
ROLE_USERS = {"sales_rep": "rep_n1", "sales_manager": "mgr_n", "marketing": "mkt", "service_agent": "svc",
              "finance": "fin", "executive": "boss", "admin": "it"}


@pytest.fixture
def crm_world(runtime):
    """The default CRM with the test org, records of every entity spread over every user, and shares."""
    install_app(runtime, CRM)
    with write_transaction(runtime.engine) as conn:
        org = build_org(conn)
    generate_demo(runtime, 200, seed=7)
    owners = [*org.users.values(), None]
    registry = runtime.registry()
    with write_transaction(runtime.engine) as conn:
        for name in registry.entities:
            table = registry.table(name)
            ids = conn.execute(sa.select(table.c.id).order_by(table.c.id)).scalars().all()
            for record_id, owner in zip(ids, itertools.cycle(owners)):
                conn.execute(sa.update(table).where(table.c.id == record_id).values(owner_id=owner))
            if ids:   # every user gets the entity's last record shared for reading
                conn.execute(sa.insert(fw_share), [{"entity": name, "record_id": ids[-1], "user_id": uid,
                                                    "access": "read"} for uid in org.users.values()])
    return org


def _scope(role: str, entity: str) -> str:
    grants = CRM.roles[[r.name for r in CRM.roles].index(role)].permissions
    return (grants.get(entity) or grants.get(ANY_ENTITY) or EntityGrant()).read


def _hidden(role: str, entity: str) -> set[str]:
    rules = CRM.roles[[r.name for r in CRM.roles].index(role)].field_access.get(entity, {})
    return {f for f, access in rules.items() if access == "hidden"}


def _expected(conn, org: Org, username: str, role: str, entity: str, table: sa.Table,
              masters: dict[str, set[int]] | None = None) -> set[int]:
    """The ids `username` may read: by owner, share or granting user field; a detail's by its master."""
    if masters is not None:
        return _expected_details(conn, role, entity, table, masters)
    me = org.users[username]
    scope = _scope(role, entity)
    mine = org.user_department[me]
    allowed = {"all": lambda owner: True,
               "none": lambda owner: False,
               "own": lambda owner: owner == me,
               "department": lambda owner: owner == me or (owner is not None and mine is not None
                                                           and org.user_department[owner] == mine),
               "department_and_below": lambda owner: owner == me or (
                   owner is not None and org.user_department[owner] in _subtree(org, mine))}[scope]
    rows = conn.execute(sa.select(table.c.id, table.c.owner_id).where(table.c.deleted_at.is_(None))).all()
    shared = set(conn.execute(sa.select(fw_share.c.record_id).where(fw_share.c.entity == entity,
                                                                    fw_share.c.user_id == me)).scalars())
    named = set()
    for f in _granting_fields(entity):
        named |= set(conn.execute(sa.select(table.c.id).where(table.c.deleted_at.is_(None),
                                                              table.c[f] == me)).scalars())
    return {i for i, owner in rows if allowed(owner) or i in shared} | named


def _expected_details(conn, role: str, entity: str, table: sa.Table, masters: dict[str, set[int]]) -> set[int]:
    if _scope(role, entity) == "none":
        return set()
    rows = conn.execute(sa.select(table).where(table.c.deleted_at.is_(None))).mappings().all()
    return {row["id"] for row in rows if all(row[f] in readable for f, readable in masters.items())}


def _granting_fields(entity: str) -> list[str]:
    return [f.name for f in CRM.entities[entity].fields if f.option("grants")]


def _master_fields(entity: str) -> dict[str, str]:
    """field -> master entity of the entity's master_detail fields, as the metadata declares them."""
    return {f.name: f.option("target") for f in CRM.entities[entity].fields if f.type == "master_detail"}


def _expected_everywhere(conn, org: Org, username: str, role: str, registry) -> dict[str, set[int]]:
    """entity -> readable ids, masters before their details."""
    expected: dict[str, set[int]] = {}
    pending = list(registry.entities)
    while pending:
        name = next(n for n in pending if all(m in expected for m in _master_fields(n).values()))
        pending.remove(name)
        links = _master_fields(name)
        masters = {f: expected[m] for f, m in links.items()} if links else None
        expected[name] = _expected(conn, org, username, role, name, registry.table(name), masters)
    return expected


def _subtree(org: Org, department_id: int | None) -> set[int]:
    name = next((n for n, i in org.departments.items() if i == department_id), None)
    return org.subtree(name) if name else set()


@pytest.mark.parametrize("role", sorted(ROLE_USERS))
def test_every_read_path_returns_exactly_the_records_in_the_roles_scope(runtime, crm_world, role):
    username = ROLE_USERS[role]
    registry = runtime.registry()
    with runtime.engine.connect() as conn:
        actor = actor_by_name(conn, username)
        expected = _expected_everywhere(conn, crm_world, username, role, registry)
        every = {name: set(conn.execute(sa.select(registry.table(name).c.id)).scalars())
                 for name in registry.entities}
    query = runtime.query(actor)
    for name, entity in registry.entities.items():
        hidden = _hidden(role, name)
        rows = query.list(name, limit=MAX_PAGE).rows
        assert {r["id"] for r in rows} == expected[name], f"{role} list {name}"
        assert not any(hidden & set(r) for r in rows), f"{role} sees hidden fields of {name}"
        assert query.count(name) == len(expected[name]), f"{role} count {name}"
        assert set(query.titles(name, sorted(every[name]))) == expected[name], f"{role} titles {name}"
        for record_id in sorted(every[name]):
            if record_id in expected[name]:
                assert not hidden & set(query.get(name, record_id)), f"{role} get {name} {record_id}"
            else:
                with pytest.raises(NotFound):
                    query.get(name, record_id)
        _check_search(query, entity, rows, every[name] - expected[name], expected[name], registry)
        _check_related(query, registry, name, expected, every)


def _check_search(query, entity, rows, unseen: set[int], expected: set[int], registry) -> None:
    table = registry.table(entity.name)
    title = entity.title
    if title not in table.c or not unseen:
        return
    with query.engine.connect() as conn:
        texts = conn.execute(sa.select(table.c.id, table.c[title]).where(table.c.id.in_(unseen))).all()
    for record_id, text in texts[:3]:
        if not isinstance(text, str) or not text:
            continue
        found = {r["id"] for r in query.list(entity.name, search=text, limit=MAX_PAGE).rows}
        assert record_id not in found and found <= expected, f"search {entity.name} {text!r}"
        assert query.count(entity.name, search=text) == len(found)


def _check_related(query, registry, parent_name: str, expected: dict, every: dict) -> None:
    for child, via in registry.children_of(parent_name):
        for parent_id in sorted(every[parent_name])[:4]:
            if parent_id not in expected[parent_name]:
                with pytest.raises(NotFound):
                    query.related(parent_name, parent_id, child.name, via)
                continue
            ids = {r["id"] for r in query.related(parent_name, parent_id, child.name, via, limit=MAX_PAGE).rows}
            assert ids <= expected[child.name], f"related {parent_name} {parent_id} -> {child.name}.{via}"


def test_hidden_field_cannot_be_searched_filtered_or_sorted(runtime, crm_world):
    registry = runtime.registry()
    with runtime.engine.connect() as conn:
        actor = actor_by_name(conn, "svc")   # service agents read every account, credit codes hidden
        code = conn.execute(sa.select(registry.table("account").c.credit_code)
                            .where(registry.table("account").c.credit_code.is_not(None))).scalars().first()
    query = runtime.query(actor)
    assert query.list("account", search=code).rows == []
    with pytest.raises(ValidationError):
        query.list("account", filters=[Condition("credit_code", "eq", code)])
    with pytest.raises(ValidationError):
        query.list("account", sort=[SortKey("credit_code")])


def test_user_without_roles_reads_only_what_is_shared_with_them(runtime, crm_world):
    with runtime.engine.connect() as conn:
        actor = actor_by_name(conn, "nobody")
        shared = set(conn.execute(sa.select(fw_share.c.record_id).where(
            fw_share.c.entity == "account", fw_share.c.user_id == crm_world.users["nobody"])).scalars())
    assert {r["id"] for r in runtime.query(actor).list("account").rows} == shared
    assert runtime.query(actor).count("opportunity") == len(shared)


# -- merging roles ------------------------------------------------------------------------------
def _rules(grants: dict[str, EntityGrant], limits: dict[str, dict[str, str]] | None = None) -> RoleRules:
    return RoleRules(grants, limits or {})


def test_union_of_roles_takes_the_widest_scope_per_action():
    merged = merge_roles([_rules({"lead": EntityGrant("own", "own", "own", "none")}),
                          _rules({"lead": EntityGrant("none", "all", "department", "none")})], [])
    assert [merged.scope("lead", a) for a in ("create", "read", "update", "delete")] == [
        "own", "all", "department", "none"]


def test_field_hidden_by_one_role_is_visible_when_another_reading_role_shows_it():
    merged = merge_roles([_rules({"contract": EntityGrant(read="own")}, {"contract": {"payment_terms": "hidden"}}),
                          _rules({"contract": EntityGrant(read="all")})], [])
    assert merged.hidden_fields("contract") == frozenset()


def test_role_without_access_to_an_entity_does_not_reveal_its_hidden_fields():
    merged = merge_roles([_rules({"contract": EntityGrant(read="own")}, {"contract": {"payment_terms": "hidden"}}),
                          _rules({"lead": EntityGrant(read="all")})], [])
    assert merged.hidden_fields("contract") == {"payment_terms"}


def test_wildcard_grant_applies_to_entities_a_role_does_not_name():
    merged = merge_roles([_rules({ANY_ENTITY: EntityGrant(read="all"), "task": EntityGrant("own", "own", "own", "own")})],
                         [])
    assert merged.scope("ticket", "read") == "all"
    assert merged.scope("task", "read") == "own"


def test_installed_roles_are_loaded_from_the_permission_tables(runtime):
    install_app(runtime, CRM)
    with runtime.engine.connect() as conn:
        rep = load_permissions(conn, ["sales_rep"])
        both = load_permissions(conn, ["sales_rep", "finance"])
    assert rep.scope("opportunity", "read") == "own"
    assert rep.scope("payment", "create") == "none"
    assert rep.hidden_fields("contract") == {"payment_terms"}
    assert both.scope("payment", "create") == "all"
    assert both.hidden_fields("contract") == frozenset()
    assert "export" in both.rights


# -- details follow their master ---------------------------------------------------------------------
@pytest.fixture
def org(runtime):
    install_app(runtime, CRM)
    with write_transaction(runtime.engine) as conn:
        return build_org(conn)


def _actor(runtime, username: str):
    with runtime.engine.connect() as conn:
        return actor_by_name(conn, username)


def test_rep_reads_a_colleagues_line_on_their_own_quote(runtime, org):
    quote = quote_of(runtime.records(), org.users["rep_n1"])
    line = line_of(runtime.records(), quote, org.users["rep_n2"])
    query = runtime.query(_actor(runtime, "rep_n1"))
    assert query.get("quote_line", line)["id"] == line
    assert [r["id"] for r in query.related("quote", quote, "quote_line", "quote").rows] == [line]
    assert [r["id"] for r in query.list("quote_line", search="Seat").rows] == [line]
    assert query.titles("quote_line", [line]) == {line: "Seat"}


def test_rep_cannot_read_their_own_line_on_a_quote_they_cannot_read(runtime, org):
    quote = quote_of(runtime.records(), org.users["rep_n2"])
    line = line_of(runtime.records(), quote, org.users["rep_n1"])
    query = runtime.query(_actor(runtime, "rep_n1"))
    with pytest.raises(NotFound):
        query.get("quote_line", line)
    assert query.list("quote_line").rows == []
    with pytest.raises(NotFound):
        query.history("quote_line", line)


def test_rep_edits_and_deletes_a_colleagues_line_on_their_own_quote(runtime, org):
    quote = quote_of(runtime.records(), org.users["rep_n1"])
    line = line_of(runtime.records(), quote, org.users["rep_n2"])
    records = runtime.records(_actor(runtime, "rep_n1"))
    assert records.update("quote_line", line, {"quantity": "3"})["quantity"] == 3
    records.delete("quote_line", line)
    assert runtime.query().get("quote_line", line, deleted=True)["deleted_at"] is not None


def test_rep_adds_a_line_to_their_own_quote_but_not_to_one_shared_for_reading(runtime, org):
    own = quote_of(runtime.records(), org.users["rep_n1"])
    colleagues = quote_of(runtime.records(), org.users["rep_n2"])
    with write_transaction(runtime.engine) as conn:
        share_record(conn, runtime.registry(conn), _actor(runtime, "rep_n2"), "quote", colleagues,
                     org.users["rep_n1"], "read")
    rep = runtime.records(_actor(runtime, "rep_n1"))
    assert line_of(rep, own, org.users["rep_n1"])
    with pytest.raises(PermissionDenied, match="you may not create this “Quote line”: you may not edit its “Quote”"):
        line_of(rep, colleagues, org.users["rep_n1"])


def test_line_of_a_quote_shared_for_reading_is_readable_but_not_editable(runtime, org):
    quote = quote_of(runtime.records(), org.users["rep_n2"])
    line = line_of(runtime.records(), quote, org.users["rep_n1"])
    with write_transaction(runtime.engine) as conn:
        share_record(conn, runtime.registry(conn), _actor(runtime, "rep_n2"), "quote", quote,
                     org.users["rep_n1"], "read")
    rep = _actor(runtime, "rep_n1")
    assert runtime.query(rep).get("quote_line", line)["id"] == line
    with pytest.raises(PermissionDenied):
        runtime.records(rep).update("quote_line", line, {"quantity": "2"})
    with pytest.raises(PermissionDenied):
        runtime.records(rep).delete("quote_line", line)


def test_line_of_a_quote_shared_for_editing_can_be_edited(runtime, org):
    quote = quote_of(runtime.records(), org.users["rep_n2"])
    line = line_of(runtime.records(), quote, org.users["rep_n2"])
    with write_transaction(runtime.engine) as conn:
        share_record(conn, runtime.registry(conn), _actor(runtime, "rep_n2"), "quote", quote,
                     org.users["rep_n1"], "edit")
    assert runtime.records(_actor(runtime, "rep_n1")).update("quote_line", line, {"quantity": "2"})["quantity"] == 2


def test_moving_a_line_needs_edit_access_to_the_quote_it_leaves(runtime, org):
    theirs = quote_of(runtime.records(), org.users["rep_n2"])
    own = quote_of(runtime.records(), org.users["rep_n1"])
    line = line_of(runtime.records(), theirs, org.users["rep_n1"])
    with write_transaction(runtime.engine) as conn:
        share_record(conn, runtime.registry(conn), _actor(runtime, "rep_n2"), "quote", theirs,
                     org.users["rep_n1"], "read")
    with pytest.raises(PermissionDenied):
        runtime.records(_actor(runtime, "rep_n1")).update("quote_line", line, {"quote": own})
    assert runtime.query().get("quote_line", line)["quote"] == theirs


# -- access for the people a record names ------------------------------------------------------------
def test_assignee_reads_and_edits_the_task_their_manager_assigned_to_them(runtime, org):
    task = task_for(runtime.records(), org.users["mgr_n"], org.users["rep_n1"])
    task_for(runtime.records(), org.users["mgr_n"], org.users["rep_n2"])   # a colleague's stays out of sight
    rep = _actor(runtime, "rep_n1")
    assert [r["id"] for r in runtime.query(rep).list("task").rows] == [task]
    assert runtime.records(rep).update("task", task, {"subject": "Called"})["subject"] == "Called"


def test_assignee_cannot_delete_the_task_assigned_to_them(runtime, org):
    task = task_for(runtime.records(), org.users["mgr_n"], org.users["rep_n1"])
    with pytest.raises(PermissionDenied, match="you may not delete this “Task”"):
        runtime.records(_actor(runtime, "rep_n1")).delete("task", task)


def test_assignee_cannot_give_the_task_to_a_user_outside_their_scope(runtime, org):
    task = task_for(runtime.records(), org.users["mgr_n"], org.users["rep_n1"])
    with pytest.raises(PermissionDenied, match="outside your scope"):
        runtime.records(_actor(runtime, "rep_n1")).update("task", task, {"owner_id": org.users["rep_e1"]})


def test_a_field_granting_read_opens_the_record_for_reading_only(runtime, org):
    registry = runtime.registry()
    task = task_for(runtime.records(), org.users["mgr_n"], org.users["rep_n1"])
    entity = registry.entity("task")
    reading = dataclasses.replace(entity, fields=tuple(
        dataclasses.replace(f, options={**f.options, "grants": "read"}) if f.name == "assignee" else f
        for f in entity.fields))
    rep = _actor(runtime, "rep_n1")
    record = runtime.query(rep).get("task", task)
    with pytest.raises(PermissionDenied):
        check_write(rep, reading, "update", record, {"subject": "x"}, registry=registry)
    check_write(rep, entity, "update", record, {"subject": "x"}, registry=registry)
