"""A user manager can neither take over an administrator nor widen anyone's access, its own included."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.errors import PermissionDenied
from engine.security.actors import SYSTEM
from engine.security.permissions import load_permissions, set_field_access, set_grant, set_rights
from engine.security.users import (
    actor_by_name,
    create_user,
    deactivate_user,
    reactivate_user,
    set_password,
    set_roles,
    update_user,
)
from engine.storage.db import fw_role, fw_user, fw_user_role, utcnow, write_transaction
from metamodel.model import EntityGrant

NEW_PASSWORD = "a-brand-new-password-7"

# role -> (entity -> grant, entity -> field -> access, rights)
ROLES = {
    "user_manager": ({"contract": EntityGrant("own", "department", "own", "none"),
                      "account": EntityGrant("none", "all", "own", "none")},
                     {"account": {"annual_revenue": "hidden", "phone": "read_only"}}, ["users"]),
    "rep": ({"contract": EntityGrant("own", "own", "own", "none"), "account": EntityGrant("own", "own", "own", "own")},
            {"account": {"annual_revenue": "hidden", "phone": "read_only", "website": "hidden"}}, []),
    "auditor": ({"contract": EntityGrant("none", "all", "none", "none")}, {}, []),
    "reader": ({"contract": EntityGrant("none", "own", "none", "none"), "account": EntityGrant("none", "all", "none", "none")},
               {"account": {"annual_revenue": "hidden"}}, []),
    "analyst": ({"account": EntityGrant("none", "all", "none", "none")}, {}, []),
}
# username -> (is_admin, roles)
PEOPLE = {"admin": (True, ()), "admin2": (True, ()), "hr": (False, ("user_manager",)), "bob": (False, ("rep",)),
          "cleo": (False, ("reader",))}


@pytest.fixture
def conn(runtime):
    """A transaction on a database holding ROLES and PEOPLE (written directly: no password hashing)."""
    with write_transaction(runtime.engine) as connection:
        for name, (grants, limits, rights) in ROLES.items():
            connection.execute(sa.insert(fw_role).values(name=name, app=None, label={"en": name}))
            for entity, grant in grants.items():
                set_grant(connection, SYSTEM, name, entity, grant)
            for entity, fields in limits.items():
                for field, access in fields.items():
                    set_field_access(connection, SYSTEM, name, entity, field, access)
            set_rights(connection, SYSTEM, name, rights)
        for username, (is_admin, roles) in PEOPLE.items():
            uid = connection.execute(sa.insert(fw_user).values(
                username=username, display_name=username, email=f"{username}@example.com",
                password_hash=f"hash-of-{username}", is_admin=is_admin, active=True, locale="en",
                timezone="UTC", failed_logins=0, created_at=utcnow())).inserted_primary_key[0]
            for role in roles:
                connection.execute(sa.insert(fw_user_role).values(user_id=uid, role=role))
        yield connection


def stored(conn, username: str):
    return conn.execute(sa.select(fw_user).where(fw_user.c.username == username)).one()


def roles_of(conn, username: str) -> list[str]:
    return sorted(conn.execute(sa.select(fw_user_role.c.role).join(fw_user, fw_user.c.id == fw_user_role.c.user_id)
                               .where(fw_user.c.username == username)).scalars())


def hr(conn):
    return actor_by_name(conn, "hr")


# -- administrators --------------------------------------------------------------------------------
def test_user_manager_cannot_reset_an_administrators_password(conn):
    with pytest.raises(PermissionDenied, match="cannot reset the password of admin: only an administrator"):
        set_password(conn, "admin", NEW_PASSWORD, actor=hr(conn))
    assert stored(conn, "admin").password_hash == "hash-of-admin"


def test_user_manager_still_resets_the_password_of_someone_within_their_own_grants(conn):
    set_password(conn, "cleo", NEW_PASSWORD, actor=hr(conn))
    assert stored(conn, "cleo").password_hash != "hash-of-cleo"


def test_user_manager_cannot_reset_the_password_of_someone_whose_roles_reach_further(conn):
    with pytest.raises(PermissionDenied, match=r"cannot reset the password of bob: their role rep grants what "
                                               r"you do not hold \(create on account with scope own"):
        set_password(conn, "bob", NEW_PASSWORD, actor=hr(conn))
    assert stored(conn, "bob").password_hash == "hash-of-bob"


def test_user_manager_cannot_deactivate_an_administrator(conn):
    with pytest.raises(PermissionDenied, match="cannot deactivate admin2: only an administrator"):
        deactivate_user(conn, "admin2", actor=hr(conn))
    assert stored(conn, "admin2").active


def test_user_manager_cannot_reactivate_an_administrator(conn):
    deactivate_user(conn, "admin2", actor=SYSTEM)
    with pytest.raises(PermissionDenied, match="cannot reactivate admin2"):
        reactivate_user(conn, "admin2", actor=hr(conn))
    assert not stored(conn, "admin2").active


def test_user_manager_cannot_change_an_administrators_email(conn):
    with pytest.raises(PermissionDenied, match="cannot change email of admin2: only an administrator"):
        update_user(conn, "admin2", email="mallory@example.com", actor=hr(conn))
    assert stored(conn, "admin2").email == "admin2@example.com"


def test_user_manager_cannot_change_an_administrators_roles(conn):
    with pytest.raises(PermissionDenied, match="cannot change the roles of admin2"):
        set_roles(conn, "admin2", ["reader"], actor=hr(conn))
    assert roles_of(conn, "admin2") == []


def test_user_manager_cannot_make_someone_an_administrator(conn):
    with pytest.raises(PermissionDenied, match="cannot change is_admin of bob: only an administrator"):
        update_user(conn, "bob", is_admin=True, actor=hr(conn))
    assert not stored(conn, "bob").is_admin


def test_user_manager_cannot_create_an_administrator(conn):
    with pytest.raises(PermissionDenied, match="cannot make eve an administrator"):
        create_user(conn, "eve", is_admin=True, actor=hr(conn))


def test_last_active_administrator_cannot_be_deactivated_even_by_an_administrator(conn):
    deactivate_user(conn, "admin2", actor=SYSTEM)
    with pytest.raises(PermissionDenied, match="cannot deactivate admin: they are the last active administrator"):
        deactivate_user(conn, "admin", actor=SYSTEM)
    assert stored(conn, "admin").active


def test_last_active_administrator_cannot_be_demoted_even_by_an_administrator(conn):
    update_user(conn, "admin2", is_admin=False, actor=actor_by_name(conn, "admin"))
    with pytest.raises(PermissionDenied, match="remove administrator from admin: they are the last active"):
        update_user(conn, "admin", is_admin=False, actor=SYSTEM)
    assert stored(conn, "admin").is_admin


# -- scopes ----------------------------------------------------------------------------------------
def test_granting_a_wider_scope_than_held_is_refused_naming_action_entity_and_scopes(conn):
    with pytest.raises(PermissionDenied, match="cannot grant read on contract with scope all: you hold department"):
        set_grant(conn, hr(conn), "rep", "contract", EntityGrant("own", "all", "own", "none"))
    assert load_permissions(conn, ["rep"]).scope("contract", "read") == "own"


@pytest.mark.parametrize("scope", ["department", "own", "none"])
def test_granting_an_equal_or_narrower_scope_than_held_is_allowed(conn, scope):
    set_grant(conn, hr(conn), "rep", "contract", EntityGrant("own", scope, "own", "none"))
    assert load_permissions(conn, ["rep"]).scope("contract", "read") == scope


def test_a_scope_the_role_already_had_is_kept_when_another_action_changes(conn):
    set_grant(conn, hr(conn), "auditor", "contract", EntityGrant("own", "all", "none", "none"))
    assert load_permissions(conn, ["auditor"]).scope("contract", "create") == "own"


def test_changing_the_grants_of_a_role_one_holds_is_refused(conn):
    with pytest.raises(PermissionDenied, match="cannot change role user_manager: you hold it yourself"):
        set_grant(conn, hr(conn), "user_manager", "contract", EntityGrant("own", "own", "own", "none"))
    assert load_permissions(conn, ["user_manager"]).scope("contract", "read") == "department"


# -- field access ----------------------------------------------------------------------------------
def test_unhiding_a_field_hidden_for_the_granter_is_refused(conn):
    with pytest.raises(PermissionDenied, match="cannot make account.annual_revenue visible: it is hidden from you"):
        set_field_access(conn, hr(conn), "rep", "account", "annual_revenue", "read_only")
    assert "annual_revenue" in load_permissions(conn, ["rep"]).hidden_fields("account")


def test_making_writable_a_field_read_only_for_the_granter_is_refused(conn):
    with pytest.raises(PermissionDenied, match="cannot make account.phone writable: it is read-only for you"):
        set_field_access(conn, hr(conn), "rep", "account", "phone", None)
    assert "phone" in load_permissions(conn, ["rep"]).locked_fields("account")


def test_unhiding_a_field_of_an_entity_the_granter_cannot_read_is_refused(conn):
    set_field_access(conn, SYSTEM, "rep", "lead", "phone", "hidden")
    with pytest.raises(PermissionDenied, match="cannot make lead.phone visible: you cannot read lead"):
        set_field_access(conn, hr(conn), "rep", "lead", "phone", None)


def test_unhiding_a_field_the_granter_sees_and_writes_is_allowed(conn):
    set_field_access(conn, hr(conn), "rep", "account", "website", None)
    assert "website" not in load_permissions(conn, ["rep"]).locked_fields("account")


# -- role membership -------------------------------------------------------------------------------
def test_assigning_a_role_with_a_wider_scope_is_refused(conn):
    with pytest.raises(PermissionDenied, match=r"cannot assign role auditor: it grants what you do not hold "
                                               r"\(read on contract with scope all, you hold department\)"):
        set_roles(conn, "bob", ["auditor", "rep"], actor=hr(conn))
    assert roles_of(conn, "bob") == ["rep"]


def test_assigning_a_role_that_shows_a_field_hidden_from_the_granter_is_refused(conn):
    with pytest.raises(PermissionDenied, match="account.annual_revenue visible, it is hidden from you"):
        set_roles(conn, "bob", ["analyst", "rep"], actor=hr(conn))


def test_assigning_a_role_within_the_granters_own_grants_is_allowed(conn):
    set_roles(conn, "bob", ["reader", "rep"], actor=hr(conn))
    assert roles_of(conn, "bob") == ["reader", "rep"]


def test_creating_a_user_with_a_role_wider_than_held_is_refused(conn):
    with pytest.raises(PermissionDenied, match="cannot assign role auditor"):
        create_user(conn, "carol", roles=["auditor"], actor=hr(conn))


def test_changing_ones_own_roles_is_refused(conn):
    with pytest.raises(PermissionDenied, match="cannot change your own roles"):
        set_roles(conn, "hr", ["reader", "user_manager"], actor=hr(conn))
    assert roles_of(conn, "hr") == ["user_manager"]


def test_saving_ones_own_unchanged_roles_is_not_a_change(conn):
    set_roles(conn, "hr", ["user_manager"], actor=hr(conn))
    assert roles_of(conn, "hr") == ["user_manager"]
