"""Users and departments: password policy, roles, audit of changes, the department tree, demo org."""
from __future__ import annotations

import pytest

from engine.security import audit, org
from engine.security.users import (
    UserError,
    actor_by_name,
    create_user,
    list_users,
    password_problems,
    set_roles,
)
from engine.storage.db import write_transaction


@pytest.mark.parametrize(("password", "problem"), [
    ("short1", "at least 10"), ("alice-smith", "username"), ("12345678901", "only digits"),
    ("aaaaaaaaaaaa", "one character repeated"), ("!!!!!!!!!!!!", "one character repeated"),
    ("password123", "commonly used"), ("QwertyUiop", "commonly used"), ("1q2w3e4r5t", "commonly used")])
def test_password_policy_names_the_problem(password, problem):
    assert any(problem in p for p in password_problems(password, "alice-smith"))


def test_password_policy_accepts_a_long_mixed_password():
    assert password_problems("plum tree in spring", "alice") == []


def test_generated_passwords_pass_the_policy():
    from engine.security.users import generate_password

    assert all(password_problems(generate_password(), "alice") == [] for _ in range(200))


def test_setting_a_common_password_is_refused(runtime):
    from engine.security.users import set_password

    with write_transaction(runtime.engine) as conn:
        create_user(conn, "alice", password="plum tree in spring")
    with write_transaction(runtime.engine) as conn, pytest.raises(UserError, match="commonly used"):
        set_password(conn, "alice", "manchester")


def test_creating_a_user_with_a_weak_password_is_refused(runtime):
    with write_transaction(runtime.engine) as conn, pytest.raises(UserError, match="at least 10"):
        create_user(conn, "alice", password="secret")


def test_unknown_role_is_refused_before_the_user_is_written(runtime):
    with write_transaction(runtime.engine) as conn:
        with pytest.raises(UserError, match="no role 'wizard'"):
            create_user(conn, "alice", roles=["wizard"])
        assert list_users(conn) == []


def test_user_creation_and_role_changes_are_audited(runtime, install):
    install()
    with write_transaction(runtime.engine) as conn:
        create_user(conn, "alice")
        set_roles(conn, "alice", [])
        actions = [r.entry.action for r in audit.search(conn, entity="fw_user")]
    assert actions == ["user_change", "user_create"]


def test_subtree_holds_a_department_and_everything_below_it(runtime):
    with write_transaction(runtime.engine) as conn:
        top = org.create_department(conn, "Sales")
        north = org.create_department(conn, "North", parent="Sales")
        city = org.create_department(conn, "Beijing", parent="North")
        org.create_department(conn, "Finance")
        assert org.subtree(conn, top) == {top, north, city}
        assert org.subtree(conn, north) == {north, city}


def test_moving_a_department_under_its_own_child_is_refused(runtime):
    with write_transaction(runtime.engine) as conn:
        org.create_department(conn, "Sales")
        org.create_department(conn, "North", parent="Sales")
        with pytest.raises(org.OrgError, match="below"):
            org.set_parent(conn, "Sales", "North")


def test_department_list_shows_paths_heads_and_members(runtime):
    with write_transaction(runtime.engine) as conn:
        org.create_department(conn, "Sales")
        north = org.create_department(conn, "North", parent="Sales")
        head = create_user(conn, "nina", department_id=north).id
        org.set_head(conn, "North", head)
        listed = [(d.path, d.head, d.members) for d in org.list_departments(conn)]
    assert listed == [("Sales", None, 0), ("Sales / North", "nina", 1)]


def test_actor_knows_its_department_subtree_and_its_members(runtime):
    with write_transaction(runtime.engine) as conn:
        sales = org.create_department(conn, "Sales")
        north = org.create_department(conn, "North", parent="Sales")
        boss = create_user(conn, "boss", department_id=sales).id
        rep = create_user(conn, "rep", department_id=north).id
        actor = actor_by_name(conn, "boss")
    assert (actor.department_ids, actor.subtree_ids) == ({sales}, {sales, north})
    assert (actor.department_members, actor.subtree_members) == ({boss}, {boss, rep})


def test_renaming_a_department_to_a_taken_name_is_refused(runtime):
    with write_transaction(runtime.engine) as conn:
        org.create_department(conn, "Sales")
        org.create_department(conn, "Finance")
        with pytest.raises(org.OrgError, match="already exists"):
            org.rename_department(conn, "Sales", "Finance")
        org.rename_department(conn, "Sales", "Sales & Marketing")
        assert [d.path for d in org.list_departments(conn)][-1].endswith("Sales & Marketing")


def test_deleting_a_department_with_members_is_refused(runtime):
    with write_transaction(runtime.engine) as conn:
        dept = org.create_department(conn, "Sales")
        org.create_department(conn, "Empty")
        create_user(conn, "alice", department_id=dept)
        with pytest.raises(org.OrgError, match="1 member"):
            org.delete_department(conn, "Sales")
        org.delete_department(conn, "Empty")
        assert [d.path for d in org.list_departments(conn)] == ["Sales"]


def test_reactivated_user_can_act_again(runtime):
    from engine.security.users import deactivate_user, reactivate_user

    with write_transaction(runtime.engine) as conn:
        create_user(conn, "alice")
        deactivate_user(conn, "alice")
        assert actor_by_name(conn, "alice") is None
        reactivate_user(conn, "alice")
        assert actor_by_name(conn, "alice").username == "alice"


def test_user_manager_cannot_hand_out_rights_they_lack(runtime):
    from engine_apps import CRM_FOLDER

    from engine.apps import install_app
    from engine.errors import PermissionDenied
    from engine.security.actors import SYSTEM
    from engine.security.permissions import set_rights

    install_app(runtime, CRM_FOLDER)
    with write_transaction(runtime.engine) as conn:
        create_user(conn, "it_helper", roles=["sales_manager"])
        set_rights(conn, SYSTEM, "sales_manager", ["users"])
        helper = actor_by_name(conn, "it_helper")
        with pytest.raises(PermissionDenied, match="rights you do not hold: metadata"):
            set_rights(conn, helper, "sales_rep", ["metadata"])
        with pytest.raises(PermissionDenied, match="do not hold"):
            create_user(conn, "mallory", roles=["admin"], actor=helper)
        with pytest.raises(PermissionDenied, match="only an administrator"):
            create_user(conn, "eve", is_admin=True, actor=helper)
