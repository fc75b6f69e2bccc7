"""Role permissions in app.json: scopes per entity, field limits, admin rights, checked and round-tripped."""
from __future__ import annotations

import copy

import metamodel
from metamodel.model import EntityGrant

DOCUMENTS = {
    "app.json": {"name": "mini", "version": "1.0.0", "label": "Mini", "roles": [
        {"name": "rep", "label": "Rep",
         "permissions": {"account": "own", "*": {"read": "all"}, "lead": {"create": "own", "read": "department"}},
         "field_access": {"account": {"revenue": "hidden"}},
         "rights": ["export"]}]},
    "entities/account.json": {"name": "account", "label": "Account", "plural_label": "Accounts", "fields": [
        {"name": "name", "type": "text", "label": "Name"}, {"name": "revenue", "type": "currency", "label": "Revenue"}]},
    "entities/lead.json": {"name": "lead", "label": "Lead", "plural_label": "Leads", "fields": [
        {"name": "name", "type": "text", "label": "Name"}]},
}


def with_role(**changes):
    documents = copy.deepcopy(DOCUMENTS)
    documents["app.json"]["roles"][0].update(changes)
    return documents


def issues(documents) -> list[str]:
    return [str(i) for i in metamodel.validate_documents(documents).issues]


def test_scope_string_grants_every_action_and_missing_actions_are_none():
    role = metamodel.app_from_documents(DOCUMENTS).roles[0]
    assert role.permissions["account"] == EntityGrant("own", "own", "own", "own")
    assert role.permissions["lead"] == EntityGrant(create="own", read="department")
    assert role.field_access["account"]["revenue"] == "hidden" and role.rights == ("export",)


def test_role_permissions_round_trip_exactly():
    assert metamodel.app_to_documents(metamodel.app_from_documents(DOCUMENTS))["app.json"] == DOCUMENTS["app.json"]


def test_unknown_scope_is_reported_at_its_path():
    found = issues(with_role(permissions={"account": "mine"}))
    assert len(found) == 1 and found[0].startswith("app.json /roles/0/permissions/account")


def test_permission_on_an_unknown_entity_is_reported_with_a_suggestion():
    assert issues(with_role(permissions={"acount": "own"})) == [
        "app.json /roles/0/permissions/acount: there is no entity 'acount'; did you mean 'account'?"]


def test_field_limit_on_an_unknown_field_is_reported_with_a_suggestion():
    assert issues(with_role(field_access={"account": {"revenu": "hidden"}})) == [
        "app.json /roles/0/field_access/account/revenu: entity 'account' has no field 'revenu'; "
        "did you mean 'revenue'?"]


def test_unknown_right_is_reported():
    assert any("/roles/0/rights/0" in text for text in issues(with_role(rights=["everything"])))
